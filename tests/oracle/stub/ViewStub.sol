// SPDX-License-Identifier: MIT
// Test stub: the SYMMIO 0.8.4 view functions the devnet oracle reads, over settable storage.
// Only for tests/oracle (exercises devnet.oracle.chain.Web3ChainReader against a real EVM).
pragma solidity ^0.8.18;

contract ViewStub {
    struct LockedValues { uint256 cva; uint256 lf; uint256 partyAmm; uint256 partyBmm; }
    struct Quote {
        uint256 id; address[] partyBsWhiteList; uint256 symbolId; uint8 positionType; uint8 orderType;
        uint256 openedPrice; uint256 initialOpenedPrice; uint256 requestedOpenPrice; uint256 marketPrice;
        uint256 quantity; uint256 closedAmount; LockedValues initialLockedValues; LockedValues lockedValues;
        uint256 maxFundingRate; address partyA; address partyB; uint8 quoteStatus; uint256 avgClosedPrice;
        uint256 requestedClosePrice; uint256 quantityToClose; uint256 parentId; uint256 createTimestamp;
        uint256 statusModifyTimestamp; uint256 lastFundingPaymentTimestamp; uint256 deadline;
        uint256 tradingFee; address affiliate;
    }
    struct Symbol {
        uint256 symbolId; string name; bool isValid; uint256 minAcceptableQuoteValue;
        uint256 minAcceptablePortionLF; uint256 tradingFee; uint256 maxLeverage;
        uint256 fundingRateEpochDuration; uint256 fundingRateWindowTime;
    }

    mapping(address => uint256) public nonceOfPartyA;
    mapping(address => mapping(address => uint256)) public nonceOfPartyB;
    mapping(uint256 => Quote) internal quotes;
    mapping(uint256 => Symbol) internal symbols;
    mapping(address => uint256[]) internal aOpen;
    mapping(address => mapping(address => uint256[])) internal bOpen;

    function setNonces(address partyB, address partyA, uint256 nonceB, uint256 nonceA) external {
        nonceOfPartyB[partyB][partyA] = nonceB;
        nonceOfPartyA[partyA] = nonceA;
    }

    function addSymbol(uint256 id, string calldata name) external {
        symbols[id].symbolId = id;
        symbols[id].name = name;
        symbols[id].isValid = true;
    }

    function openQuote(uint256 id, uint256 symbolId, uint8 positionType, uint256 openedPrice, uint256 quantity,
                       uint256 closedAmount, address partyA, address partyB) external {
        Quote storage q = quotes[id];
        q.id = id; q.symbolId = symbolId; q.positionType = positionType; q.openedPrice = openedPrice;
        q.quantity = quantity; q.closedAmount = closedAmount; q.partyA = partyA; q.partyB = partyB;
        q.quoteStatus = 4; // OPENED
        aOpen[partyA].push(id);
        bOpen[partyB][partyA].push(id);
    }

    function getQuote(uint256 id) external view returns (Quote memory) { return quotes[id]; }

    function getSymbol(uint256 id) external view returns (Symbol memory) { return symbols[id]; }

    function _page(uint256[] storage ids, uint256 start, uint256 size) internal view returns (Quote[] memory out) {
        if (ids.length < start + size) size = ids.length - start;
        out = new Quote[](size);
        for (uint256 i = 0; i < size; i++) out[i] = quotes[ids[start + i]];
    }

    function getPartyAOpenPositions(address partyA, uint256 start, uint256 size) external view returns (Quote[] memory) {
        return _page(aOpen[partyA], start, size);
    }

    function getPartyBOpenPositions(address partyB, address partyA, uint256 start, uint256 size)
        external view returns (Quote[] memory) {
        return _page(bOpen[partyB][partyA], start, size);
    }
}
