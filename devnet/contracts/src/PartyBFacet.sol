// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./LibCore.sol";
import "./LibMuon.sol";
import "./LibClose.sol";
import "./LibGuard.sol";

contract PartyBFacet is Events {
    // protocol-core 0.8.4's modifiers, applied in its order
    modifier whenNotPartyBActionsPaused() {
        LibGuard.partyBActions();
        _;
    }

    modifier notLiquidated(uint256 quoteId) {
        LibGuard.notLiquidated(quoteId);
        _;
    }

    modifier onlyPartyB() {
        LibGuard.onlyPartyB();
        _;
    }

    modifier onlyPartyBOfQuote(uint256 quoteId) {
        LibGuard.onlyPartyBOfQuote(quoteId);
        _;
    }

    function lockQuote(uint256 quoteId, SingleUpnlSig memory upnlSig) external whenNotPartyBActionsPaused onlyPartyB notLiquidated(quoteId) {
        _lock(quoteId, upnlSig);
    }

    function _lock(uint256 quoteId, SingleUpnlSig memory upnlSig) internal {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        LibMuon.verifyPartyBUpnl(upnlSig, msg.sender, q.partyA);
        require(q.quoteStatus == QuoteStatus.PENDING, "PartyBFacet: Invalid state");
        require(block.timestamp <= q.deadline, "PartyBFacet: Quote is expired");
        require(quoteId <= s.lastId, "PartyBFacet: Invalid quoteId");
        require(q.partyA != msg.sender, "PartyBFacet: PartyA can't be partyB too");
        bool ok = q.partyBsWhiteList.length == 0;
        for (uint256 i = 0; i < q.partyBsWhiteList.length; i++) {
            if (q.partyBsWhiteList[i] == msg.sender) ok = true;
        }
        require(ok, "PartyBFacet: Sender isn't whitelisted");
        require(!s.partyBLiquidationStatus[msg.sender][q.partyA], "PartyBFacet: PartyB isn't solvent");
        int256 avail = LibCore.partyBAvailableForQuote(upnlSig.upnl, msg.sender, q.partyA);
        require(avail >= 0, "PartyBFacet: Available balance is lower than zero");
        require(avail >= int256(LibCore.totalB(q.lockedValues)), "PartyBFacet: insufficient available balance");
        q.statusModifyTimestamp = block.timestamp;
        q.quoteStatus = QuoteStatus.LOCKED;
        q.partyB = msg.sender;
        LibCore.add(s.partyBPendingLockedBalances[msg.sender][q.partyA], q.lockedValues);
        s.partyBPendingQuotes[msg.sender][q.partyA].push(quoteId);
        emit LockQuote(msg.sender, quoteId);
    }

    function unlockQuote(uint256 quoteId) external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId) {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(q.quoteStatus == QuoteStatus.LOCKED, "PartyBFacet: Invalid state");
        if (block.timestamp > q.deadline) {
            LibCore.expireOpen(q);
            emit ExpireQuoteOpen(QuoteStatus.EXPIRED, quoteId);
            return;
        }
        q.statusModifyTimestamp = block.timestamp;
        LibCore.sub(s.partyBPendingLockedBalances[msg.sender][q.partyA], q.lockedValues);
        LibCore.removeId(s.partyBPendingQuotes[msg.sender][q.partyA], quoteId);
        q.partyB = address(0);
        q.quoteStatus = QuoteStatus.PENDING;
        emit UnlockQuote(msg.sender, quoteId, QuoteStatus.PENDING);
    }

    function acceptCancelRequest(uint256 quoteId) external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId) {
        Quote storage q = S.l().quotes[quoteId];
        require(q.quoteStatus == QuoteStatus.CANCEL_PENDING, "PartyBFacet: Invalid state");
        LibCore.releasePending(q);
        q.quoteStatus = QuoteStatus.CANCELED;
        q.statusModifyTimestamp = block.timestamp;
        emit AcceptCancelRequest(quoteId, QuoteStatus.CANCELED);
    }

    function openPosition(
        uint256 quoteId, uint256 filledAmount, uint256 openedPrice, PairUpnlAndPriceSig memory upnlSig
    ) external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId) {
        _open(quoteId, filledAmount, openedPrice, upnlSig);
    }

    function lockAndOpenQuote(
        uint256 quoteId, uint256 filledAmount, uint256 openedPrice, SingleUpnlSig memory upnlSig,
        PairUpnlAndPriceSig memory pairUpnlSig
    ) external whenNotPartyBActionsPaused onlyPartyB notLiquidated(quoteId) {
        _lock(quoteId, upnlSig);
        _open(quoteId, filledAmount, openedPrice, pairUpnlSig);
    }

    function _open(uint256 quoteId, uint256 filledAmount, uint256 openedPrice, PairUpnlAndPriceSig memory sig)
        internal
    {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(!s.suspended[q.partyA], "PartyBFacet: PartyA is suspended");
        require(!s.suspended[msg.sender], "PartyBFacet: Sender is Suspended");
        require(!s.partyBEmergencyStatus[msg.sender], "PartyBFacet: PartyB is in emergency mode");
        require(!s.emergencyMode, "PartyBFacet: System is in emergency mode");
        LibMuon.verifyPairUpnlAndPrice(sig, msg.sender, q.partyA, q.symbolId);
        require(
            q.quoteStatus == QuoteStatus.LOCKED || q.quoteStatus == QuoteStatus.CANCEL_PENDING,
            "PartyBFacet: Invalid state"
        );
        require(block.timestamp <= q.deadline, "PartyBFacet: Quote is expired");
        Symbol storage sym = s.symbols[q.symbolId];
        require(sym.isValid, "PartyBFacet: Symbol is not valid");
        if (q.orderType == OrderType.LIMIT) {
            require(q.quantity >= filledAmount && filledAmount > 0, "PartyBFacet: Invalid filledAmount");
        } else {
            require(q.quantity == filledAmount, "PartyBFacet: Invalid filledAmount");
        }
        if (q.positionType == PositionType.LONG) {
            require(openedPrice <= q.requestedOpenPrice, "PartyBFacet: Opened price isn't valid");
        } else {
            require(openedPrice >= q.requestedOpenPrice, "PartyBFacet: Opened price isn't valid");
        }
        // release the pending reservation of the whole quote
        LibCore.sub(s.pendingLockedBalances[q.partyA], q.lockedValues);
        LibCore.sub(s.partyBPendingLockedBalances[msg.sender][q.partyA], q.lockedValues);
        LibCore.removeId(s.partyAPendingQuotes[q.partyA], quoteId);
        LibCore.removeId(s.partyBPendingQuotes[msg.sender][q.partyA], quoteId);
        uint256 childId = filledAmount < q.quantity ? _split(q, filledAmount, sym) : 0;
        q.lockedValues = LibCore.scaled(q.lockedValues, openedPrice, q.requestedOpenPrice);
        q.initialLockedValues = q.lockedValues;
        require(
            (q.quantity * openedPrice) / LibCore.totalA(q.lockedValues) <= sym.maxLeverage,
            "PartyBFacet: Leverage is high"
        );
        q.openedPrice = openedPrice;
        q.initialOpenedPrice = openedPrice;
        q.quoteStatus = QuoteStatus.OPENED;
        q.statusModifyTimestamp = block.timestamp;
        LibCore.add(s.lockedBalances[q.partyA], q.lockedValues);
        LibCore.add(s.partyBLockedBalances[msg.sender][q.partyA], q.lockedValues);
        LibCore.addPosition(q);
        require(LibCore.partyAAvailableForQuote(sig.upnlPartyA, q.partyA) >= 0, "LibSolvency: PartyA will be liquidatable");
        require(
            LibCore.partyBAvailableForQuote(sig.upnlPartyB, msg.sender, q.partyA) >= 0,
            "LibSolvency: PartyB will be liquidatable"
        );
        s.partyANonces[q.partyA] += 1;
        s.partyBNonces[msg.sender][q.partyA] += 1;
        emit OpenPosition(quoteId, q.partyA, msg.sender, filledAmount, openedPrice);
        if (childId != 0) {
            Quote storage c = s.quotes[childId];
            if (c.quoteStatus == QuoteStatus.CANCELED) emit AcceptCancelRequest(childId, QuoteStatus.CANCELED);
            else LibEmit.sendQuote(c);
        }
    }

    /// Partial LIMIT fill: the remainder becomes a child quote.
    function _split(Quote storage q, uint256 filledAmount, Symbol storage sym) internal returns (uint256 childId) {
        S.Layout storage s = S.l();
        uint256 rest = q.quantity - filledAmount;
        LockedValues memory filledLv = LibCore.scaled(q.lockedValues, filledAmount, q.quantity);
        LockedValues memory restLv = LibCore.scaled(q.lockedValues, rest, q.quantity);
        require(
            LibCore.totalA(filledLv) >= sym.minAcceptableQuoteValue
                && LibCore.totalA(restLv) >= sym.minAcceptableQuoteValue,
            "PartyBFacet: Quote value is low"
        );
        childId = ++s.lastId;
        Quote storage c = s.quotes[childId];
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
        s.quoteIdsOf[q.partyA].push(childId);
        if (q.quoteStatus == QuoteStatus.CANCEL_PENDING) {
            c.quoteStatus = QuoteStatus.CANCELED;
            s.allocatedBalances[q.partyA] += LibCore.tradingFeeOf(c, rest);
        } else {
            c.quoteStatus = QuoteStatus.PENDING;
            s.partyAPendingQuotes[q.partyA].push(childId);
            LibCore.add(s.pendingLockedBalances[q.partyA], restLv);
        }
        q.quantity = filledAmount;
        q.lockedValues = filledLv;
    }

    /// Order of checks as protocol-core 0.8.4: signature, solvency of both parties after the
    /// close (at the signed price and upnls), nonces, request state, then LibClose.closeQuote
    /// (which needs the paying side's allocation to cover the realised PnL).
    function fillCloseRequest(
        uint256 quoteId, uint256 filledAmount, uint256 closedPrice, PairUpnlAndPriceSig memory upnlSig
    ) external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId) {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        LibMuon.verifyPairUpnlAndPrice(upnlSig, msg.sender, q.partyA, q.symbolId);
        LibClose.requireSolventAfterClose(
            q, filledAmount, closedPrice, upnlSig.price, upnlSig.upnlPartyB, upnlSig.upnlPartyA
        );
        s.partyBNonces[msg.sender][q.partyA] += 1;
        s.partyANonces[q.partyA] += 1;
        require(
            q.quoteStatus == QuoteStatus.CLOSE_PENDING || q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING,
            "PartyBFacet: Invalid state"
        );
        require(block.timestamp <= q.deadline, "PartyBFacet: Quote is expired");
        if (q.positionType == PositionType.LONG) {
            require(closedPrice >= q.requestedClosePrice, "PartyBFacet: Closed price isn't valid");
        } else {
            require(closedPrice <= q.requestedClosePrice, "PartyBFacet: Closed price isn't valid");
        }
        if (q.orderType == OrderType.LIMIT) {
            require(q.quantityToClose >= filledAmount, "PartyBFacet: Invalid filledAmount");
        } else {
            require(q.quantityToClose == filledAmount, "PartyBFacet: Invalid filledAmount");
        }
        LibClose.closeQuote(q, filledAmount, closedPrice);
        uint256 closeId = s.closeIds[quoteId];
        emit FillCloseRequest(quoteId, q.partyA, msg.sender, filledAmount, closedPrice, q.quoteStatus, closeId);
        emit FillCloseRequest(quoteId, q.partyA, msg.sender, filledAmount, closedPrice, q.quoteStatus);
    }

    function acceptCancelCloseRequest(uint256 quoteId) external whenNotPartyBActionsPaused onlyPartyBOfQuote(quoteId) notLiquidated(quoteId) {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING, "PartyBFacet: Invalid state");
        q.statusModifyTimestamp = block.timestamp;
        q.quoteStatus = QuoteStatus.OPENED;
        q.requestedClosePrice = 0;
        q.quantityToClose = 0;
        emit AcceptCancelCloseRequest(quoteId, QuoteStatus.OPENED, s.closeIds[quoteId]);
        emit AcceptCancelCloseRequest(quoteId, QuoteStatus.OPENED);
    }

    function emergencyClosePosition(uint256 quoteId, PairUpnlAndPriceSig memory upnlSig)
        external
        whenNotPartyBActionsPaused
        onlyPartyBOfQuote(quoteId)
        notLiquidated(quoteId)
    {
        S.Layout storage s = S.l();
        Quote storage q = s.quotes[quoteId];
        require(
            s.emergencyMode || s.partyBEmergencyStatus[msg.sender] || !s.symbols[q.symbolId].isValid,
            "PartyBFacet: Operation not allowed. Either emergency mode must be active, party B must be in emergency status, or the symbol must be delisted"
        );
        require(
            q.quoteStatus == QuoteStatus.OPENED || q.quoteStatus == QuoteStatus.CLOSE_PENDING,
            "PartyBFacet: Invalid state"
        );
        LibMuon.verifyPairUpnlAndPrice(upnlSig, msg.sender, q.partyA, q.symbolId);
        uint256 amount = LibCore.openAmount(q);
        q.quantityToClose = amount;
        q.requestedClosePrice = upnlSig.price;
        require(
            LibCore.partyAAvailableBalanceForLiquidation(upnlSig.upnlPartyA, s.allocatedBalances[q.partyA], q.partyA)
                >= 0,
            "PartyBFacet: PartyA is insolvent"
        );
        require(
            LibCore.partyBAvailableBalanceForLiquidation(upnlSig.upnlPartyB, msg.sender, q.partyA) >= 0,
            "PartyBFacet: PartyB should be solvent"
        );
        s.partyBNonces[msg.sender][q.partyA] += 1;
        s.partyANonces[q.partyA] += 1;
        LibClose.closeQuote(q, amount, upnlSig.price);
        uint256 closeId = s.closeIds[quoteId];
        emit EmergencyClosePosition(quoteId, q.partyA, msg.sender, amount, upnlSig.price, q.quoteStatus, closeId);
        emit EmergencyClosePosition(quoteId, q.partyA, msg.sender, amount, upnlSig.price, q.quoteStatus);
    }
}
