// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Base.sol";

interface IViewFallback {
    function partyAStats(address partyA) external view returns (
        bool liquidated, uint256 allocatedBalance, uint256 lockedCva, uint256 lockedLf, uint256 lockedPartyAmm,
        uint256 lockedPartyBmm, uint256 pendingLockedCva, uint256 pendingLockedLf, uint256 pendingLockedPartyAmm,
        uint256 pendingLockedPartyBmm, uint256 positionsCount, uint256 pendingCount, uint256 nonce, uint256 quoteIdsOfCount
    );
}

/// Read-only views of 0.8.4's ViewFacet (subset).
contract ViewFacet is FacetBase {
    struct PartyAStatsOut {
        bool liquidated; uint256 allocated;
        uint256 lockedCva; uint256 lockedLf; uint256 lockedPartyAmm; uint256 lockedPartyBmm;
        uint256 pendingCva; uint256 pendingLf; uint256 pendingPartyAmm; uint256 pendingPartyBmm;
        uint256 positionsCount; uint256 pendingQuotesCount; uint256 nonce; uint256 quotesCount;
    }

    struct BalanceInfoB {
        uint256 allocated;
        uint256 lockedCva; uint256 lockedLf; uint256 lockedPartyAmm; uint256 lockedPartyBmm;
        uint256 pendingCva; uint256 pendingLf; uint256 pendingPartyAmm; uint256 pendingPartyBmm;
    }

    function _returnRaw(bytes memory out) internal pure {
        assembly { return(add(out, 0x20), mload(out)) }
    }

    function balanceOf(address user) external view returns (uint256) { return LibStore.layout().balances[user]; }

    function allocatedBalanceOfPartyA(address partyA) external view returns (uint256) {
        return LibStore.layout().allocatedBalances[partyA];
    }

    function allocatedBalanceOfPartyB(address partyB, address partyA) external view returns (uint256) {
        return LibStore.layout().partyBAllocatedBalances[partyB][partyA];
    }

    function nonceOfPartyA(address partyA) external view returns (uint256) { return LibStore.layout().partyANonces[partyA]; }

    function nonceOfPartyB(address partyB, address partyA) external view returns (uint256) {
        return LibStore.layout().partyBNonces[partyB][partyA];
    }

    function isPartyB(address user) external view returns (bool) { return LibStore.layout().partyBStatus[user]; }

    function getCollateral() external view returns (address) { return LibStore.layout().collateral; }

    function getNextQuoteId() external view returns (uint256) { return LibStore.layout().lastId; }

    function getQuote(uint256 quoteId) external view returns (Quote memory) { return LibStore.layout().quotes[quoteId]; }

    function getSymbol(uint256 symbolId) external view returns (Symbol memory) { return LibStore.layout().symbols[symbolId]; }

    function getSymbols(uint256 start, uint256 size) external view returns (Symbol[] memory out) {
        LibStore.Layout storage l = LibStore.layout();
        uint256 n = l.lastSymbolId;
        if (start >= n) return new Symbol[](0);
        uint256 end = start + size > n ? n : start + size;
        out = new Symbol[](end - start);
        for (uint256 i = start; i < end; i++) out[i - start] = l.symbols[i + 1];
    }

    function getMuonConfig() external view returns (uint256 upnlValidTime, uint256 priceValidTime) {
        LibStore.Layout storage l = LibStore.layout();
        return (l.upnlValidTime, l.priceValidTime);
    }

    function getMuonIds() external view returns (uint256 muonAppId, PublicKey memory muonPublicKey, address validGateway) {
        LibStore.Layout storage l = LibStore.layout();
        return (l.muonAppId, l.muonPublicKey, l.validGateway);
    }

    function pauseState() external view returns (
        bool globalPaused, bool liquidationPaused, bool accountingPaused, bool partyBActionsPaused,
        bool partyAActionsPaused, bool emergencyMode, bool internalTransferPaused
    ) {
        LibStore.Layout storage l = LibStore.layout();
        return (l.globalPaused, l.liquidationPaused, l.accountingPaused, l.partyBActionsPaused, l.partyAActionsPaused,
            l.emergencyMode, l.internalTransferPaused);
    }

    function coolDownsOfMA() external view returns (uint256, uint256, uint256, uint256, uint256, uint256) {
        LibStore.Layout storage l = LibStore.layout();
        return (l.deallocateCooldown, l.forceCancelCooldown, l.forceCancelCloseCooldown, l.forceCloseFirstCooldown,
            l.forceCloseSecondCooldown, l.liquidationTimeout);
    }

    function partyBEmergencyStatus(address partyB) external view returns (bool) {
        return LibStore.layout().partyBEmergencyStatus[partyB];
    }

    function balanceInfoOfPartyB(address partyB, address partyA) external view returns (
        uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256
    ) {
        _returnRaw(_balanceInfoB(partyB, partyA));
    }

    function _balanceInfoB(address partyB, address partyA) internal view returns (bytes memory) {
        LibStore.Layout storage l = LibStore.layout();
        LockedValues memory lk = l.partyBLockedBalances[partyB][partyA];
        LockedValues memory pd = l.partyBPendingLockedBalances[partyB][partyA];
        BalanceInfoB memory b;
        b.allocated = l.partyBAllocatedBalances[partyB][partyA];
        b.lockedCva = lk.cva; b.lockedLf = lk.lf; b.lockedPartyAmm = lk.partyAmm; b.lockedPartyBmm = lk.partyBmm;
        b.pendingCva = pd.cva; b.pendingLf = pd.lf; b.pendingPartyAmm = pd.partyAmm; b.pendingPartyBmm = pd.partyBmm;
        return abi.encode(b);
    }

    /// partyAStats (ABI in IViewFallback): its 14 return values do not fit the legacy code generator's
    /// stack as a regular function, so the diamond routes the selector to this fallback.
    fallback() external {
        require(msg.sig == IViewFallback.partyAStats.selector, "ViewFacet: Unknown selector");
        address partyA = abi.decode(msg.data[4:], (address));
        _returnRaw(_partyAStats(partyA));
    }

    function _partyAStats(address partyA) internal view returns (bytes memory) {
        LibStore.Layout storage l = LibStore.layout();
        PartyAStatsOut memory s;
        s.liquidated = l.liquidationStatus[partyA];
        s.allocated = l.allocatedBalances[partyA];
        LockedValues memory lk = l.lockedBalances[partyA];
        LockedValues memory pd = l.pendingLockedBalances[partyA];
        s.lockedCva = lk.cva; s.lockedLf = lk.lf; s.lockedPartyAmm = lk.partyAmm; s.lockedPartyBmm = lk.partyBmm;
        s.pendingCva = pd.cva; s.pendingLf = pd.lf; s.pendingPartyAmm = pd.partyAmm; s.pendingPartyBmm = pd.partyBmm;
        s.positionsCount = l.partyAPositions[partyA].length;
        s.pendingQuotesCount = l.partyAPendingQuotes[partyA].length;
        s.nonce = l.partyANonces[partyA];
        s.quotesCount = l.quoteIdsOf[partyA].length;
        return abi.encode(s);
    }

    function _quotes(uint256[] storage ids, uint256 start, uint256 size) internal view returns (Quote[] memory out) {
        LibStore.Layout storage l = LibStore.layout();
        uint256 n = ids.length;
        if (start >= n) return new Quote[](0);
        uint256 end = start + size > n ? n : start + size;
        out = new Quote[](end - start);
        for (uint256 i = start; i < end; i++) out[i - start] = l.quotes[ids[i]];
    }

    function getPartyBOpenPositions(address partyB, address partyA, uint256 start, uint256 size)
        external view returns (Quote[] memory)
    {
        return _quotes(LibStore.layout().partyBPositions[partyB][partyA], start, size);
    }

    function getPartyAOpenPositions(address partyA, uint256 start, uint256 size) external view returns (Quote[] memory) {
        return _quotes(LibStore.layout().partyAPositions[partyA], start, size);
    }

    function getPartyBPendingQuotes(address partyB, address partyA) external view returns (Quote[] memory) {
        return _quotes(LibStore.layout().partyBPendingQuotes[partyB][partyA], 0, type(uint256).max);
    }

    function getPartyAPendingQuotes(address partyA) external view returns (Quote[] memory) {
        return _quotes(LibStore.layout().partyAPendingQuotes[partyA], 0, type(uint256).max);
    }

    function partyBPositionsCount(address partyB, address partyA) external view returns (uint256) {
        return LibStore.layout().partyBPositions[partyB][partyA].length;
    }

    function verifyMuonTSSAndGateway(bytes32 hash, SchnorrSign memory sign, bytes memory gatewaySignature)
        external view
    {
        LibMuonCheck.verifyTSSAndGateway(hash, sign, gatewaySignature);
    }
}
