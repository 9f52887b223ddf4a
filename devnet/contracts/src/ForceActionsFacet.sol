// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./LibClose.sol";
import "./LibGuard.sol";
import "./LibMuon.sol";
import "./LibPartyBLiquidation.sol";
import "./LibSettle.sol";

/// forceClosePosition / settleAndForceClosePosition (protocol-core 0.8.4 ForceActionsFacet): anyone
/// may close a LIMIT close request that PartyB left unfilled although the market traded through
/// the requested price (a Muon high/low window that starts `forceCloseFirstCooldown` after the
/// request and ends `forceCloseSecondCooldown` before now). The close price is the requested
/// price moved by `forceClosePricePenalty` against PartyB, or the window average if that is
/// better for PartyA. If PartyB would be insolvent its reserve vault is drawn; if that is not
/// enough PartyB is liquidated for that PartyA instead.
contract ForceActionsFacet is Events {
    struct Outcome {
        uint256 closePrice;
        bool partyBLiquidated;
        int256 upnlPartyB;
        uint256 partyBAllocatedBalance;
    }

    function forceClosePosition(uint256 quoteId, HighLowPriceSig memory sig) external {
        LibGuard.notLiquidated(quoteId);
        LibGuard.partyAActions();
        Quote storage q = S.l().quotes[quoteId];
        uint256 filledAmount = q.quantityToClose;
        SettlementSig memory none;
        Outcome memory o = _forceClose(quoteId, sig, none, new uint256[](0));
        _emit(q, filledAmount, o);
    }

    function settleAndForceClosePosition(
        uint256 quoteId, HighLowPriceSig memory highLowPriceSig, SettlementSig memory settleSig,
        uint256[] memory updatedPrices
    ) external {
        LibGuard.notLiquidated(quoteId);
        LibGuard.partyAActions();
        Quote storage q = S.l().quotes[quoteId];
        uint256 filledAmount = q.quantityToClose;
        Outcome memory o = _forceClose(quoteId, highLowPriceSig, settleSig, updatedPrices);
        if (!o.partyBLiquidated) {
            uint256[] memory balances = new uint256[](1);
            balances[0] = o.partyBAllocatedBalance;
            emit SettleUpnl(
                settleSig.quotesSettlementsData, updatedPrices, msg.sender, S.l().allocatedBalances[msg.sender],
                balances
            );
        }
        _emit(q, filledAmount, o);
    }

    function _emit(Quote storage q, uint256 filledAmount, Outcome memory o) internal {
        if (o.partyBLiquidated) {
            emit LiquidatePartyB(msg.sender, q.partyB, q.partyA, o.partyBAllocatedBalance, o.upnlPartyB);
        } else {
            uint256 closeId = S.l().closeIds[q.id];
            emit ForceClosePosition(q.id, q.partyA, q.partyB, filledAmount, o.closePrice, q.quoteStatus, closeId);
            emit ForceClosePosition(q.id, q.partyA, q.partyB, filledAmount, o.closePrice, q.quoteStatus);
        }
    }

    /// The force-close price after the request, window and price checks.
    function _closePrice(Quote storage q, HighLowPriceSig memory sig) internal view returns (uint256 price) {
        S.Layout storage s = S.l();
        require(q.quoteStatus == QuoteStatus.CLOSE_PENDING, "PartyAFacet: Invalid state");
        require(sig.endTime + s.forceCloseSecondCooldown <= q.deadline, "PartyBFacet: Close request is expired");
        require(q.orderType == OrderType.LIMIT, "PartyBFacet: Quote's order type should be LIMIT");
        require(sig.startTime >= q.statusModifyTimestamp + s.forceCloseFirstCooldown, "PartyAFacet: Cooldown not reached");
        require(sig.endTime <= block.timestamp - s.forceCloseSecondCooldown, "PartyAFacet: Cooldown not reached");
        require(sig.averagePrice <= sig.highest && sig.averagePrice >= sig.lowest, "PartyAFacet: Invalid average price");
        uint256 requested = q.requestedClosePrice;
        uint256 gap = (requested * s.forceCloseGapRatio[q.symbolId]) / 1e18;
        uint256 penalty = (requested * s.forceClosePricePenalty) / 1e18;
        if (q.positionType == PositionType.LONG) {
            require(sig.highest >= requested + gap, "PartyAFacet: Requested close price not reached");
            price = requested + penalty;
            if (sig.averagePrice > price) price = sig.averagePrice;
        } else {
            require(sig.lowest <= requested - gap, "PartyAFacet: Requested close price not reached");
            price = requested - penalty;
            if (sig.averagePrice < price) price = sig.averagePrice;
        }
        if (price == sig.averagePrice) {
            require(sig.endTime - sig.startTime >= s.forceCloseMinSigPeriod, "PartyAFacet: Invalid signature period");
        }
    }

    function _forceClose(
        uint256 quoteId, HighLowPriceSig memory sig, SettlementSig memory settleSig, uint256[] memory updatedPrices
    ) internal returns (Outcome memory o) {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        o.closePrice = _closePrice(q, sig);
        LibMuon.verifyHighLowPrice(sig, q.partyB, q.partyA, q.symbolId);
        if (updatedPrices.length > 0) LibMuon.verifySettlement(settleSig, q.partyA);
        s.partyANonces[q.partyA] += 1;
        s.partyBNonces[q.partyB][q.partyA] += 1;
        (int256 availableB, int256 availableA) = LibClose.availableAfterClose(
            q, q.quantityToClose, o.closePrice, sig.currentPrice, sig.upnlPartyB, sig.upnlPartyA
        );
        require(availableA >= 0, "PartyAFacet: PartyA will be insolvent");
        uint256 reserve = s.reserveVault[q.partyB];
        if (availableB >= 0 || availableB + int256(reserve) >= 0) {
            if (availableB < 0) _drawReserve(q, uint256(-availableB));
            if (updatedPrices.length > 0) LibSettle.settle(settleSig, updatedPrices, msg.sender, true);
            LibClose.closeQuote(q, q.quantityToClose, o.closePrice);
        } else {
            _drawReserve(q, reserve);
            int256 diff = (int256(q.quantityToClose) * (int256(o.closePrice) - int256(sig.currentPrice))) / 1e18;
            if (q.positionType == PositionType.LONG) diff = -diff;
            o.partyBLiquidated = true;
            o.upnlPartyB = sig.upnlPartyB + diff;
            LibPartyBLiquidation.liquidate(q.partyB, q.partyA, o.upnlPartyB, block.timestamp);
        }
        o.partyBAllocatedBalance = s.partyBAllocatedBalances[q.partyB][q.partyA];
    }

    function _drawReserve(Quote storage q, uint256 amount) internal {
        S.Layout storage s = S.l();
        s.reserveVault[q.partyB] -= amount;
        s.partyBAllocatedBalances[q.partyB][q.partyA] += amount;
        emit BalanceChangePartyB(q.partyB, q.partyA, amount, BalanceChangeType.REALIZED_PNL_IN);
    }
}
