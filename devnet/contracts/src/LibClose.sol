// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LibCore.sol";

/// Realising a (partial) close, and the solvency of both parties after it (protocol-core 0.8.4's
/// LibQuote.closeQuote and LibSolvency semantics, written from its rules).
library LibClose {
    event BalanceChangePartyA(address indexed partyA, uint256 amount, BalanceChangeType _type);
    event BalanceChangePartyB(address indexed partyB, address indexed partyA, uint256 amount, BalanceChangeType _type);

    /// Closes `filledAmount` of the open quantity at `closedPrice`: releases the pro-rata locked
    /// values, moves the realised PnL between PartyA's allocation and PartyB's allocation for that
    /// PartyA (the paying side must hold it), updates the close bookkeeping and the status.
    function closeQuote(Quote storage q, uint256 filledAmount, uint256 closedPrice) internal {
        S.Layout storage s = S.l();
        uint256 open = LibCore.openAmount(q);
        LockedValues memory lv = q.lockedValues;
        require(lv.cva == 0 || (lv.cva * filledAmount) / open > 0, "LibQuote: Low filled amount");
        require(lv.partyAmm == 0 || (lv.partyAmm * filledAmount) / open > 0, "LibQuote: Low filled amount");
        require(lv.partyBmm == 0 || (lv.partyBmm * filledAmount) / open > 0, "LibQuote: Low filled amount");
        require((lv.lf * filledAmount) / open > 0, "LibQuote: Low filled amount");
        LockedValues memory released = LibCore.scaled(lv, filledAmount, open);
        LibCore.sub(s.lockedBalances[q.partyA], released);
        LibCore.sub(s.partyBLockedBalances[q.partyB][q.partyA], released);
        LibCore.sub(q.lockedValues, released);
        if (open == q.quantityToClose) {
            uint256 rest = LibCore.totalA(q.lockedValues);
            require(
                rest == 0 || rest >= s.symbols[q.symbolId].minAcceptableQuoteValue,
                "LibQuote: Remaining quote value is low"
            );
        }
        _realise(q, filledAmount, closedPrice);
        q.avgClosedPrice = (q.avgClosedPrice * q.closedAmount + filledAmount * closedPrice) / (q.closedAmount + filledAmount);
        q.closedAmount += filledAmount;
        q.quantityToClose -= filledAmount;
        if (q.closedAmount == q.quantity) {
            q.statusModifyTimestamp = block.timestamp;
            q.quoteStatus = QuoteStatus.CLOSED;
            q.requestedClosePrice = 0;
            LibCore.removePosition(q);
        } else if (q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING || q.quantityToClose == 0) {
            q.quoteStatus = QuoteStatus.OPENED;
            q.statusModifyTimestamp = block.timestamp;
            q.requestedClosePrice = 0;
            q.quantityToClose = 0;
        }
    }

    /// PartyA's result of closing `amount` at `price`: (profit?, |pnl|).
    function valueForPartyA(Quote storage q, uint256 price, uint256 amount) internal view returns (bool, uint256) {
        bool isLong = q.positionType == PositionType.LONG;
        if (price > q.openedPrice) return (isLong, ((price - q.openedPrice) * amount) / 1e18);
        return (!isLong, ((q.openedPrice - price) * amount) / 1e18);
    }

    function _realise(Quote storage q, uint256 amount, uint256 price) private {
        S.Layout storage s = S.l();
        (bool aProfit, uint256 pnl) = valueForPartyA(q, price, amount);
        if (aProfit) {
            require(
                s.partyBAllocatedBalances[q.partyB][q.partyA] >= pnl,
                "LibQuote: PartyA should first exit its positions that are incurring losses"
            );
            s.allocatedBalances[q.partyA] += pnl;
            emit BalanceChangePartyA(q.partyA, pnl, BalanceChangeType.REALIZED_PNL_IN);
            s.partyBAllocatedBalances[q.partyB][q.partyA] -= pnl;
            emit BalanceChangePartyB(q.partyB, q.partyA, pnl, BalanceChangeType.REALIZED_PNL_OUT);
        } else {
            require(
                s.allocatedBalances[q.partyA] >= pnl,
                "LibQuote: PartyA should first exit its positions that are currently in profit."
            );
            s.allocatedBalances[q.partyA] -= pnl;
            emit BalanceChangePartyA(q.partyA, pnl, BalanceChangeType.REALIZED_PNL_OUT);
            s.partyBAllocatedBalances[q.partyB][q.partyA] += pnl;
            emit BalanceChangePartyB(q.partyB, q.partyA, pnl, BalanceChangeType.REALIZED_PNL_IN);
        }
    }

    /// Both parties' liquidation-available balance after closing `filled` at `closedPrice` while
    /// the market is at `marketPrice` (upnls signed at that price): the released cva + lf come
    /// back to both, and the gap between close and market price moves from one side to the other.
    function availableAfterClose(
        Quote storage q, uint256 filled, uint256 closedPrice, uint256 marketPrice, int256 upnlB, int256 upnlA
    ) internal view returns (int256 b, int256 a) {
        b = LibCore.partyBAvailableBalanceForLiquidation(upnlB, q.partyB, q.partyA);
        a = LibCore.partyAAvailableBalanceForLiquidation(upnlA, S.l().allocatedBalances[q.partyA], q.partyA);
        int256 unlocked = int256((filled * (q.lockedValues.cva + q.lockedValues.lf)) / LibCore.openAmount(q));
        b += unlocked;
        a += unlocked;
        // A gains when a LONG closes above the market or a SHORT below it
        bool above = closedPrice >= marketPrice;
        uint256 gap = above ? closedPrice - marketPrice : marketPrice - closedPrice;
        int256 diff = int256((filled * gap) / 1e18);
        bool aGains = q.positionType == PositionType.LONG ? above : !above;
        if (aGains) {
            b -= diff;
            a += diff;
        } else {
            b += diff;
            a -= diff;
        }
    }

    function requireSolventAfterClose(
        Quote storage q, uint256 filled, uint256 closedPrice, uint256 marketPrice, int256 upnlB, int256 upnlA
    ) internal view {
        (int256 b, int256 a) = availableAfterClose(q, filled, closedPrice, marketPrice, upnlB, upnlA);
        require(b >= 0 && a >= 0, "LibSolvency: Available balance is lower than zero");
    }
}
