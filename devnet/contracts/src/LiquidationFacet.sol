// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./LibCore.sol";
import "./LibMuon.sol";
import "./LibGuard.sol";
import "./LibPartyBLiquidation.sol";

/// PartyA liquidation with SYMMIO's events and status transitions; settlement maths simplified:
/// each liquidated position's PartyA locked cva+lf goes to its PartyB, the rest of PartyA's
/// allocation is forfeited to the PartyBs pro rata of nothing (amounts reported are the moves made).
/// PartyB liquidation (liquidatePartyB → liquidatePositionsPartyB) follows protocol-core 0.8.4's
/// rules and accounting.
contract LiquidationFacet is Events {
    modifier liquidator() {
        LibGuard.liquidation();
        S.requireRole(S.LIQUIDATOR_ROLE);
        _;
    }

    function liquidatePartyA(address partyA, LiquidationSig memory liquidationSig) external liquidator {
        S.Layout storage s = S.l();
        require(!s.liquidationStatus[partyA], "LiquidationFacet: PartyA is already liquidated");
        LibMuon.verifyLiquidationSig(liquidationSig, partyA);
        require(
            block.timestamp <= liquidationSig.timestamp + s.liquidationTimeout,
            "LiquidationFacet: Expired signature"
        );
        LockedValues memory lk = s.lockedBalances[partyA];
        int256 available = int256(s.allocatedBalances[partyA]) + liquidationSig.upnl - int256(lk.cva + lk.lf);
        require(available < 0, "LiquidationFacet: PartyA is solvent");
        s.liquidationStatus[partyA] = true;
        s.liquidationIds[partyA] = liquidationSig.liquidationId;
        s.liquidationUpnl[partyA] = liquidationSig.upnl;
        emit LiquidatePartyA(
            msg.sender, partyA, s.allocatedBalances[partyA], liquidationSig.upnl,
            liquidationSig.totalUnrealizedLoss, liquidationSig.liquidationId
        );
        emit LiquidatePartyA(
            msg.sender, partyA, s.allocatedBalances[partyA], liquidationSig.upnl, liquidationSig.totalUnrealizedLoss
        );
    }

    function liquidatePendingPositionsPartyA(address partyA) external liquidator {
        S.Layout storage s = S.l();
        require(s.liquidationStatus[partyA], "LiquidationFacet: PartyA is solvent");
        uint256[] storage pending = s.partyAPendingQuotes[partyA];
        uint256 n = pending.length;
        uint256[] memory ids = new uint256[](n);
        uint256[] memory amounts = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            Quote storage q = s.quotes[pending[i]];
            ids[i] = q.id;
            amounts[i] = q.quantity;
            if (q.partyB != address(0)) {
                LibCore.sub(s.partyBPendingLockedBalances[q.partyB][partyA], q.lockedValues);
                LibCore.removeId(s.partyBPendingQuotes[q.partyB][partyA], q.id);
            }
            q.quoteStatus = QuoteStatus.LIQUIDATED_PENDING;
            q.statusModifyTimestamp = block.timestamp;
        }
        delete s.partyAPendingQuotes[partyA];
        delete s.pendingLockedBalances[partyA];
        emit LiquidatePendingPositionsPartyA(msg.sender, partyA, ids, amounts, s.liquidationIds[partyA]);
        emit LiquidatePendingPositionsPartyA(msg.sender, partyA);
    }

    function liquidatePositionsPartyA(address partyA, uint256[] memory quoteIds) external liquidator {
        S.Layout storage s = S.l();
        require(s.liquidationStatus[partyA], "LiquidationFacet: PartyA is solvent");
        uint256[] memory amounts = new uint256[](quoteIds.length);
        uint256[] memory closeIds = new uint256[](quoteIds.length);
        for (uint256 i = 0; i < quoteIds.length; i++) {
            Quote storage q = s.quotes[quoteIds[i]];
            require(q.partyA == partyA, "LiquidationFacet: Invalid party");
            require(
                q.quoteStatus == QuoteStatus.OPENED || q.quoteStatus == QuoteStatus.CLOSE_PENDING
                    || q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING,
                "LiquidationFacet: Invalid state"
            );
            amounts[i] = q.quantity - q.closedAmount;
            closeIds[i] = s.closeIds[q.id];
            LibCore.sub(s.lockedBalances[partyA], q.lockedValues);
            LibCore.sub(s.partyBLockedBalances[q.partyB][partyA], q.lockedValues);
            uint256 toB = q.lockedValues.cva + q.lockedValues.lf;
            if (toB > s.allocatedBalances[partyA]) toB = s.allocatedBalances[partyA];
            s.allocatedBalances[partyA] -= toB;
            if (s.liquidationPartyBAmount[partyA][q.partyB] == 0) s.liquidationPartyBs[partyA].push(q.partyB);
            s.liquidationPartyBAmount[partyA][q.partyB] += int256(toB) + 1; // +1 marks "seen"
            q.quoteStatus = QuoteStatus.LIQUIDATED;
            q.statusModifyTimestamp = block.timestamp;
            q.quantityToClose = 0;
            LibCore.removePosition(q);
            s.partyBNonces[q.partyB][partyA] += 1;
        }
        s.partyANonces[partyA] += 1;
        emit LiquidatePositionsPartyA(msg.sender, partyA, quoteIds, amounts, closeIds, s.liquidationIds[partyA]);
        emit LiquidatePositionsPartyA(msg.sender, partyA, quoteIds);
    }

    function settlePartyALiquidation(address partyA, address[] memory partyBs) external liquidator {
        S.Layout storage s = S.l();
        require(s.liquidationStatus[partyA], "LiquidationFacet: PartyA is solvent");
        require(s.partyAOpenPositions[partyA].length == 0, "LiquidationFacet: PartyA has still open positions");
        int256[] memory amounts = new int256[](partyBs.length);
        for (uint256 i = 0; i < partyBs.length; i++) {
            int256 marked = s.liquidationPartyBAmount[partyA][partyBs[i]];
            require(marked > 0, "LiquidationFacet: Invalid party");
            amounts[i] = marked - 1;
            s.partyBAllocatedBalances[partyBs[i]][partyA] += uint256(amounts[i]);
            s.liquidationPartyBAmount[partyA][partyBs[i]] = 0;
            emit BalanceChangePartyB(partyBs[i], partyA, uint256(amounts[i]), BalanceChangeType.REALIZED_PNL_IN);
        }
        bytes memory lid = s.liquidationIds[partyA];
        emit SettlePartyALiquidation(partyA, partyBs, amounts, lid);
        emit SettlePartyALiquidation(partyA, partyBs, amounts);
        bool done = true;
        address[] storage lbs = s.liquidationPartyBs[partyA];
        for (uint256 i = 0; i < lbs.length; i++) {
            if (s.liquidationPartyBAmount[partyA][lbs[i]] != 0) done = false;
        }
        if (done) {
            delete s.liquidationPartyBs[partyA];
            s.allocatedBalances[partyA] = 0;
            s.liquidationStatus[partyA] = false;
            emit FullyLiquidatedPartyA(partyA, lid);
            emit FullyLiquidatedPartyA(partyA);
        }
    }

    /// PartyB insolvent against `partyA` at the signed upnl: see LibPartyBLiquidation.liquidate.
    /// The event carries PartyB's allocation before the liquidation (emitted first, as in 0.8.4).
    function liquidatePartyB(address partyB, address partyA, SingleUpnlSig memory upnlSig) external {
        LibGuard.liquidation();
        LibGuard.notLiquidatedPartyB(partyB, partyA);
        LibGuard.notLiquidatedPartyA(partyA);
        S.requireRole(S.LIQUIDATOR_ROLE);
        S.Layout storage s = S.l();
        emit LiquidatePartyB(msg.sender, partyB, partyA, s.partyBAllocatedBalances[partyB][partyA], upnlSig.upnl);
        LibMuon.verifyPartyBUpnl(upnlSig, partyB, partyA);
        LibPartyBLiquidation.liquidate(partyB, partyA, upnlSig.upnl, upnlSig.timestamp);
    }

    /// Closes a liquidated PartyB's open positions with `partyA` at the signed quote prices
    /// (LIQUIDATED). The price signature must be taken after the liquidation and within
    /// `liquidationTimeout` of it. When no position is left PartyB's liquidation ends.
    function liquidatePositionsPartyB(address partyB, address partyA, QuotePriceSig memory priceSig)
        external
        liquidator
    {
        S.Layout storage s = S.l();
        LibMuon.verifyQuotePrices(priceSig);
        uint256 liquidatedAt = s.partyBLiquidationTimestamp[partyB][partyA];
        require(priceSig.timestamp <= liquidatedAt + s.liquidationTimeout, "LiquidationFacet: Invalid signature");
        require(s.partyBLiquidationStatus[partyB][partyA], "LiquidationFacet: PartyB is solvent");
        require(liquidatedAt <= priceSig.timestamp, "LiquidationFacet: Expired signature");
        uint256 n = priceSig.quoteIds.length;
        uint256[] memory amounts = new uint256[](n);
        uint256[] memory closeIds = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            (amounts[i], closeIds[i]) = _liquidatePositionB(priceSig.quoteIds[i], priceSig.prices[i], partyB, partyA);
        }
        uint256 share = s.partyBPositionLiquidatorsShare[partyB][partyA];
        if (share > 0) {
            uint256 lf = share * n;
            s.allocatedBalances[msg.sender] += lf;
            emit BalanceChangePartyA(msg.sender, lf, BalanceChangeType.LF_IN);
        }
        bool done = s.partyBOpenPositions[partyB][partyA].length == 0;
        if (done) {
            s.partyBLiquidationStatus[partyB][partyA] = false;
            s.partyBLiquidationTimestamp[partyB][partyA] = 0;
            s.partyBNonces[partyB][partyA] += 1;
        }
        emit LiquidatePositionsPartyB(msg.sender, partyB, partyA, priceSig.quoteIds, amounts, closeIds);
        emit LiquidatePositionsPartyB(msg.sender, partyB, partyA, priceSig.quoteIds);
        if (done) emit FullyLiquidatedPartyB(partyB, partyA);
    }

    function _liquidatePositionB(uint256 quoteId, uint256 price, address partyB, address partyA)
        internal
        returns (uint256 amount, uint256 closeId)
    {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        QuoteStatus st = q.quoteStatus;
        require(
            st == QuoteStatus.OPENED || st == QuoteStatus.CLOSE_PENDING || st == QuoteStatus.CANCEL_CLOSE_PENDING,
            "LiquidationFacet: Invalid state"
        );
        require(q.partyA == partyA && q.partyB == partyB, "LiquidationFacet: Invalid party");
        amount = q.quantity - q.closedAmount;
        closeId = s.closeIds[quoteId];
        q.quoteStatus = QuoteStatus.LIQUIDATED;
        q.statusModifyTimestamp = block.timestamp;
        LibCore.sub(s.lockedBalances[partyA], q.lockedValues);
        q.avgClosedPrice = (q.avgClosedPrice * q.closedAmount + amount * price) / q.quantity;
        q.closedAmount = q.quantity;
        LibCore.removePosition(q);
    }
}
