// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Storage.sol";
import "./Events.sol";
import "./LibMuon.sol";

interface IERC20Min {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function transfer(address to, uint256 amount) external returns (bool);
    function decimals() external view returns (uint8);
}

/// Modifiers and helpers shared by the facets (no state of its own: everything lives in LibStore).
abstract contract FacetBase is SymmioEvents {
    modifier onlyRole(bytes32 role) {
        require(LibStore.layout().roles[role][msg.sender], "LibAccessibility: Must has role");
        _;
    }

    modifier onlyPartyB() {
        require(LibStore.layout().partyBStatus[msg.sender], "Accessibility: Should be partyB");
        _;
    }

    modifier notPartyB() {
        require(!LibStore.layout().partyBStatus[msg.sender], "Accessibility: Shouldn't be partyB");
        _;
    }

    modifier onlyPartyAOfQuote(uint256 quoteId) {
        require(LibStore.layout().quotes[quoteId].partyA == msg.sender, "Accessibility: Should be partyA of quote");
        _;
    }

    modifier onlyPartyBOfQuote(uint256 quoteId) {
        require(LibStore.layout().quotes[quoteId].partyB == msg.sender, "Accessibility: Should be partyB of quote");
        _;
    }

    modifier whenNotPartyAActionsPaused() {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.globalPaused, "Pausable: Global paused");
        require(!l.partyAActionsPaused, "Pausable: PartyA actions paused");
        _;
    }

    modifier whenNotPartyBActionsPaused() {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.globalPaused, "Pausable: Global paused");
        require(!l.partyBActionsPaused, "Pausable: PartyB actions paused");
        _;
    }

    modifier whenNotAccountingPaused() {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.globalPaused, "Pausable: Global paused");
        require(!l.accountingPaused, "Pausable: Accounting paused");
        _;
    }

    modifier notLiquidatedPartyA(address partyA) {
        require(!LibStore.layout().liquidationStatus[partyA], "Accessibility: PartyA isn't solvent");
        _;
    }

    modifier notLiquidated(uint256 quoteId) {
        LibStore.Layout storage l = LibStore.layout();
        Quote storage q = l.quotes[quoteId];
        require(!l.liquidationStatus[q.partyA], "Accessibility: PartyA isn't solvent");
        require(!l.partyBLiquidationStatus[q.partyB][q.partyA], "Accessibility: PartyB isn't solvent");
        require(
            q.quoteStatus != QuoteStatus.LIQUIDATED && q.quoteStatus != QuoteStatus.LIQUIDATED_PENDING
                && q.quoteStatus != QuoteStatus.CLOSED,
            "Accessibility: Invalid state"
        );
        _;
    }

    modifier notSuspended(address user) {
        require(!LibStore.layout().suspended[user], "Accessibility: Sender is Suspended");
        _;
    }

    function _quote(uint256 quoteId) internal view returns (Quote storage q) {
        q = LibStore.layout().quotes[quoteId];
        require(q.id != 0, "LibQuote: Invalid quote id");
    }

    /// Returns the quote's reserved values (trading fee + pending locks) and marks it final.
    function _releasePending(Quote storage q) internal {
        LibStore.Layout storage l = LibStore.layout();
        LockedValues memory lv = q.lockedValues;
        LibStore.subLV(l.pendingLockedBalances[q.partyA], lv);
        LibStore.removeId(l.partyAPendingQuotes[q.partyA], q.id);
        if (q.partyB != address(0)) {
            LibStore.subLV(l.partyBPendingLockedBalances[q.partyB][q.partyA], lv);
            LibStore.removeId(l.partyBPendingQuotes[q.partyB][q.partyA], q.id);
        }
    }

    function _refundFee(Quote storage q) internal {
        uint256 fee = LibStore.tradingFeeOf(q, q.quantity);
        LibStore.layout().allocatedBalances[q.partyA] += fee;
        emit BalanceChangePartyA(q.partyA, fee, BalanceChangeType.PLATFORM_FEE_IN);
    }

    /// Cancel/expire a not-yet-opened quote: release locks, refund fee.
    function _closeUnopened(Quote storage q, QuoteStatus status) internal {
        _releasePending(q);
        _refundFee(q);
        q.quoteStatus = status;
        q.statusModifyTimestamp = block.timestamp;
    }

    /// Quote past its open deadline: EXPIRED (+ events). Returns the status it ends in.
    function _expireOpen(Quote storage q) internal {
        _closeUnopened(q, QuoteStatus.EXPIRED);
        emit ExpireQuoteOpen(QuoteStatus.EXPIRED, q.id);
        emit ExpireQuote(QuoteStatus.EXPIRED, q.id);
    }

    function _expireClose(Quote storage q) internal {
        q.quoteStatus = QuoteStatus.OPENED;
        q.requestedClosePrice = 0;
        q.quantityToClose = 0;
        q.statusModifyTimestamp = block.timestamp;
        uint256 closeId = LibStore.layout().closeIds[q.id];
        emit ExpireQuoteClose(QuoteStatus.OPENED, q.id, closeId);
        emit ExpireQuote(QuoteStatus.OPENED, q.id);
    }

    struct SendQuoteData {
        address partyA; uint256 quoteId; address[] partyBsWhiteList; uint256 symbolId; PositionType positionType;
        OrderType orderType; uint256 price; uint256 marketPrice; uint256 quantity; uint256 cva; uint256 lf;
        uint256 partyAmm; uint256 partyBmm; uint256 tradingFee; uint256 deadline;
    }

    /// Emits `SendQuote` for a stored quote. The 15 event fields are ABI-encoded from a memory struct
    /// (same layout as the event's data tuple) and logged with log1, to stay within the legacy
    /// code generator's stack.
    function _emitSend(Quote storage c) internal {
        SendQuoteData memory d;
        d.partyA = c.partyA;
        d.quoteId = c.id;
        d.partyBsWhiteList = c.partyBsWhiteList;
        d.symbolId = c.symbolId;
        d.positionType = c.positionType;
        d.orderType = c.orderType;
        d.price = c.requestedOpenPrice;
        d.marketPrice = c.marketPrice;
        d.quantity = c.quantity;
        d.cva = c.lockedValues.cva;
        d.lf = c.lockedValues.lf;
        d.partyAmm = c.lockedValues.partyAmm;
        d.partyBmm = c.lockedValues.partyBmm;
        d.tradingFee = c.tradingFee;
        d.deadline = c.deadline;
        bytes memory enc = abi.encode(d); // 0x20 offset word, then the tuple
        bytes32 topic0 = SendQuote.selector;
        assembly { log1(add(enc, 0x40), sub(mload(enc), 0x20), topic0) }
    }
}
