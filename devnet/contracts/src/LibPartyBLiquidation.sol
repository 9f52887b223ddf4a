// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LibCore.sol";

/// Liquidating a PartyB against one PartyA (protocol-core 0.8.4 LibLiquidation.liquidatePartyB
/// rules): shared by LiquidationFacet.liquidatePartyB and the force-close path.
library LibPartyBLiquidation {
    event BalanceChangePartyA(address indexed partyA, uint256 amount, BalanceChangeType _type);
    event BalanceChangePartyB(address indexed partyB, address indexed partyA, uint256 amount, BalanceChangeType _type);

    /// Requires PartyB's liquidation-available balance (at `upnlPartyB`) to be negative. What is
    /// left of PartyB's locked lf after covering the deficit pays the liquidator
    /// (`liquidatorShare` of it now, the rest per position in liquidatePositionsPartyB); the rest
    /// of PartyB's allocation goes to PartyA. PartyB's LOCKED / CANCEL_PENDING quotes with PartyA
    /// become LIQUIDATED_PENDING (fee refunded to PartyA); its balances for PartyA are zeroed.
    function liquidate(address partyB, address partyA, int256 upnlPartyB, uint256 timestamp) internal {
        S.Layout storage s = S.l();
        int256 available = LibCore.partyBAvailableBalanceForLiquidation(upnlPartyB, partyB, partyA);
        require(available < 0, "LiquidationFacet: partyB is solvent");
        uint256 lf = s.partyBLockedBalances[partyB][partyA].lf;
        uint256 remainingLf;
        uint256 liquidatorShare;
        if (uint256(-available) < lf) {
            remainingLf = lf - uint256(-available);
            liquidatorShare = (remainingLf * s.liquidatorShare) / 1e18;
            s.partyBPositionLiquidatorsShare[partyB][partyA] =
                (remainingLf - liquidatorShare) / s.partyBOpenPositions[partyB][partyA].length;
        } else {
            s.partyBPositionLiquidatorsShare[partyB][partyA] = 0;
        }
        s.partyBLiquidationStatus[partyB][partyA] = true;
        s.partyBLiquidationTimestamp[partyB][partyA] = timestamp;
        _liquidatePending(partyB, partyA);
        uint256 allocated = s.partyBAllocatedBalances[partyB][partyA];
        uint256 value = allocated - remainingLf;
        s.allocatedBalances[partyA] += value;
        emit BalanceChangePartyA(partyA, value, BalanceChangeType.REALIZED_PNL_IN);
        delete s.partyBPendingQuotes[partyB][partyA];
        emit BalanceChangePartyB(partyB, partyA, allocated, BalanceChangeType.REALIZED_PNL_OUT);
        s.partyBAllocatedBalances[partyB][partyA] = 0;
        delete s.partyBLockedBalances[partyB][partyA];
        delete s.partyBPendingLockedBalances[partyB][partyA];
        s.partyANonces[partyA] += 1;
        if (liquidatorShare > 0) {
            s.allocatedBalances[msg.sender] += liquidatorShare;
            emit BalanceChangePartyA(msg.sender, liquidatorShare, BalanceChangeType.LF_IN);
        }
    }

    function _liquidatePending(address partyB, address partyA) private {
        S.Layout storage s = S.l();
        uint256[] storage pending = s.partyAPendingQuotes[partyA];
        uint256 i = 0;
        while (i < pending.length) {
            Quote storage q = s.quotes[pending[i]];
            if (
                q.partyB == partyB
                    && (q.quoteStatus == QuoteStatus.LOCKED || q.quoteStatus == QuoteStatus.CANCEL_PENDING)
            ) {
                LibCore.sub(s.pendingLockedBalances[partyA], q.lockedValues);
                uint256 fee = LibCore.tradingFeeOf(q, q.quantity);
                s.allocatedBalances[partyA] += fee;
                emit BalanceChangePartyA(partyA, fee, BalanceChangeType.PLATFORM_FEE_IN);
                pending[i] = pending[pending.length - 1];
                pending.pop();
                q.quoteStatus = QuoteStatus.LIQUIDATED_PENDING;
                q.statusModifyTimestamp = block.timestamp;
            } else {
                i++;
            }
        }
    }
}
