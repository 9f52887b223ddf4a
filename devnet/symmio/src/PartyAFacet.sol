// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Base.sol";

/// PartyA quote actions + force actions of 0.8.4 (same selectors).
contract PartyAFacet is FacetBase {
    /// The 11 static words after the whitelist offset in sendQuote's calldata head.
    struct SendArgs {
        uint256 symbolId;
        PositionType positionType;
        OrderType orderType;
        uint256 price;
        uint256 quantity;
        uint256 cva;
        uint256 lf;
        uint256 partyAmm;
        uint256 partyBmm;
        uint256 maxFundingRate;
        uint256 deadline;
    }

    bytes4 internal constant SEND_QUOTE = 0x7f2755b2; // IPartyAQuoteEntry.sendQuote
    bytes4 internal constant SEND_QUOTE_AFFILIATE = 0x40f1310c; // IPartyAQuoteEntry.sendQuoteWithAffiliate

    /// sendQuote / sendQuoteWithAffiliate (ABI in IPartyAQuoteEntry). They take 13/14 arguments, more
    /// than the legacy code generator's ABI decoder can keep on the stack, so the diamond routes their
    /// selectors here and the arguments are decoded from calldata into memory structs.
    fallback() external {
        bytes4 sel = msg.sig;
        address affiliate;
        uint256 sigHeadIndex = 12;
        if (sel == SEND_QUOTE_AFFILIATE) {
            affiliate = abi.decode(msg.data[388:420], (address));
            sigHeadIndex = 13;
        } else {
            require(sel == SEND_QUOTE, "PartyAFacet: Unknown selector");
        }
        _sendChecks();
        address[] memory wl = abi.decode(msg.data[4:], (address[]));
        SendArgs memory a = abi.decode(msg.data[36:388], (SendArgs));
        uint256 sigOffset = abi.decode(msg.data[4 + 32 * sigHeadIndex:4 + 32 * sigHeadIndex + 32], (uint256));
        SingleUpnlAndPriceSig memory sig =
            abi.decode(bytes.concat(bytes32(uint256(0x20)), msg.data[4 + sigOffset:]), (SingleUpnlAndPriceSig));
        bytes memory out = abi.encode(_send(wl, a, sig, affiliate));
        assembly { return(add(out, 0x20), mload(out)) }
    }

    function _sendChecks() internal view {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.globalPaused, "Pausable: Global paused");
        require(!l.partyAActionsPaused, "Pausable: PartyA actions paused");
        require(!l.liquidationStatus[msg.sender], "Accessibility: PartyA isn't solvent");
        require(!l.suspended[msg.sender], "Accessibility: Sender is Suspended");
    }

    function _send(address[] memory wl, SendArgs memory a, SingleUpnlAndPriceSig memory sig, address affiliate)
        internal returns (uint256 id)
    {
        LibStore.Layout storage l = LibStore.layout();
        require(l.partyAPendingQuotes[msg.sender].length < l.pendingQuotesValidLength,
            "PartyAFacet: Number of pending quotes out of range");
        Symbol storage sym = l.symbols[a.symbolId];
        require(sym.isValid, "PartyAFacet: Symbol is not valid");
        require(a.deadline >= block.timestamp, "PartyAFacet: Low deadline");
        for (uint256 i = 0; i < wl.length; i++) {
            require(wl[i] != msg.sender, "PartyAFacet: Sender isn't allowed in partyBWhiteList");
        }
        LibMuonCheck.verifyPartyAUpnlAndPrice(sig, msg.sender, a.symbolId);
        require(a.quantity > 0 && a.price > 0, "PartyAFacet: Invalid quantity or price");
        LockedValues memory lv = LockedValues(a.cva, a.lf, a.partyAmm, a.partyBmm);
        uint256 total = LibStore.totalForPartyA(lv);
        uint256 tradingPrice = a.orderType == OrderType.LIMIT ? a.price : sig.price;
        require(total >= sym.minAcceptableQuoteValue, "PartyAFacet: Quote value is low");
        require(lv.lf >= sym.minAcceptablePortionLF * total / 1e18, "PartyAFacet: LF is not enough");
        require(a.quantity * tradingPrice / total <= sym.maxLeverage, "PartyAFacet: Leverage is high");
        uint256 fee = a.quantity * tradingPrice / 1e18 * sym.tradingFee / 1e18;
        int256 available = LibStore.partyAAvailable(msg.sender, sig.upnl);
        require(available >= 0 && uint256(available) >= total + fee, "PartyAFacet: insufficient available balance");

        id = ++l.lastId;
        Quote storage q = l.quotes[id];
        q.id = id;
        q.partyBsWhiteList = wl;
        q.symbolId = a.symbolId;
        q.positionType = a.positionType;
        q.orderType = a.orderType;
        q.requestedOpenPrice = a.price;
        q.marketPrice = sig.price;
        q.quantity = a.quantity;
        q.initialLockedValues = lv;
        q.lockedValues = lv;
        q.maxFundingRate = a.maxFundingRate;
        q.partyA = msg.sender;
        q.quoteStatus = QuoteStatus.PENDING;
        q.createTimestamp = block.timestamp;
        q.statusModifyTimestamp = block.timestamp;
        q.deadline = a.deadline;
        q.tradingFee = sym.tradingFee;
        q.affiliate = affiliate;

        l.quoteIdsOf[msg.sender].push(id);
        l.partyAPendingQuotes[msg.sender].push(id);
        LibStore.addLV(l.pendingLockedBalances[msg.sender], lv);
        l.allocatedBalances[msg.sender] -= fee;
        emit BalanceChangePartyA(msg.sender, fee, BalanceChangeType.PLATFORM_FEE_OUT);
        _emitSend(q);
    }

    function requestToCancelQuote(uint256 quoteId)
        external whenNotPartyAActionsPaused onlyPartyAOfQuote(quoteId) notLiquidated(quoteId)
    {
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.PENDING || q.quoteStatus == QuoteStatus.LOCKED, "PartyAFacet: Invalid state");
        QuoteStatus result;
        address partyB = q.partyB;
        if (block.timestamp > q.deadline) {
            _closeUnopened(q, QuoteStatus.EXPIRED);
            q.partyB = address(0);
            result = QuoteStatus.EXPIRED;
        } else if (q.quoteStatus == QuoteStatus.PENDING) {
            _closeUnopened(q, QuoteStatus.CANCELED);
            result = QuoteStatus.CANCELED;
        } else {
            q.quoteStatus = QuoteStatus.CANCEL_PENDING;
            q.statusModifyTimestamp = block.timestamp;
            result = QuoteStatus.CANCEL_PENDING;
        }
        emit RequestToCancelQuote(msg.sender, partyB, result, quoteId);
    }

    function requestToClosePosition(
        uint256 quoteId, uint256 closePrice, uint256 quantityToClose, OrderType orderType, uint256 deadline
    ) external whenNotPartyAActionsPaused onlyPartyAOfQuote(quoteId) notLiquidated(quoteId) {
        Quote storage q = _quote(quoteId);
        _checkClose(q, closePrice, quantityToClose, deadline);
        q.quoteStatus = QuoteStatus.CLOSE_PENDING;
        q.statusModifyTimestamp = block.timestamp;
        q.requestedClosePrice = closePrice;
        q.quantityToClose = quantityToClose;
        q.orderType = orderType;
        q.deadline = deadline;
        _emitClose(q);
    }

    function _checkClose(Quote storage q, uint256 closePrice, uint256 quantityToClose, uint256 deadline) internal view {
        require(q.quoteStatus == QuoteStatus.OPENED, "PartyAFacet: Invalid state");
        require(deadline >= block.timestamp, "PartyAFacet: Low deadline");
        uint256 openAmount = q.quantity - q.closedAmount;
        require(quantityToClose > 0 && quantityToClose <= openAmount, "PartyAFacet: Invalid quantityToClose");
        if (quantityToClose < openAmount) {
            uint256 remaining = LibStore.totalForPartyA(q.lockedValues) * (openAmount - quantityToClose) / openAmount;
            require(remaining >= LibStore.layout().symbols[q.symbolId].minAcceptableQuoteValue,
                "PartyAFacet: Remaining quote value is low");
        }
        require(closePrice > 0, "PartyAFacet: Invalid closePrice");
    }

    function _emitClose(Quote storage q) internal {
        LibStore.Layout storage l = LibStore.layout();
        uint256 closeId = ++l.lastCloseId;
        l.closeIds[q.id] = closeId;
        emit RequestToClosePosition(q.partyA, q.partyB, q.id, q.requestedClosePrice, q.quantityToClose, q.orderType,
            q.deadline, QuoteStatus.CLOSE_PENDING, closeId);
        emit RequestToClosePosition(q.partyA, q.partyB, q.id, q.requestedClosePrice, q.quantityToClose, q.orderType,
            q.deadline, QuoteStatus.CLOSE_PENDING);
    }

    function requestToCancelCloseRequest(uint256 quoteId)
        external whenNotPartyAActionsPaused onlyPartyAOfQuote(quoteId) notLiquidated(quoteId)
    {
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.CLOSE_PENDING, "PartyAFacet: Invalid state");
        if (block.timestamp > q.deadline) {
            _expireClose(q);
        } else {
            q.quoteStatus = QuoteStatus.CANCEL_CLOSE_PENDING;
            q.statusModifyTimestamp = block.timestamp;
            uint256 closeId = LibStore.layout().closeIds[quoteId];
            emit RequestToCancelCloseRequest(q.partyA, q.partyB, quoteId, QuoteStatus.CANCEL_CLOSE_PENDING, closeId);
            emit RequestToCancelCloseRequest(q.partyA, q.partyB, quoteId, QuoteStatus.CANCEL_CLOSE_PENDING);
        }
    }

    function expireQuote(uint256[] memory expiredQuoteIds) external whenNotPartyAActionsPaused {
        for (uint256 i = 0; i < expiredQuoteIds.length; i++) {
            Quote storage q = _quote(expiredQuoteIds[i]);
            require(block.timestamp > q.deadline, "LibQuote: Quote isn't expired");
            QuoteStatus s = q.quoteStatus;
            if (s == QuoteStatus.PENDING || s == QuoteStatus.LOCKED || s == QuoteStatus.CANCEL_PENDING) {
                _expireOpen(q);
                q.partyB = address(0);
            } else if (s == QuoteStatus.CLOSE_PENDING || s == QuoteStatus.CANCEL_CLOSE_PENDING) {
                _expireClose(q);
            } else {
                revert("LibQuote: Invalid state");
            }
        }
    }

    function forceCancelQuote(uint256 quoteId) external notLiquidated(quoteId) whenNotPartyAActionsPaused {
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.CANCEL_PENDING, "PartyAFacet: Invalid state");
        require(block.timestamp > q.statusModifyTimestamp + LibStore.layout().forceCancelCooldown,
            "PartyAFacet: Cooldown not reached");
        _closeUnopened(q, QuoteStatus.CANCELED);
        emit ForceCancelQuote(quoteId, QuoteStatus.CANCELED);
    }

    function forceCancelCloseRequest(uint256 quoteId) external notLiquidated(quoteId) whenNotPartyAActionsPaused {
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING, "PartyAFacet: Invalid state");
        require(block.timestamp > q.statusModifyTimestamp + LibStore.layout().forceCancelCloseCooldown,
            "PartyAFacet: Cooldown not reached");
        q.quoteStatus = QuoteStatus.OPENED;
        q.statusModifyTimestamp = block.timestamp;
        q.requestedClosePrice = 0;
        q.quantityToClose = 0;
        uint256 closeId = LibStore.layout().closeIds[quoteId];
        emit ForceCancelCloseRequest(quoteId, QuoteStatus.OPENED, closeId);
        emit ForceCancelCloseRequest(quoteId, QuoteStatus.OPENED);
    }
}
