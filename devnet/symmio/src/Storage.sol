// SPDX-License-Identifier: MIT
// symmio-hedger devnet: our own SYMMIO-compatible (protocol-core 0.8.4 ABI) diamond. Shared storage.
pragma solidity 0.8.28;

enum PositionType { LONG, SHORT }
enum OrderType { LIMIT, MARKET }
enum QuoteStatus {
    PENDING, LOCKED, CANCEL_PENDING, CANCELED, OPENED, CLOSE_PENDING,
    CANCEL_CLOSE_PENDING, CLOSED, LIQUIDATED, EXPIRED, LIQUIDATED_PENDING
}
enum BalanceChangeType {
    ALLOCATE, DEALLOCATE, PLATFORM_FEE_IN, PLATFORM_FEE_OUT, REALIZED_PNL_IN,
    REALIZED_PNL_OUT, CVA_IN, CVA_OUT, LF_IN, LF_OUT, FUNDING_FEE_IN, FUNDING_FEE_OUT
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
struct SingleUpnlAndPriceSig { bytes reqId; uint256 timestamp; int256 upnl; uint256 price; bytes gatewaySignature; SchnorrSign sigs; }
struct PairUpnlAndPriceSig {
    bytes reqId; uint256 timestamp; int256 upnlPartyA; int256 upnlPartyB; uint256 price; bytes gatewaySignature; SchnorrSign sigs;
}

library LibStore {
    bytes32 internal constant SLOT = keccak256("symmio-hedger.devnet.symmio.storage.v1");

    bytes32 internal constant DEFAULT_ADMIN_ROLE = keccak256("DEFAULT_ADMIN_ROLE");
    bytes32 internal constant MUON_SETTER_ROLE = keccak256("MUON_SETTER_ROLE");
    bytes32 internal constant SYMBOL_MANAGER_ROLE = keccak256("SYMBOL_MANAGER_ROLE");
    bytes32 internal constant SETTER_ROLE = keccak256("SETTER_ROLE");
    bytes32 internal constant LIQUIDATOR_ROLE = keccak256("LIQUIDATOR_ROLE");
    bytes32 internal constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 internal constant UNPAUSER_ROLE = keccak256("UNPAUSER_ROLE");
    bytes32 internal constant PARTY_B_MANAGER_ROLE = keccak256("PARTY_B_MANAGER_ROLE");

    struct Layout {
        address owner;
        address collateral;
        address defaultFeeCollector;
        mapping(bytes32 => mapping(address => bool)) roles;
        // muon
        uint256 upnlValidTime;
        uint256 priceValidTime;
        uint256 muonAppId;
        PublicKey muonPublicKey;
        address validGateway;
        // balances (18 decimals)
        mapping(address => uint256) balances;
        mapping(address => uint256) allocatedBalances;
        mapping(address => LockedValues) lockedBalances;
        mapping(address => LockedValues) pendingLockedBalances;
        mapping(address => mapping(address => uint256)) partyBAllocatedBalances;
        mapping(address => mapping(address => LockedValues)) partyBLockedBalances;
        mapping(address => mapping(address => LockedValues)) partyBPendingLockedBalances;
        mapping(address => uint256) withdrawCooldown;
        mapping(address => uint256) partyANonces;
        mapping(address => mapping(address => uint256)) partyBNonces;
        mapping(address => bool) liquidationStatus;
        mapping(address => mapping(address => bool)) partyBLiquidationStatus;
        mapping(address => bool) suspended;
        // quotes
        mapping(uint256 => Quote) quotes;
        uint256 lastId;
        uint256 lastCloseId;
        mapping(uint256 => uint256) closeIds;
        mapping(address => uint256[]) quoteIdsOf;
        mapping(address => uint256[]) partyAPendingQuotes;
        mapping(address => mapping(address => uint256[])) partyBPendingQuotes;
        mapping(address => uint256[]) partyAPositions;
        mapping(address => mapping(address => uint256[])) partyBPositions;
        // symbols
        mapping(uint256 => Symbol) symbols;
        uint256 lastSymbolId;
        // config
        uint256 pendingQuotesValidLength;
        uint256 balanceLimitPerUser;
        uint256 deallocateCooldown;
        uint256 forceCancelCooldown;
        uint256 forceCancelCloseCooldown;
        uint256 forceCloseFirstCooldown;
        uint256 forceCloseSecondCooldown;
        uint256 liquidationTimeout;
        mapping(address => bool) partyBStatus;
        address[] partyBList;
        bool globalPaused;
        bool liquidationPaused;
        bool accountingPaused;
        bool partyAActionsPaused;
        bool partyBActionsPaused;
        bool internalTransferPaused;
        bool emergencyMode;
        mapping(address => bool) partyBEmergencyStatus;
    }

    function layout() internal pure returns (Layout storage l) {
        bytes32 slot = SLOT;
        assembly { l.slot := slot }
    }

    function totalForPartyA(LockedValues memory v) internal pure returns (uint256) { return v.cva + v.partyAmm + v.lf; }
    function totalForPartyB(LockedValues memory v) internal pure returns (uint256) { return v.cva + v.partyBmm + v.lf; }

    function addLV(LockedValues storage a, LockedValues memory b) internal {
        a.cva += b.cva; a.lf += b.lf; a.partyAmm += b.partyAmm; a.partyBmm += b.partyBmm;
    }
    function subLV(LockedValues storage a, LockedValues memory b) internal {
        a.cva -= b.cva; a.lf -= b.lf; a.partyAmm -= b.partyAmm; a.partyBmm -= b.partyBmm;
    }
    function scaled(LockedValues memory v, uint256 num, uint256 den) internal pure returns (LockedValues memory r) {
        r.cva = v.cva * num / den; r.lf = v.lf * num / den; r.partyAmm = v.partyAmm * num / den; r.partyBmm = v.partyBmm * num / den;
    }

    function removeId(uint256[] storage arr, uint256 id) internal {
        uint256 n = arr.length;
        for (uint256 i = 0; i < n; i++) {
            if (arr[i] == id) { arr[i] = arr[n - 1]; arr.pop(); return; }
        }
    }

    function tradingFeeOf(Quote storage q, uint256 amount) internal view returns (uint256) {
        uint256 price = q.orderType == OrderType.LIMIT ? q.requestedOpenPrice : q.marketPrice;
        return amount * price / 1e18 * q.tradingFee / 1e18;
    }

    // partyA available balance with a signed upnl (simplified LibAccount.partyAAvailableForQuote)
    function partyAAvailable(address partyA, int256 upnl) internal view returns (int256) {
        Layout storage l = layout();
        LockedValues memory lk = l.lockedBalances[partyA];
        LockedValues memory pd = l.pendingLockedBalances[partyA];
        int256 alloc = int256(l.allocatedBalances[partyA]);
        if (upnl >= 0) return alloc + upnl - int256(totalForPartyA(lk) + totalForPartyA(pd));
        uint256 mm = lk.partyAmm;
        uint256 loss = uint256(-upnl);
        uint256 considering = mm > loss ? mm : loss;
        return alloc - int256(lk.cva + lk.lf + totalForPartyA(pd)) - int256(considering);
    }

    function partyBAvailable(address partyB, address partyA, int256 upnl) internal view returns (int256) {
        Layout storage l = layout();
        LockedValues memory lk = l.partyBLockedBalances[partyB][partyA];
        LockedValues memory pd = l.partyBPendingLockedBalances[partyB][partyA];
        int256 alloc = int256(l.partyBAllocatedBalances[partyB][partyA]);
        if (upnl >= 0) return alloc + upnl - int256(totalForPartyB(lk) + totalForPartyB(pd));
        uint256 mm = lk.partyBmm;
        uint256 loss = uint256(-upnl);
        uint256 considering = mm > loss ? mm : loss;
        return alloc - int256(lk.cva + lk.lf + totalForPartyB(pd)) - int256(considering);
    }
}
