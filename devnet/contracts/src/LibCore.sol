// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Storage.sol";

/// Accounting and list helpers shared by the facets.
library LibCore {
    event BalanceChangePartyA(address indexed partyA, uint256 amount, BalanceChangeType _type);

    function totalA(LockedValues memory v) internal pure returns (uint256) {
        return v.cva + v.partyAmm + v.lf;
    }

    function totalB(LockedValues memory v) internal pure returns (uint256) {
        return v.cva + v.partyBmm + v.lf;
    }

    function add(LockedValues storage a, LockedValues memory b) internal {
        a.cva += b.cva;
        a.lf += b.lf;
        a.partyAmm += b.partyAmm;
        a.partyBmm += b.partyBmm;
    }

    function sub(LockedValues storage a, LockedValues memory b) internal {
        a.cva -= b.cva;
        a.lf -= b.lf;
        a.partyAmm -= b.partyAmm;
        a.partyBmm -= b.partyBmm;
    }

    function scaled(LockedValues memory v, uint256 num, uint256 den) internal pure returns (LockedValues memory r) {
        r.cva = (v.cva * num) / den;
        r.lf = (v.lf * num) / den;
        r.partyAmm = (v.partyAmm * num) / den;
        r.partyBmm = (v.partyBmm * num) / den;
    }

    function partyAAvailableForQuote(int256 upnl, address partyA) internal view returns (int256) {
        S.Layout storage s = S.l();
        int256 locked = int256(totalA(s.lockedBalances[partyA]) + totalA(s.pendingLockedBalances[partyA]));
        return int256(s.allocatedBalances[partyA]) + upnl - locked;
    }

    function partyBAvailableForQuote(int256 upnl, address partyB, address partyA) internal view returns (int256) {
        S.Layout storage s = S.l();
        LockedValues memory lk = s.partyBLockedBalances[partyB][partyA];
        LockedValues memory pd = s.partyBPendingLockedBalances[partyB][partyA];
        int256 alloc = int256(s.partyBAllocatedBalances[partyB][partyA]);
        if (upnl >= 0) return alloc + upnl - int256(totalB(lk) + totalB(pd));
        uint256 mm = uint256(-upnl) > lk.partyBmm ? uint256(-upnl) : lk.partyBmm;
        return alloc - int256(lk.cva + lk.lf + totalB(pd)) - int256(mm);
    }

    /// allocated − locked (cva + lf) + upnl: below zero the party can be liquidated.
    function partyAAvailableBalanceForLiquidation(int256 upnl, uint256 allocated, address partyA)
        internal
        view
        returns (int256)
    {
        LockedValues storage lk = S.l().lockedBalances[partyA];
        return int256(allocated) - int256(lk.cva + lk.lf) + upnl;
    }

    function partyBAvailableBalanceForLiquidation(int256 upnl, address partyB, address partyA)
        internal
        view
        returns (int256)
    {
        S.Layout storage s = S.l();
        LockedValues storage lk = s.partyBLockedBalances[partyB][partyA];
        return int256(s.partyBAllocatedBalances[partyB][partyA]) - int256(lk.cva + lk.lf) + upnl;
    }

    function openAmount(Quote storage q) internal view returns (uint256) {
        return q.quantity - q.closedAmount;
    }

    function removeId(uint256[] storage arr, uint256 id) internal {
        uint256 n = arr.length;
        for (uint256 i = 0; i < n; i++) {
            if (arr[i] == id) {
                arr[i] = arr[n - 1];
                arr.pop();
                return;
            }
        }
    }

    function addPosition(Quote storage q) internal {
        S.Layout storage s = S.l();
        s.partyAPositionIndex[q.id] = s.partyAOpenPositions[q.partyA].length;
        s.partyAOpenPositions[q.partyA].push(q.id);
        s.partyBPositionIndex[q.id] = s.partyBOpenPositions[q.partyB][q.partyA].length;
        s.partyBOpenPositions[q.partyB][q.partyA].push(q.id);
    }

    function removePosition(Quote storage q) internal {
        S.Layout storage s = S.l();
        _swapPop(s.partyAOpenPositions[q.partyA], s.partyAPositionIndex, q.id);
        _swapPop(s.partyBOpenPositions[q.partyB][q.partyA], s.partyBPositionIndex, q.id);
    }

    function _swapPop(uint256[] storage arr, mapping(uint256 => uint256) storage idx, uint256 id) private {
        uint256 i = idx[id];
        uint256 last = arr[arr.length - 1];
        arr[i] = last;
        idx[last] = i;
        arr.pop();
        delete idx[id];
    }

    function tradingFeeOf(Quote storage q, uint256 quantity) internal view returns (uint256) {
        uint256 price = q.orderType == OrderType.LIMIT ? q.requestedOpenPrice : q.marketPrice;
        return (quantity * price * q.tradingFee) / 1e36;
    }

    /// Releases a PENDING/LOCKED/CANCEL_PENDING quote's reservations (cancel / expire).
    function releasePending(Quote storage q) internal {
        S.Layout storage s = S.l();
        sub(s.pendingLockedBalances[q.partyA], q.lockedValues);
        removeId(s.partyAPendingQuotes[q.partyA], q.id);
        if (q.partyB != address(0)) {
            sub(s.partyBPendingLockedBalances[q.partyB][q.partyA], q.lockedValues);
            removeId(s.partyBPendingQuotes[q.partyB][q.partyA], q.id);
        }
        uint256 fee = tradingFeeOf(q, q.quantity);
        s.allocatedBalances[q.partyA] += fee;
        emit BalanceChangePartyA(q.partyA, fee, BalanceChangeType.PLATFORM_FEE_IN);
    }

    function expireOpen(Quote storage q) internal returns (QuoteStatus) {
        releasePending(q);
        q.quoteStatus = QuoteStatus.EXPIRED;
        q.statusModifyTimestamp = block.timestamp;
        return QuoteStatus.EXPIRED;
    }
}

/// Emits SendQuote for a stored quote (15 fields exceed the legacy codegen's stack, so the log is
/// assembled by hand with the same topic0 and ABI encoding as the declared event).
library LibEmit {
    bytes32 internal constant SEND_QUOTE = keccak256(
        "SendQuote(address,uint256,address[],uint256,uint8,uint8,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
    );

    function sendQuote(Quote storage q) internal {
        bytes memory head1 = abi.encode(q.partyA, q.id, uint256(15 * 32), q.symbolId, q.positionType, q.orderType);
        bytes memory head2 = abi.encode(q.requestedOpenPrice, q.marketPrice, q.quantity, q.lockedValues.cva);
        bytes memory head3 = abi.encode(
            q.lockedValues.lf, q.lockedValues.partyAmm, q.lockedValues.partyBmm, q.tradingFee, q.deadline
        );
        bytes memory wl = abi.encode(q.partyBsWhiteList);
        bytes memory tail = new bytes(wl.length - 32);
        for (uint256 i = 0; i < tail.length; i++) tail[i] = wl[i + 32];
        bytes memory data = bytes.concat(head1, head2, head3, tail);
        bytes32 topic = SEND_QUOTE;
        assembly {
            log1(add(data, 0x20), mload(data), topic)
        }
    }
}
