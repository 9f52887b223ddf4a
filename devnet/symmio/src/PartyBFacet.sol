// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Base.sol";

/// PartyB quote + position actions of 0.8.4 (same selectors).
contract PartyBFacet is FacetBase {
    // ------------------------------------------------------------------ quote actions

    function lockQuote(uint256 quoteId, SingleUpnlSig memory upnlSig)
        external whenNotPartyBActionsPaused onlyPartyB notSuspended(msg.sender)
    {
        _lock(quoteId, upnlSig);
    }

    function _lock(uint256 quoteId, SingleUpnlSig memory upnlSig) internal {
        LibStore.Layout storage l = LibStore.layout();
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.PENDING, "PartyBFacet: Invalid state");
        require(block.timestamp <= q.deadline, "PartyBFacet: Quote is expired");
        require(!l.liquidationStatus[q.partyA], "PartyBFacet: PartyA isn't solvent");
        require(!l.partyBLiquidationStatus[msg.sender][q.partyA], "PartyBFacet: PartyB isn't solvent");
        if (q.partyBsWhiteList.length == 0) {
            require(msg.sender != q.partyA, "PartyBFacet: PartyA can't be partyB too");
        } else {
            bool found;
            for (uint256 i = 0; i < q.partyBsWhiteList.length; i++) {
                if (q.partyBsWhiteList[i] == msg.sender) { found = true; break; }
            }
            require(found, "PartyBFacet: Sender isn't whitelisted");
        }
        LibMuonCheck.verifyPartyBUpnl(upnlSig, msg.sender, q.partyA);
        int256 available = LibStore.partyBAvailable(msg.sender, q.partyA, upnlSig.upnl);
        require(available >= 0 && uint256(available) >= LibStore.totalForPartyB(q.lockedValues),
            "PartyBFacet: insufficient available balance");
        q.statusModifyTimestamp = block.timestamp;
        q.quoteStatus = QuoteStatus.LOCKED;
        q.partyB = msg.sender;
        LibStore.addLV(l.partyBPendingLockedBalances[msg.sender][q.partyA], q.lockedValues);
        l.partyBPendingQuotes[msg.sender][q.partyA].push(quoteId);
        emit LockQuote(msg.sender, quoteId);
    }

    function unlockQuote(uint256 quoteId)
        external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId)
    {
        LibStore.Layout storage l = LibStore.layout();
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.LOCKED, "PartyBFacet: Invalid state");
        if (block.timestamp > q.deadline) {
            _expireOpen(q);
            q.partyB = address(0);
        } else {
            q.statusModifyTimestamp = block.timestamp;
            LibStore.subLV(l.partyBPendingLockedBalances[msg.sender][q.partyA], q.lockedValues);
            LibStore.removeId(l.partyBPendingQuotes[msg.sender][q.partyA], quoteId);
            q.partyB = address(0);
            q.quoteStatus = QuoteStatus.PENDING;
            emit UnlockQuote(msg.sender, quoteId, QuoteStatus.PENDING);
        }
    }

    function acceptCancelRequest(uint256 quoteId)
        external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId)
    {
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.CANCEL_PENDING, "PartyBFacet: Invalid state");
        _closeUnopened(q, QuoteStatus.CANCELED);
        emit AcceptCancelRequest(quoteId, QuoteStatus.CANCELED);
    }

    function openPosition(uint256 quoteId, uint256 filledAmount, uint256 openedPrice, PairUpnlAndPriceSig memory upnlSig)
        external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId)
    {
        _open(quoteId, filledAmount, openedPrice, upnlSig);
    }

    function lockAndOpenQuote(
        uint256 quoteId, uint256 filledAmount, uint256 openedPrice, SingleUpnlSig memory upnlSig,
        PairUpnlAndPriceSig memory pairUpnlSig
    ) external whenNotPartyBActionsPaused onlyPartyB notSuspended(msg.sender) notLiquidated(quoteId) {
        _lock(quoteId, upnlSig);
        _open(quoteId, filledAmount, openedPrice, pairUpnlSig);
    }

    function _open(uint256 quoteId, uint256 filledAmount, uint256 openedPrice, PairUpnlAndPriceSig memory sig) internal {
        LibStore.Layout storage l = LibStore.layout();
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.LOCKED || q.quoteStatus == QuoteStatus.CANCEL_PENDING,
            "PartyBFacet: Invalid state");
        require(block.timestamp <= q.deadline, "PartyBFacet: Quote is expired");
        require(l.symbols[q.symbolId].isValid, "PartyBFacet: Symbol is not valid");
        require(!l.emergencyMode && !l.partyBEmergencyStatus[msg.sender], "PartyBFacet: Emergency mode");
        require(!l.suspended[q.partyA] && !l.suspended[msg.sender], "PartyBFacet: Party is suspended");
        require(filledAmount > 0 && filledAmount <= q.quantity, "PartyBFacet: Invalid filledAmount");
        if (q.orderType == OrderType.MARKET) require(filledAmount == q.quantity, "PartyBFacet: Invalid filledAmount");
        if (q.positionType == PositionType.LONG) {
            require(openedPrice <= q.requestedOpenPrice, "PartyBFacet: Opened price isn't valid");
        } else {
            require(openedPrice >= q.requestedOpenPrice, "PartyBFacet: Opened price isn't valid");
        }
        require(openedPrice > 0, "PartyBFacet: Opened price isn't valid");
        LibMuonCheck.verifyPairUpnlAndPrice(sig, q.partyB, q.partyA, q.symbolId);

        // release the quote's pending locks (the child, if any, gets its own)
        _releasePending(q);

        if (filledAmount < q.quantity) _splitChild(q, filledAmount);

        // locked values follow the fill price
        LockedValues memory lv = LibStore.scaled(q.lockedValues, openedPrice, q.requestedOpenPrice);
        require(filledAmount * openedPrice / LibStore.totalForPartyA(lv) <= l.symbols[q.symbolId].maxLeverage,
            "PartyBFacet: Leverage is high");
        q.lockedValues = lv;
        q.initialLockedValues = lv;
        LibStore.addLV(l.lockedBalances[q.partyA], lv);
        LibStore.addLV(l.partyBLockedBalances[q.partyB][q.partyA], lv);
        l.partyAPositions[q.partyA].push(quoteId);
        l.partyBPositions[q.partyB][q.partyA].push(quoteId);

        // trading fee of the filled part goes to the fee collector
        address collector = l.defaultFeeCollector == address(0) ? address(this) : l.defaultFeeCollector;
        l.balances[collector] += LibStore.tradingFeeOf(q, filledAmount);

        // simplified LibSolvency.isSolventAfterOpenPosition: both sides keep a non-negative available balance
        require(LibStore.partyAAvailable(q.partyA, sig.upnlPartyA) >= 0, "LibSolvency: PartyA will be liquidatable");
        require(LibStore.partyBAvailable(q.partyB, q.partyA, sig.upnlPartyB) >= 0,
            "LibSolvency: PartyB will be liquidatable");

        l.partyANonces[q.partyA] += 1;
        l.partyBNonces[q.partyB][q.partyA] += 1;
        q.quoteStatus = QuoteStatus.OPENED;
        q.openedPrice = openedPrice;
        q.initialOpenedPrice = openedPrice;
        q.statusModifyTimestamp = block.timestamp;
        q.lastFundingPaymentTimestamp = block.timestamp;
        emit OpenPosition(quoteId, q.partyA, q.partyB, filledAmount, openedPrice);
    }

    function _splitChild(Quote storage q, uint256 filledAmount) internal {
        LibStore.Layout storage l = LibStore.layout();
        uint256 minValue = l.symbols[q.symbolId].minAcceptableQuoteValue;
        uint256 rest = q.quantity - filledAmount;
        LockedValues memory filledLv = LibStore.scaled(q.lockedValues, filledAmount, q.quantity);
        LockedValues memory restLv = LibStore.scaled(q.lockedValues, rest, q.quantity);
        require(LibStore.totalForPartyA(filledLv) >= minValue && LibStore.totalForPartyA(restLv) >= minValue,
            "PartyBFacet: Quote value is low");

        uint256 childId = ++l.lastId;
        Quote storage c = l.quotes[childId];
        c.id = childId;
        c.partyBsWhiteList = q.partyBsWhiteList;
        c.symbolId = q.symbolId;
        c.positionType = q.positionType;
        c.orderType = q.orderType;
        c.requestedOpenPrice = q.requestedOpenPrice;
        c.marketPrice = q.marketPrice;
        c.quantity = rest;
        c.initialLockedValues = restLv;
        c.lockedValues = restLv;
        c.maxFundingRate = q.maxFundingRate;
        c.partyA = q.partyA;
        c.parentId = q.id;
        c.createTimestamp = block.timestamp;
        c.statusModifyTimestamp = block.timestamp;
        c.deadline = q.deadline;
        c.tradingFee = q.tradingFee;
        c.affiliate = q.affiliate;
        l.quoteIdsOf[q.partyA].push(childId);

        q.quantity = filledAmount;
        q.lockedValues = filledLv;
        q.initialLockedValues = filledLv;

        if (q.quoteStatus == QuoteStatus.CANCEL_PENDING) {
            c.quoteStatus = QuoteStatus.CANCELED;
            _refundFee(c);
            emit AcceptCancelRequest(childId, QuoteStatus.CANCELED);
        } else {
            c.quoteStatus = QuoteStatus.PENDING;
            l.partyAPendingQuotes[q.partyA].push(childId);
            LibStore.addLV(l.pendingLockedBalances[q.partyA], restLv);
            _emitSend(c);
        }
    }

    // ------------------------------------------------------------------ position actions

    function fillCloseRequest(uint256 quoteId, uint256 filledAmount, uint256 closedPrice, PairUpnlAndPriceSig memory upnlSig)
        external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId)
    {
        LibStore.Layout storage l = LibStore.layout();
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.CLOSE_PENDING || q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING,
            "PartyBFacet: Invalid state");
        require(block.timestamp <= q.deadline, "PartyBFacet: Close request is expired");
        if (q.positionType == PositionType.LONG) {
            require(closedPrice >= q.requestedClosePrice, "PartyBFacet: Closed price isn't valid");
        } else {
            require(closedPrice <= q.requestedClosePrice, "PartyBFacet: Closed price isn't valid");
        }
        if (q.orderType == OrderType.LIMIT) {
            require(filledAmount > 0 && filledAmount <= q.quantityToClose, "PartyBFacet: Invalid filledAmount");
        } else {
            require(filledAmount == q.quantityToClose, "PartyBFacet: Invalid filledAmount");
        }
        LibMuonCheck.verifyPairUpnlAndPrice(upnlSig, q.partyB, q.partyA, q.symbolId);
        l.partyANonces[q.partyA] += 1;
        l.partyBNonces[q.partyB][q.partyA] += 1;
        QuoteStatus status = _closeQuote(q, filledAmount, closedPrice);
        uint256 closeId = l.closeIds[quoteId];
        emit FillCloseRequest(quoteId, q.partyA, q.partyB, filledAmount, closedPrice, status, closeId);
        emit FillCloseRequest(quoteId, q.partyA, q.partyB, filledAmount, closedPrice, status);
    }

    function acceptCancelCloseRequest(uint256 quoteId)
        external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId)
    {
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING, "PartyBFacet: Invalid state");
        q.statusModifyTimestamp = block.timestamp;
        q.quoteStatus = QuoteStatus.OPENED;
        q.requestedClosePrice = 0;
        q.quantityToClose = 0;
        uint256 closeId = LibStore.layout().closeIds[quoteId];
        emit AcceptCancelCloseRequest(quoteId, QuoteStatus.OPENED, closeId);
        emit AcceptCancelCloseRequest(quoteId, QuoteStatus.OPENED);
    }

    function emergencyClosePosition(uint256 quoteId, PairUpnlAndPriceSig memory upnlSig)
        external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId)
    {
        LibStore.Layout storage l = LibStore.layout();
        Quote storage q = _quote(quoteId);
        require(q.quoteStatus == QuoteStatus.OPENED || q.quoteStatus == QuoteStatus.CLOSE_PENDING,
            "PartyBFacet: Invalid state");
        require(
            l.emergencyMode || l.partyBEmergencyStatus[q.partyB] || !l.symbols[q.symbolId].isValid,
            "PartyBFacet: Operation not allowed. Either emergency mode must be active, party B must be in emergency status, or the symbol must be delisted"
        );
        LibMuonCheck.verifyPairUpnlAndPrice(upnlSig, q.partyB, q.partyA, q.symbolId);
        l.partyANonces[q.partyA] += 1;
        l.partyBNonces[q.partyB][q.partyA] += 1;
        uint256 filledAmount = q.quantity - q.closedAmount;
        q.quantityToClose = filledAmount;
        QuoteStatus status = _closeQuote(q, filledAmount, upnlSig.price);
        uint256 closeId = l.closeIds[quoteId];
        emit EmergencyClosePosition(quoteId, q.partyA, q.partyB, filledAmount, upnlSig.price, status, closeId);
        emit EmergencyClosePosition(quoteId, q.partyA, q.partyB, filledAmount, upnlSig.price, status);
    }

    /// Realise PnL of `filledAmount` at `closedPrice` and release the proportional locks.
    function _closeQuote(Quote storage q, uint256 filledAmount, uint256 closedPrice) internal returns (QuoteStatus) {
        LibStore.Layout storage l = LibStore.layout();
        address partyA = q.partyA;
        address partyB = q.partyB;
        uint256 openAmount = q.quantity - q.closedAmount;
        LockedValues memory released = LibStore.scaled(q.lockedValues, filledAmount, openAmount);
        LibStore.subLV(l.lockedBalances[partyA], released);
        LibStore.subLV(l.partyBLockedBalances[partyB][partyA], released);
        LibStore.subLV(q.lockedValues, released);

        bool partyAWins = q.positionType == PositionType.LONG ? closedPrice >= q.openedPrice : closedPrice <= q.openedPrice;
        uint256 diff = closedPrice >= q.openedPrice ? closedPrice - q.openedPrice : q.openedPrice - closedPrice;
        uint256 pnl = filledAmount * diff / 1e18;
        if (pnl > 0) {
            if (partyAWins) {
                require(l.partyBAllocatedBalances[partyB][partyA] >= pnl,
                    "LibQuote: PartyA should first exit its positions that are incurring losses");
                l.partyBAllocatedBalances[partyB][partyA] -= pnl;
                l.allocatedBalances[partyA] += pnl;
                emit BalanceChangePartyA(partyA, pnl, BalanceChangeType.REALIZED_PNL_IN);
                emit BalanceChangePartyB(partyB, partyA, pnl, BalanceChangeType.REALIZED_PNL_OUT);
            } else {
                require(l.allocatedBalances[partyA] >= pnl,
                    "LibQuote: PartyA should first exit its positions that are currently in profit.");
                l.allocatedBalances[partyA] -= pnl;
                l.partyBAllocatedBalances[partyB][partyA] += pnl;
                emit BalanceChangePartyA(partyA, pnl, BalanceChangeType.REALIZED_PNL_OUT);
                emit BalanceChangePartyB(partyB, partyA, pnl, BalanceChangeType.REALIZED_PNL_IN);
            }
        }

        q.avgClosedPrice = (q.avgClosedPrice * q.closedAmount + filledAmount * closedPrice) / (q.closedAmount + filledAmount);
        q.closedAmount += filledAmount;
        q.quantityToClose -= filledAmount;
        q.statusModifyTimestamp = block.timestamp;
        if (q.closedAmount == q.quantity) {
            q.quoteStatus = QuoteStatus.CLOSED;
            q.requestedClosePrice = 0;
            LibStore.removeId(l.partyAPositions[partyA], q.id);
            LibStore.removeId(l.partyBPositions[partyB][partyA], q.id);
        } else if (q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING || q.quantityToClose == 0) {
            q.quoteStatus = QuoteStatus.OPENED;
            q.requestedClosePrice = 0;
            q.quantityToClose = 0;
        }
        return q.quoteStatus;
    }
}
