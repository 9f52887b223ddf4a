// SPDX-License-Identifier: MIT
// symmio-hedger devnet: our own SYMMIO-0.8.4-compatible contract (interface facts only).
pragma solidity ^0.8.20;

enum PositionType { LONG, SHORT }
enum OrderType { LIMIT, MARKET }
enum QuoteStatus {
    PENDING, LOCKED, CANCEL_PENDING, CANCELED, OPENED, CLOSE_PENDING,
    CANCEL_CLOSE_PENDING, CLOSED, LIQUIDATED, EXPIRED, LIQUIDATED_PENDING
}
enum BalanceChangeType {
    ALLOCATE, DEALLOCATE, PLATFORM_FEE_IN, PLATFORM_FEE_OUT, REALIZED_PNL_IN, REALIZED_PNL_OUT,
    CVA_IN, CVA_OUT, LF_IN, LF_OUT, FUNDING_FEE_IN, FUNDING_FEE_OUT
}

struct LockedValues { uint256 cva; uint256 lf; uint256 partyAmm; uint256 partyBmm; }

struct Quote {
    uint256 id;
    address[] partyBsWhiteList;
    uint256 symbolId;
    PositionType positionType;
    OrderType orderType;
    uint256 openedPrice;
    uint256 initialOpenedPrice;
    uint256 requestedOpenPrice;
    uint256 marketPrice;
    uint256 quantity;
    uint256 closedAmount;
    LockedValues initialLockedValues;
    LockedValues lockedValues;
    uint256 maxFundingRate;
    address partyA;
    address partyB;
    QuoteStatus quoteStatus;
    uint256 avgClosedPrice;
    uint256 requestedClosePrice;
    uint256 quantityToClose;
    uint256 parentId;
    uint256 createTimestamp;
    uint256 statusModifyTimestamp;
    uint256 lastFundingPaymentTimestamp;
    uint256 deadline;
    uint256 tradingFee;
    address affiliate;
}

struct Symbol {
    uint256 symbolId;
    string name;
    bool isValid;
    uint256 minAcceptableQuoteValue;
    uint256 minAcceptablePortionLF;
    uint256 tradingFee;
    uint256 maxLeverage;
    uint256 fundingRateEpochDuration;
    uint256 fundingRateWindowTime;
}

struct SchnorrSign { uint256 signature; address owner; address nonce; }
struct PublicKey { uint256 x; uint8 parity; }
struct SingleUpnlSig { bytes reqId; uint256 timestamp; int256 upnl; bytes gatewaySignature; SchnorrSign sigs; }
struct SingleUpnlAndPriceSig {
    bytes reqId; uint256 timestamp; int256 upnl; uint256 price; bytes gatewaySignature; SchnorrSign sigs;
}
struct PairUpnlSig {
    bytes reqId; uint256 timestamp; int256 upnlPartyA; int256 upnlPartyB; bytes gatewaySignature; SchnorrSign sigs;
}
struct PairUpnlAndPriceSig {
    bytes reqId; uint256 timestamp; int256 upnlPartyA; int256 upnlPartyB; uint256 price;
    bytes gatewaySignature; SchnorrSign sigs;
}
struct QuotePriceSig {
    bytes reqId; uint256 timestamp; uint256[] quoteIds; uint256[] prices; bytes gatewaySignature; SchnorrSign sigs;
}
struct LiquidationSig {
    bytes reqId; uint256 timestamp; bytes liquidationId; int256 upnl; int256 totalUnrealizedLoss;
    uint256[] symbolIds; uint256[] prices; bytes gatewaySignature; SchnorrSign sigs;
}
struct QuoteSettlementData { uint256 quoteId; uint256 currentPrice; uint8 partyBUpnlIndex; }
struct HighLowPriceSig {
    bytes reqId;
    uint256 timestamp;
    uint256 symbolId;
    uint256 highest;
    uint256 lowest;
    uint256 averagePrice;
    uint256 startTime;
    uint256 endTime;
    int256 upnlPartyB;
    int256 upnlPartyA;
    uint256 currentPrice;
    bytes gatewaySignature;
    SchnorrSign sigs;
}
struct SettlementSig {
    bytes reqId;
    uint256 timestamp;
    QuoteSettlementData[] quotesSettlementsData;
    int256[] upnlPartyBs;
    int256 upnlPartyA;
    bytes gatewaySignature;
    SchnorrSign sigs;
}
