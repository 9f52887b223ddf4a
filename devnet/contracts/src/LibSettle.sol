// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LibCore.sol";

/// settleUpnl's accounting (protocol-core 0.8.4 LibSettlement rules): realise part of the uPnL
/// of open quotes by moving their openedPrice toward the signed current price, paying each
/// PartyB's share against its allocation for PartyA and the total against PartyA's allocation.
library LibSettle {
    event BalanceChangePartyA(address indexed partyA, uint256 amount, BalanceChangeType _type);
    event BalanceChangePartyB(address indexed partyB, address indexed partyA, uint256 amount, BalanceChangeType _type);

    struct Work {
        int256[] amounts; // PartyA's gain per PartyB index
        address[] partyBs;
    }

    function settle(SettlementSig memory sig, uint256[] memory updatedPrices, address partyA, bool isForceClose)
        internal
        returns (uint256[] memory newPartyBsAllocatedBalances)
    {
        S.Layout storage s = S.l();
        uint256 n = sig.quotesSettlementsData.length;
        require(n > 0 && n == updatedPrices.length, "LibSettlement: Invalid length");
        require(
            LibCore.partyAAvailableBalanceForLiquidation(sig.upnlPartyA, s.allocatedBalances[partyA], partyA) >= 0,
            "LibSettlement: PartyA is insolvent"
        );
        require(
            isForceClose || s.partyBOpenPositions[msg.sender][partyA].length > 0,
            "LibSettlement: Sender should have a position with partyA"
        );
        s.partyANonces[partyA] += 1;
        uint256 m = sig.upnlPartyBs.length;
        Work memory w = Work(new int256[](m), new address[](m));
        for (uint256 i = 0; i < n; i++) {
            _settleQuote(sig.quotesSettlementsData[i], updatedPrices[i], partyA, m, w);
        }
        newPartyBsAllocatedBalances = new uint256[](m);
        int256 total;
        for (uint256 i = 0; i < m; i++) {
            total += _payPartyB(w.partyBs[i], partyA, sig.upnlPartyBs[i], w.amounts[i], isForceClose);
            newPartyBsAllocatedBalances[i] = s.partyBAllocatedBalances[w.partyBs[i]][partyA];
        }
        if (total >= 0) {
            s.allocatedBalances[partyA] += uint256(total);
            emit BalanceChangePartyA(partyA, uint256(total), BalanceChangeType.REALIZED_PNL_IN);
        } else {
            s.allocatedBalances[partyA] -= uint256(-total);
            emit BalanceChangePartyA(partyA, uint256(-total), BalanceChangeType.REALIZED_PNL_OUT);
        }
    }

    function _settleQuote(
        QuoteSettlementData memory d, uint256 price, address partyA, uint256 m, Work memory w
    ) private {
        Quote storage q = S.l().quotes[d.quoteId];
        require(q.partyA == partyA, "LibSettlement: PartyA is invalid");
        QuoteStatus st = q.quoteStatus;
        require(
            st == QuoteStatus.OPENED || st == QuoteStatus.CLOSE_PENDING || st == QuoteStatus.CANCEL_CLOSE_PENDING,
            "LibSettlement: Invalid state"
        );
        // as in 0.8.4 the bound is inclusive: index == length then fails on the array access
        require(d.partyBUpnlIndex <= m, "LibSettlement: Invalid partyBUpnlIndex in signature");
        uint256 idx = d.partyBUpnlIndex;
        require(
            w.partyBs[idx] == address(0) || w.partyBs[idx] == q.partyB, "LibSettlement: Invalid upnlPartyBs list"
        );
        w.partyBs[idx] = q.partyB;
        uint256 opened = q.openedPrice;
        if (opened > d.currentPrice) {
            require(price < opened && price >= d.currentPrice, "LibSettlement: Updated price is out of range");
        } else {
            require(price > opened && price <= d.currentPrice, "LibSettlement: Updated price is out of range");
        }
        int256 gain = ((int256(price) - int256(opened)) * int256(LibCore.openAmount(q))) / 1e18;
        w.amounts[idx] += q.positionType == PositionType.LONG ? gain : -gain;
        q.openedPrice = price;
    }

    function _payPartyB(address partyB, address partyA, int256 upnl, int256 amount, bool isForceClose)
        private
        returns (int256)
    {
        S.Layout storage s = S.l();
        require(
            LibCore.partyBAvailableBalanceForLiquidation(upnl, partyB, partyA) >= 0,
            "LibSettlement: PartyB should be solvent"
        );
        require(!s.partyBLiquidationStatus[partyB][partyA], "LibSettlement: PartyB is in liquidation process");
        if (!isForceClose && msg.sender != partyB) {
            require(
                block.timestamp >= s.lastUpnlSettlementTimestamp[msg.sender][partyB][partyA] + s.settlementCooldown,
                "LibSettlement: Cooldown should be passed"
            );
            s.lastUpnlSettlementTimestamp[msg.sender][partyB][partyA] = block.timestamp;
        }
        s.partyBNonces[partyB][partyA] += 1;
        if (amount >= 0) {
            s.partyBAllocatedBalances[partyB][partyA] -= uint256(amount);
            emit BalanceChangePartyB(partyB, partyA, uint256(amount), BalanceChangeType.REALIZED_PNL_OUT);
        } else {
            s.partyBAllocatedBalances[partyB][partyA] += uint256(-amount);
            emit BalanceChangePartyB(partyB, partyA, uint256(-amount), BalanceChangeType.REALIZED_PNL_IN);
        }
        return amount;
    }
}
