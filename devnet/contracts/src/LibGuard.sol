// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Storage.sol";

/// Pause switches and access checks with protocol-core 0.8.4's revert strings (its Pausable and
/// Accessibility modifiers), as internal functions every facet calls first.
library LibGuard {
    function _notGlobalPaused(S.Layout storage s) private view {
        require(!s.globalPaused, "Pausable: Global paused");
    }

    function partyBActions() internal view {
        S.Layout storage s = S.l();
        _notGlobalPaused(s);
        require(!s.partyBActionsPaused, "Pausable: PartyB actions paused");
    }

    function partyAActions() internal view {
        S.Layout storage s = S.l();
        _notGlobalPaused(s);
        require(!s.partyAActionsPaused, "Pausable: PartyA actions paused");
    }

    function liquidation() internal view {
        S.Layout storage s = S.l();
        _notGlobalPaused(s);
        require(!s.liquidationPaused, "Pausable: Liquidation paused");
    }

    function accounting() internal view {
        S.Layout storage s = S.l();
        _notGlobalPaused(s);
        require(!s.accountingPaused, "Pausable: Accounting paused");
    }

    function onlyPartyB() internal view {
        require(S.l().partyBStatus[msg.sender], "Accessibility: Should be partyB");
    }

    function onlyPartyBOfQuote(uint256 quoteId) internal view {
        require(S.l().quotes[quoteId].partyB == msg.sender, "Accessibility: Should be partyB of quote");
    }

    function notLiquidatedPartyA(address partyA) internal view {
        require(!S.l().liquidationStatus[partyA], "Accessibility: PartyA isn't solvent");
    }

    function notLiquidatedPartyB(address partyB, address partyA) internal view {
        require(!S.l().partyBLiquidationStatus[partyB][partyA], "Accessibility: PartyB isn't solvent");
    }

    function notSuspended(address user) internal view {
        require(!S.l().suspended[user], "Accessibility: Sender is Suspended");
    }

    /// Neither side of the quote is in liquidation and the quote is not finished.
    function notLiquidated(uint256 quoteId) internal view {
        Quote storage q = S.l().quotes[quoteId];
        notLiquidatedPartyA(q.partyA);
        notLiquidatedPartyB(q.partyB, q.partyA);
        QuoteStatus st = q.quoteStatus;
        require(
            st != QuoteStatus.LIQUIDATED && st != QuoteStatus.LIQUIDATED_PENDING && st != QuoteStatus.CLOSED,
            "Accessibility: Invalid state"
        );
    }
}
