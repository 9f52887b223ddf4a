// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./LibGuard.sol";
import "./LibMuon.sol";
import "./LibSettle.sol";

/// settleUpnl (protocol-core 0.8.4 SettlementFacet): a PartyB with a position with PartyA
/// realises part of the uPnL of PartyA's quotes (its own or, after `settlementCooldown`, other
/// PartyBs'), so a later close finds the paying side's allocation sufficient.
contract SettlementFacet is Events {
    function settleUpnl(SettlementSig memory settlementSig, uint256[] memory updatedPrices, address partyA)
        external
    {
        LibGuard.partyBActions();
        LibGuard.onlyPartyB();
        LibGuard.notLiquidatedPartyA(partyA);
        LibMuon.verifySettlement(settlementSig, partyA);
        uint256[] memory balances = LibSettle.settle(settlementSig, updatedPrices, partyA, false);
        emit SettleUpnl(
            settlementSig.quotesSettlementsData, updatedPrices, partyA, S.l().allocatedBalances[partyA], balances
        );
    }
}
