// SPDX-License-Identifier: MIT
// Test stand-in for the SYMMIO diamond, used by tests/chain until/unless the devnet contract is
// available: the PartyB/PartyA state machine of protocol-core 0.8.4 (same function signatures,
// tuple types, revert strings and nonce bumps) over simplified accounting. Muon signatures are
// decoded with their real ABI types; only their expiry is checked (the devnet contract verifies them).
pragma solidity ^0.8.18;

contract SymmioStub {
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
    struct SchnorrSign { uint256 signature; address owner; address nonce; }
    struct SingleUpnlSig { bytes reqId; uint256 timestamp; int256 upnl; bytes gatewaySignature; SchnorrSign sigs; }
    struct PairUpnlAndPriceSig { bytes reqId; uint256 timestamp; int256 upnlPartyA; int256 upnlPartyB; uint256 price; bytes gatewaySignature; SchnorrSign sigs; }

    event LockQuote(address partyB, uint256 quoteId);

    uint256 public constant UPNL_VALID_TIME = 300;
    uint256 internal lastId;
    mapping(address => uint256) public nonceOfPartyA;
    mapping(address => mapping(address => uint256)) public nonceOfPartyB;
    mapping(address => bool) public isPartyB;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) internal allocatedB;
    mapping(address => mapping(address => uint256)) internal lockedB;
    mapping(uint256 => Quote) internal quotes;
    mapping(uint256 => Symbol) internal symbols;
    mapping(address => uint256[]) internal aOpen;
    mapping(address => mapping(address => uint256[])) internal bOpen;

    function registerPartyB(address partyB, uint256 deposit) external { isPartyB[partyB] = true; balanceOf[partyB] += deposit; }

    function addSymbol(uint256 id, string calldata name) external {
        symbols[id].symbolId = id; symbols[id].name = name; symbols[id].isValid = true;
        symbols[id].maxLeverage = 100e18; symbols[id].tradingFee = 1e16; symbols[id].minAcceptableQuoteValue = 5e18;
    }

    function getNextQuoteId() external view returns (uint256) { return lastId; }
    function getQuote(uint256 id) external view returns (Quote memory) { return quotes[id]; }
    function getSymbol(uint256 id) external view returns (Symbol memory) { return symbols[id]; }

    function balanceInfoOfPartyB(address partyB, address partyA) external view returns (
        uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256) {
        return (allocatedB[partyB][partyA], lockedB[partyB][partyA], 0, 0, 0, 0, 0, 0, 0);
    }

    // ---------------------------------------------------------------- PartyA (simplified)
    function sendQuote(address[] calldata whitelist, uint256 symbolId, uint8 positionType, uint8 orderType,
                       uint256 price, uint256 quantity, uint256 cva, uint256 lf, uint256 deadline) external returns (uint256) {
        uint256 id = ++lastId;
        Quote storage q = quotes[id];
        q.id = id; q.partyBsWhiteList = whitelist; q.symbolId = symbolId; q.positionType = positionType;
        q.orderType = orderType; q.requestedOpenPrice = price; q.marketPrice = price; q.quantity = quantity;
        q.lockedValues = LockedValues(cva, lf, 0, 0); q.initialLockedValues = q.lockedValues;
        q.partyA = msg.sender; q.quoteStatus = 0; q.createTimestamp = block.timestamp;
        q.statusModifyTimestamp = block.timestamp; q.deadline = deadline; q.tradingFee = 1e16;
        return id;
    }

    function requestToCancelQuote(uint256 id) external {
        Quote storage q = quotes[id];
        require(q.partyA == msg.sender, "Accessibility: Should be partyA of quote");
        if (q.quoteStatus == 0) { q.quoteStatus = 3; }
        else { require(q.quoteStatus == 1, "PartyAFacet: Invalid state"); q.quoteStatus = 2; }
        q.statusModifyTimestamp = block.timestamp;
    }

    function requestToClosePosition(uint256 id, uint256 closePrice, uint256 quantityToClose, uint8 orderType, uint256 deadline) external {
        Quote storage q = quotes[id];
        require(q.partyA == msg.sender, "Accessibility: Should be partyA of quote");
        require(q.quoteStatus == 4, "PartyAFacet: Invalid state");
        require(quantityToClose <= q.quantity - q.closedAmount, "PartyAFacet: Invalid quantityToClose");
        q.quoteStatus = 5; q.requestedClosePrice = closePrice; q.quantityToClose = quantityToClose;
        q.orderType = orderType; q.deadline = deadline; q.statusModifyTimestamp = block.timestamp;
    }

    function requestToCancelCloseRequest(uint256 id) external {
        Quote storage q = quotes[id];
        require(q.partyA == msg.sender, "Accessibility: Should be partyA of quote");
        require(q.quoteStatus == 5, "PartyAFacet: Invalid state");
        q.quoteStatus = 6; q.statusModifyTimestamp = block.timestamp;
    }

    // ---------------------------------------------------------------- PartyB
    modifier onlyPartyB() { require(isPartyB[msg.sender], "Accessibility: Should be partyB"); _; }
    modifier onlyPartyBOfQuote(uint256 id) { require(quotes[id].partyB == msg.sender, "Accessibility: Should be partyB of quote"); _; }

    function _fresh(uint256 timestamp) internal view {
        require(block.timestamp <= timestamp + UPNL_VALID_TIME, "LibMuon: Expired signature");
    }

    function allocateForPartyB(uint256 amount, address partyA) external onlyPartyB {
        require(balanceOf[msg.sender] >= amount, "PartyBFacet: Insufficient balance");
        balanceOf[msg.sender] -= amount; allocatedB[msg.sender][partyA] += amount;
    }

    function lockQuote(uint256 id, SingleUpnlSig memory sig) external onlyPartyB {
        Quote storage q = quotes[id];
        require(q.quoteStatus == 0, "PartyBFacet: Invalid state");
        require(block.timestamp <= q.deadline, "PartyBFacet: Quote is expired");
        require(q.partyA != address(0), "PartyBFacet: Invalid state");
        if (q.partyBsWhiteList.length > 0) {
            bool ok = false;
            for (uint256 i = 0; i < q.partyBsWhiteList.length; i++) if (q.partyBsWhiteList[i] == msg.sender) ok = true;
            require(ok, "PartyBFacet: Sender isn't whitelisted");
        }
        _fresh(sig.timestamp);
        uint256 need = q.lockedValues.cva + q.lockedValues.lf + q.lockedValues.partyBmm;
        require(int256(allocatedB[msg.sender][q.partyA] - lockedB[msg.sender][q.partyA]) + sig.upnl >= int256(need),
                "PartyBFacet: insufficient available balance");
        lockedB[msg.sender][q.partyA] += need;
        q.partyB = msg.sender; q.quoteStatus = 1; q.statusModifyTimestamp = block.timestamp;
        emit LockQuote(msg.sender, id);
    }

    function _release(Quote storage q) internal {
        lockedB[q.partyB][q.partyA] -= q.lockedValues.cva + q.lockedValues.lf + q.lockedValues.partyBmm;
    }

    function unlockQuote(uint256 id) external onlyPartyBOfQuote(id) {
        Quote storage q = quotes[id];
        require(q.quoteStatus == 1, "PartyBFacet: Invalid state");
        _release(q);
        if (block.timestamp > q.deadline) { q.quoteStatus = 9; } else { q.quoteStatus = 0; q.partyB = address(0); }
        q.statusModifyTimestamp = block.timestamp;
    }

    function acceptCancelRequest(uint256 id) external onlyPartyBOfQuote(id) {
        Quote storage q = quotes[id];
        require(q.quoteStatus == 2, "PartyBFacet: Invalid state");
        _release(q);
        q.quoteStatus = 3; q.statusModifyTimestamp = block.timestamp;
    }

    function openPosition(uint256 id, uint256 filledAmount, uint256 openedPrice, PairUpnlAndPriceSig memory sig) external onlyPartyBOfQuote(id) {
        Quote storage q = quotes[id];
        require(q.quoteStatus == 1 || q.quoteStatus == 2, "PartyBFacet: Invalid state");
        require(block.timestamp <= q.deadline, "PartyBFacet: Quote is expired");
        _fresh(sig.timestamp);
        if (q.positionType == 0) require(openedPrice <= q.requestedOpenPrice, "PartyBFacet: Opened price isn't valid");
        else require(openedPrice >= q.requestedOpenPrice, "PartyBFacet: Opened price isn't valid");
        if (q.orderType == 1) require(filledAmount == q.quantity, "PartyBFacet: Invalid filledAmount");
        else require(filledAmount > 0 && filledAmount <= q.quantity, "PartyBFacet: Invalid filledAmount");
        q.quantity = filledAmount; q.openedPrice = openedPrice; q.initialOpenedPrice = openedPrice;
        q.quoteStatus = 4; q.statusModifyTimestamp = block.timestamp;
        nonceOfPartyA[q.partyA] += 1; nonceOfPartyB[msg.sender][q.partyA] += 1;
        aOpen[q.partyA].push(id); bOpen[msg.sender][q.partyA].push(id);
    }

    function fillCloseRequest(uint256 id, uint256 filledAmount, uint256 closedPrice, PairUpnlAndPriceSig memory sig) external onlyPartyBOfQuote(id) {
        Quote storage q = quotes[id];
        require(q.quoteStatus == 5 || q.quoteStatus == 6, "PartyBFacet: Invalid state");
        require(block.timestamp <= q.deadline, "PartyBFacet: Quote is expired");
        _fresh(sig.timestamp);
        if (q.positionType == 0) require(closedPrice >= q.requestedClosePrice, "PartyBFacet: Closed price isn't valid");
        else require(closedPrice <= q.requestedClosePrice, "PartyBFacet: Closed price isn't valid");
        if (q.orderType == 1) require(filledAmount == q.quantityToClose, "PartyBFacet: Invalid filledAmount");
        else require(filledAmount <= q.quantityToClose, "PartyBFacet: Invalid filledAmount");
        q.avgClosedPrice = (q.avgClosedPrice * q.closedAmount + filledAmount * closedPrice) / (q.closedAmount + filledAmount);
        q.closedAmount += filledAmount; q.quantityToClose -= filledAmount;
        if (q.closedAmount == q.quantity) { q.quoteStatus = 7; _release(q); }
        else if (q.quoteStatus == 6 || q.quantityToClose == 0) q.quoteStatus = 4;
        q.statusModifyTimestamp = block.timestamp;
        nonceOfPartyA[q.partyA] += 1; nonceOfPartyB[msg.sender][q.partyA] += 1;
    }

    mapping(address => bool) public partyBEmergencyStatus;

    function setPartyBEmergencyStatus(address partyB, bool status) external { partyBEmergencyStatus[partyB] = status; }

    function emergencyClosePosition(uint256 id, PairUpnlAndPriceSig memory sig) external onlyPartyBOfQuote(id) {
        Quote storage q = quotes[id];
        require(partyBEmergencyStatus[msg.sender], "PartyBFacet: Operation not allowed. Either emergency mode must be active, party B must be in emergency status, or the symbol must be delisted");
        require(q.quoteStatus == 4 || q.quoteStatus == 5, "PartyBFacet: Invalid state");
        _fresh(sig.timestamp);
        uint256 filled = q.quantity - q.closedAmount;
        q.avgClosedPrice = (q.avgClosedPrice * q.closedAmount + filled * sig.price) / q.quantity;
        q.closedAmount = q.quantity; q.quantityToClose = 0; q.quoteStatus = 7; _release(q);
        q.statusModifyTimestamp = block.timestamp;
        nonceOfPartyA[q.partyA] += 1; nonceOfPartyB[msg.sender][q.partyA] += 1;
    }

    function acceptCancelCloseRequest(uint256 id) external onlyPartyBOfQuote(id) {
        Quote storage q = quotes[id];
        require(q.quoteStatus == 6, "PartyBFacet: Invalid state");
        q.quoteStatus = 4; q.quantityToClose = 0; q.requestedClosePrice = 0; q.statusModifyTimestamp = block.timestamp;
    }

    function _page(uint256[] storage ids, uint256 start, uint256 size) internal view returns (Quote[] memory out) {
        uint256 n = 0;
        for (uint256 i = 0; i < ids.length; i++) { uint8 s = quotes[ids[i]].quoteStatus; if (s >= 4 && s <= 6) n++; }
        if (start >= n) return new Quote[](0);
        if (n < start + size) size = n - start;
        out = new Quote[](size);
        uint256 k = 0; uint256 j = 0;
        for (uint256 i = 0; i < ids.length && k < size; i++) {
            uint8 s = quotes[ids[i]].quoteStatus;
            if (s >= 4 && s <= 6) { if (j >= start) out[k++] = quotes[ids[i]]; j++; }
        }
    }

    function getPartyAOpenPositions(address partyA, uint256 start, uint256 size) external view returns (Quote[] memory) {
        return _page(aOpen[partyA], start, size);
    }

    function getPartyBOpenPositions(address partyB, address partyA, uint256 start, uint256 size) external view returns (Quote[] memory) {
        return _page(bOpen[partyB][partyA], start, size);
    }
}
