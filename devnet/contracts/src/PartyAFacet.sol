// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./LibCore.sol";
import "./LibMuon.sol";
import "./IPartyAQuotes.sol";
import "./LibGuard.sol";

struct QuoteParams {
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
    address affiliate;
}

contract PartyAFacet is Events {
    /// whenNotPartyAActionsPaused + onlyPartyAOfQuote + notLiquidated(quoteId) of 0.8.4.
    modifier quoteAction(uint256 quoteId) {
        LibGuard.partyAActions();
        require(S.l().quotes[quoteId].partyA == msg.sender, "Accessibility: Should be partyA of quote");
        LibGuard.notLiquidated(quoteId);
        _;
    }

    /// sendQuote / sendQuoteWithAffiliate (declared in IPartyAQuotes) are decoded by hand from
    /// calldata: fourteen parameters do not fit the legacy code generator's stack.
    fallback(bytes calldata) external returns (bytes memory) {
        bool withAffiliate = msg.sig == IPartyAQuotes.sendQuoteWithAffiliate.selector;
        require(withAffiliate || msg.sig == IPartyAQuotes.sendQuote.selector, "PartyAFacet: unknown selector");
        _partyAActive();
        address[] memory wl = abi.decode(msg.data[4:], (address[]));
        address affiliate = withAffiliate ? address(uint160(_word(12))) : address(0);
        uint256 o = _word(withAffiliate ? 13 : 12);
        SingleUpnlAndPriceSig memory sig = abi.decode(
            bytes.concat(bytes32(uint256(32)), msg.data[4 + o:]), (SingleUpnlAndPriceSig)
        );
        return abi.encode(_send(wl, _params(affiliate), sig));
    }

    function _partyAActive() internal view {
        LibGuard.partyAActions();
        LibGuard.notLiquidatedPartyA(msg.sender);
        LibGuard.notSuspended(msg.sender);
    }

    /// Head words 1..11 of both sendQuote variants (same positions).
    function _params(address affiliate) internal pure returns (QuoteParams memory p) {
        p.symbolId = _word(1);
        p.positionType = PositionType(_word(2));
        p.orderType = OrderType(_word(3));
        p.price = _word(4);
        p.quantity = _word(5);
        p.cva = _word(6);
        p.lf = _word(7);
        p.partyAmm = _word(8);
        p.partyBmm = _word(9);
        p.maxFundingRate = _word(10);
        p.deadline = _word(11);
        p.affiliate = affiliate;
    }

    function _word(uint256 i) internal pure returns (uint256) {
        return uint256(bytes32(msg.data[4 + 32 * i:36 + 32 * i]));
    }

    function _send(address[] memory wl, QuoteParams memory p, SingleUpnlAndPriceSig memory sig)
        internal
        returns (uint256 id)
    {
        S.Layout storage s = S.l();
        LibMuon.verifyPartyAUpnlAndPrice(sig, msg.sender, p.symbolId);
        require(s.partyAPendingQuotes[msg.sender].length < s.pendingQuotesValidLength, "PartyAFacet: Number of pending quotes out of range");
        Symbol storage sym = s.symbols[p.symbolId];
        require(sym.isValid, "PartyAFacet: Symbol is not valid");
        require(p.deadline >= block.timestamp, "PartyAFacet: Low deadline");
        LockedValues memory lv = LockedValues(p.cva, p.lf, p.partyAmm, p.partyBmm);
        uint256 tradingPrice = p.orderType == OrderType.LIMIT ? p.price : sig.price;
        uint256 notional = (p.quantity * tradingPrice) / 1e18;
        require(notional > 0, "PartyAFacet: Quantity is zero");
        require(LibCore.totalA(lv) >= sym.minAcceptableQuoteValue, "PartyAFacet: Quote value is low");
        for (uint256 i = 0; i < wl.length; i++) {
            require(msg.sender != wl[i], "PartyAFacet: Sender isn't whitelisted");
        }
        require(!s.partyBStatus[msg.sender], "PartyAFacet: Sender isn't partyA");
        require((p.lf * 1e18) / LibCore.totalA(lv) >= sym.minAcceptablePortionLF, "PartyAFacet: Small partyLF");
        require((notional * 1e18) / LibCore.totalA(lv) <= sym.maxLeverage, "PartyAFacet: Leverage is high");
        if (p.positionType == PositionType.LONG) {
            require(p.price >= sig.price || p.orderType == OrderType.LIMIT, "PartyAFacet: LongMarket price should be higher than current price");
        } else {
            require(p.price <= sig.price || p.orderType == OrderType.LIMIT, "PartyAFacet: ShortMarket price should be lower than current price");
        }
        uint256 fee = (p.quantity * tradingPrice * sym.tradingFee) / 1e36;
        require(
            LibCore.partyAAvailableForQuote(sig.upnl, msg.sender) >= int256(LibCore.totalA(lv) + fee),
            "PartyAFacet: insufficient available balance"
        );
        id = ++s.lastId;
        Quote storage q = s.quotes[id];
        q.id = id;
        q.partyBsWhiteList = wl;
        q.symbolId = p.symbolId;
        q.positionType = p.positionType;
        q.orderType = p.orderType;
        q.requestedOpenPrice = p.price;
        q.marketPrice = sig.price;
        q.quantity = p.quantity;
        q.initialLockedValues = lv;
        q.lockedValues = lv;
        q.maxFundingRate = p.maxFundingRate;
        q.partyA = msg.sender;
        q.quoteStatus = QuoteStatus.PENDING;
        q.createTimestamp = block.timestamp;
        q.statusModifyTimestamp = block.timestamp;
        q.deadline = p.deadline;
        q.tradingFee = sym.tradingFee;
        q.affiliate = p.affiliate;
        s.quoteIdsOf[msg.sender].push(id);
        s.partyAPendingQuotes[msg.sender].push(id);
        LibCore.add(s.pendingLockedBalances[msg.sender], lv);
        s.allocatedBalances[msg.sender] -= fee;
        emit BalanceChangePartyA(msg.sender, fee, BalanceChangeType.PLATFORM_FEE_OUT);
        LibEmit.sendQuote(q);
    }

    function requestToCancelQuote(uint256 quoteId) external quoteAction(quoteId) {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(
            q.quoteStatus == QuoteStatus.PENDING || q.quoteStatus == QuoteStatus.LOCKED,
            "PartyAFacet: Invalid state"
        );
        QuoteStatus result;
        if (block.timestamp > q.deadline) {
            result = LibCore.expireOpen(q);
            emit ExpireQuoteOpen(result, quoteId);
            emit ExpireQuote(result, quoteId);
            return;
        } else if (q.quoteStatus == QuoteStatus.PENDING) {
            LibCore.releasePending(q);
            q.quoteStatus = QuoteStatus.CANCELED;
            result = QuoteStatus.CANCELED;
        } else {
            q.quoteStatus = QuoteStatus.CANCEL_PENDING;
            result = QuoteStatus.CANCEL_PENDING;
        }
        q.statusModifyTimestamp = block.timestamp;
        emit RequestToCancelQuote(q.partyA, q.partyB, result, quoteId);
    }

    function requestToClosePosition(
        uint256 quoteId, uint256 closePrice, uint256 quantityToClose, OrderType orderType, uint256 deadline
    ) external quoteAction(quoteId) {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(q.quoteStatus == QuoteStatus.OPENED, "PartyAFacet: Invalid state");
        require(deadline >= block.timestamp, "PartyAFacet: Low deadline");
        require(q.quantity - q.closedAmount >= quantityToClose, "PartyAFacet: Invalid quantityToClose");
        require(quantityToClose > 0, "PartyAFacet: Invalid quantityToClose");
        uint256 open = LibCore.openAmount(q);
        if (open > quantityToClose) {
            require(
                ((open - quantityToClose) * LibCore.totalA(q.lockedValues)) / open
                    >= s.symbols[q.symbolId].minAcceptableQuoteValue,
                "PartyAFacet: Remaining quote value is low"
            );
        }
        q.quoteStatus = QuoteStatus.CLOSE_PENDING;
        q.statusModifyTimestamp = block.timestamp;
        q.requestedClosePrice = closePrice;
        q.quantityToClose = quantityToClose;
        // as in 0.8.4 the close request's order type replaces the quote's (fills and force close read it)
        q.orderType = orderType;
        q.deadline = deadline;
        uint256 closeId = ++s.lastCloseId;
        s.closeIds[quoteId] = closeId;
        emit RequestToClosePosition(
            q.partyA, q.partyB, quoteId, closePrice, quantityToClose, orderType, deadline,
            QuoteStatus.CLOSE_PENDING, closeId
        );
        emit RequestToClosePosition(
            q.partyA, q.partyB, quoteId, closePrice, quantityToClose, orderType, deadline, QuoteStatus.CLOSE_PENDING
        );
    }

    function requestToCancelCloseRequest(uint256 quoteId) external quoteAction(quoteId) {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(q.quoteStatus == QuoteStatus.CLOSE_PENDING, "PartyAFacet: Invalid state");
        uint256 closeId = s.closeIds[quoteId];
        q.statusModifyTimestamp = block.timestamp;
        if (block.timestamp > q.deadline) {
            q.quoteStatus = QuoteStatus.OPENED;
            q.requestedClosePrice = 0;
            q.quantityToClose = 0;
            emit ExpireQuoteClose(QuoteStatus.OPENED, quoteId, closeId);
            emit ExpireQuote(QuoteStatus.OPENED, quoteId);
        } else {
            q.quoteStatus = QuoteStatus.CANCEL_CLOSE_PENDING;
            emit RequestToCancelCloseRequest(q.partyA, q.partyB, quoteId, QuoteStatus.CANCEL_CLOSE_PENDING, closeId);
            emit RequestToCancelCloseRequest(q.partyA, q.partyB, quoteId, QuoteStatus.CANCEL_CLOSE_PENDING);
        }
    }

    function expireQuote(uint256[] memory expiredQuoteIds) external {
        S.Layout storage s = S.l();
        LibGuard.partyAActions();
        for (uint256 i = 0; i < expiredQuoteIds.length; i++) {
            uint256 id = expiredQuoteIds[i];
            Quote storage q = s.quotes[id];
            require(block.timestamp > q.deadline, "LibQuote: Quote isn't expired");
            QuoteStatus st = q.quoteStatus;
            if (st == QuoteStatus.PENDING || st == QuoteStatus.LOCKED || st == QuoteStatus.CANCEL_PENDING) {
                LibCore.expireOpen(q);
                emit ExpireQuoteOpen(QuoteStatus.EXPIRED, id);
                emit ExpireQuote(QuoteStatus.EXPIRED, id);
            } else if (st == QuoteStatus.CLOSE_PENDING || st == QuoteStatus.CANCEL_CLOSE_PENDING) {
                q.quoteStatus = QuoteStatus.OPENED;
                q.statusModifyTimestamp = block.timestamp;
                q.requestedClosePrice = 0;
                q.quantityToClose = 0;
                emit ExpireQuoteClose(QuoteStatus.OPENED, id, s.closeIds[id]);
                emit ExpireQuote(QuoteStatus.OPENED, id);
            } else {
                revert("LibQuote: Invalid state");
            }
        }
    }

    function forceCancelQuote(uint256 quoteId) external {
        LibGuard.notLiquidated(quoteId);
        LibGuard.partyAActions();
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(q.quoteStatus == QuoteStatus.CANCEL_PENDING, "PartyAFacet: Invalid state");
        require(
            block.timestamp > q.statusModifyTimestamp + s.forceCancelCooldown, "PartyAFacet: Cooldown not reached"
        );
        LibCore.releasePending(q);
        q.quoteStatus = QuoteStatus.CANCELED;
        q.statusModifyTimestamp = block.timestamp;
        emit ForceCancelQuote(quoteId, QuoteStatus.CANCELED);
    }

    function forceCancelCloseRequest(uint256 quoteId) external {
        LibGuard.notLiquidated(quoteId);
        LibGuard.partyAActions();
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING, "PartyAFacet: Invalid state");
        require(
            block.timestamp > q.statusModifyTimestamp + s.forceCancelCloseCooldown,
            "PartyAFacet: Cooldown not reached"
        );
        q.quoteStatus = QuoteStatus.OPENED;
        q.statusModifyTimestamp = block.timestamp;
        q.requestedClosePrice = 0;
        q.quantityToClose = 0;
        emit ForceCancelCloseRequest(quoteId, QuoteStatus.OPENED, s.closeIds[quoteId]);
        emit ForceCancelCloseRequest(quoteId, QuoteStatus.OPENED);
    }
}
