// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./LibCore.sol";
import "./LibGuard.sol";
import "./LibMuon.sol";

/// chargeFundingRate with protocol-core 0.8.4's rules: PartyB charges each of its open quotes
/// with a PartyA once per funding epoch, only inside the window around an epoch boundary, with
/// |rate| <= the quote's maxFundingRate; the rate moves openedPrice; both parties must stay
/// solvent; both nonces are bumped.
contract FundingRateFacet is Events {
    function chargeFundingRate(
        address partyA, uint256[] memory quoteIds, int256[] memory rates, PairUpnlSig memory upnlSig
    ) external {
        LibGuard.partyBActions();
        LibGuard.notLiquidatedPartyA(partyA);
        S.Layout storage s = S.l();
        LibMuon.verifyPairUpnl(upnlSig, msg.sender, partyA);
        require(quoteIds.length == rates.length && quoteIds.length > 0, "ChargeFundingFacet: Length not match");
        int256 availableB = LibCore.partyBAvailableBalanceForLiquidation(upnlSig.upnlPartyB, msg.sender, partyA);
        int256 availableA =
            LibCore.partyAAvailableBalanceForLiquidation(upnlSig.upnlPartyA, s.allocatedBalances[partyA], partyA);
        for (uint256 i = 0; i < quoteIds.length; i++) {
            int256 paidByA = _charge(s.quotes[quoteIds[i]], partyA, rates[i]);
            availableA -= paidByA;
            availableB += paidByA;
        }
        require(availableA >= 0, "ChargeFundingFacet: PartyA will be insolvent");
        require(availableB >= 0, "ChargeFundingFacet: PartyB will be insolvent");
        s.partyBNonces[msg.sender][partyA] += 1;
        s.partyANonces[partyA] += 1;
        emit ChargeFundingRate(msg.sender, partyA, quoteIds, rates);
    }

    /// Applies one rate; returns what PartyA pays (negative: what it receives) on the open amount.
    function _charge(Quote storage q, address partyA, int256 rate) internal returns (int256) {
        require(q.partyA == partyA, "ChargeFundingFacet: Invalid quote");
        require(q.partyB == msg.sender, "ChargeFundingFacet: Sender isn't partyB of quote");
        QuoteStatus st = q.quoteStatus;
        require(
            st == QuoteStatus.OPENED || st == QuoteStatus.CLOSE_PENDING || st == QuoteStatus.CANCEL_CLOSE_PENDING,
            "ChargeFundingFacet: Invalid state"
        );
        q.lastFundingPaymentTimestamp = _fundingEpoch(S.l().symbols[q.symbolId], q.lastFundingPaymentTimestamp);
        uint256 magnitude = rate >= 0 ? uint256(rate) : uint256(-rate);
        require(magnitude <= q.maxFundingRate, "ChargeFundingFacet: High funding rate");
        uint256 priceDiff = (q.openedPrice * magnitude) / 1e18;
        // a positive rate: PartyA pays, LONG (its openedPrice rises) or SHORT (its openedPrice falls)
        bool up = (rate >= 0) == (q.positionType == PositionType.LONG);
        q.openedPrice = up ? q.openedPrice + priceDiff : q.openedPrice - priceDiff;
        int256 value = int256((LibCore.openAmount(q) * priceDiff) / 1e18);
        return rate >= 0 ? value : -value;
    }

    /// The epoch boundary this payment is for: the latest one while within `window` after it,
    /// else the next one while within `window` before it; each boundary is paid once.
    function _fundingEpoch(Symbol storage sym, uint256 lastPaid) internal view returns (uint256) {
        uint256 epoch = sym.fundingRateEpochDuration;
        require(epoch > 0, "ChargeFundingFacet: Zero funding epoch duration");
        uint256 window = sym.fundingRateWindowTime;
        uint256 latest = (block.timestamp / epoch) * epoch;
        if (block.timestamp <= latest + window) {
            require(latest > lastPaid, "ChargeFundingFacet: Funding already paid for this window");
            return latest;
        }
        uint256 next = latest + epoch;
        require(block.timestamp >= next - window, "ChargeFundingFacet: Current timestamp is out of window");
        require(next > lastPaid, "ChargeFundingFacet: Funding already paid for this window");
        return next;
    }
}
