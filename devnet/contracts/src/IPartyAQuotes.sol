// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Types.sol";

/// ABI of the two quote-sending calls (implemented by PartyAFacet's fallback).
interface IPartyAQuotes {
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

/// ABI of ViewFacet.partyAStats (implemented by ViewFacet's fallback).
interface IViewExtra {
    function partyAStats(address partyA)
        external
        view
        returns (
            bool, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256,
            uint256, uint256
        );
}
