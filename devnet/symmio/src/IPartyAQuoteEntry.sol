// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Storage.sol";

/// ABI of the two PartyA entry points served by PartyAFacet's fallback (see PartyAFacet).
interface IPartyAQuoteEntry {
    function sendQuote(
        address[] memory partyBsWhiteList, uint256 symbolId, PositionType positionType, OrderType orderType,
        uint256 price, uint256 quantity, uint256 cva, uint256 lf, uint256 partyAmm, uint256 partyBmm,
        uint256 maxFundingRate, uint256 deadline, SingleUpnlAndPriceSig memory upnlSig
    ) external returns (uint256);

    function sendQuoteWithAffiliate(
        address[] memory partyBsWhiteList, uint256 symbolId, PositionType positionType, OrderType orderType,
        uint256 price, uint256 quantity, uint256 cva, uint256 lf, uint256 partyAmm, uint256 partyBmm,
        uint256 maxFundingRate, uint256 deadline, address affiliate, SingleUpnlAndPriceSig memory upnlSig
    ) external returns (uint256);
}
