// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LibMuon.sol";
import "./LibCore.sol";
import "./IPartyAQuotes.sol";

contract ViewFacet {
    function balanceOf(address user) external view returns (uint256) {
        return S.l().balances[user];
    }

    function allocatedBalanceOfPartyA(address partyA) external view returns (uint256) {
        return S.l().allocatedBalances[partyA];
    }

    function allocatedBalanceOfPartyB(address partyB, address partyA) external view returns (uint256) {
        return S.l().partyBAllocatedBalances[partyB][partyA];
    }

    function nonceOfPartyA(address partyA) external view returns (uint256) {
        return S.l().partyANonces[partyA];
    }

    function nonceOfPartyB(address partyB, address partyA) external view returns (uint256) {
        return S.l().partyBNonces[partyB][partyA];
    }

    function withdrawCooldownOf(address user) external view returns (uint256) {
        return S.l().withdrawCooldown[user];
    }

    function balanceInfoOfPartyB(address partyB, address partyA)
        external
        view
        returns (uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256)
    {
        S.Layout storage s = S.l();
        LockedValues memory a = s.partyBLockedBalances[partyB][partyA];
        LockedValues memory p = s.partyBPendingLockedBalances[partyB][partyA];
        return (
            s.partyBAllocatedBalances[partyB][partyA], a.cva, a.lf, a.partyAmm, a.partyBmm, p.cva, p.lf,
            p.partyAmm, p.partyBmm
        );
    }

    /// partyAStats (declared in IViewExtra): fourteen return values exceed the legacy codegen's stack.
    fallback(bytes calldata) external returns (bytes memory) {
        require(msg.sig == IViewExtra.partyAStats.selector, "ViewFacet: unknown selector");
        address partyA = abi.decode(msg.data[4:], (address));
        S.Layout storage s = S.l();
        bytes memory d = bytes.concat(
            abi.encode(s.liquidationStatus[partyA], s.allocatedBalances[partyA]),
            abi.encode(s.lockedBalances[partyA]),
            abi.encode(s.pendingLockedBalances[partyA]),
            abi.encode(
                s.partyAOpenPositions[partyA].length, s.partyAPendingQuotes[partyA].length, s.partyANonces[partyA],
                s.quoteIdsOf[partyA].length
            )
        );
        assembly {
            return(add(d, 0x20), mload(d))
        }
    }

    function getSymbol(uint256 symbolId) external view returns (Symbol memory) {
        return S.l().symbols[symbolId];
    }

    function getSymbols(uint256 start, uint256 size) external view returns (Symbol[] memory out) {
        S.Layout storage s = S.l();
        uint256 last = s.lastSymbolId;
        if (start >= last) return new Symbol[](0);
        uint256 n = last - start < size ? last - start : size;
        out = new Symbol[](n);
        for (uint256 i = 0; i < n; i++) out[i] = s.symbols[start + i + 1];
    }

    function getQuote(uint256 quoteId) external view returns (Quote memory) {
        return S.l().quotes[quoteId];
    }

    function _quotes(uint256[] storage ids, uint256 start, uint256 size) internal view returns (Quote[] memory out) {
        if (start >= ids.length) return new Quote[](0);
        uint256 n = ids.length - start < size ? ids.length - start : size;
        out = new Quote[](n);
        for (uint256 i = 0; i < n; i++) out[i] = S.l().quotes[ids[start + i]];
    }

    function getPartyAOpenPositions(address partyA, uint256 start, uint256 size) external view returns (Quote[] memory) {
        return _quotes(S.l().partyAOpenPositions[partyA], start, size);
    }

    function getPartyBOpenPositions(address partyB, address partyA, uint256 start, uint256 size)
        external
        view
        returns (Quote[] memory)
    {
        return _quotes(S.l().partyBOpenPositions[partyB][partyA], start, size);
    }

    function partyBPositionsCount(address partyB, address partyA) external view returns (uint256) {
        return S.l().partyBOpenPositions[partyB][partyA].length;
    }

    function getPartyAPendingQuotes(address partyA) external view returns (uint256[] memory) {
        return S.l().partyAPendingQuotes[partyA];
    }

    function getPartyBPendingQuotes(address partyB, address partyA) external view returns (uint256[] memory) {
        return S.l().partyBPendingQuotes[partyB][partyA];
    }

    function hasRole(address user, bytes32 role) external view returns (bool) {
        return S.l().roles[user][role];
    }

    function getCollateral() external view returns (address) {
        return S.l().collateral;
    }

    function isPartyB(address user) external view returns (bool) {
        return S.l().partyBStatus[user];
    }

    function isPartyALiquidated(address partyA) external view returns (bool) {
        return S.l().liquidationStatus[partyA];
    }

    function pendingQuotesValidLength() external view returns (uint256) {
        return S.l().pendingQuotesValidLength;
    }

    function liquidatorShare() external view returns (uint256) {
        return S.l().liquidatorShare;
    }

    function liquidationTimeout() external view returns (uint256) {
        return S.l().liquidationTimeout;
    }

    function coolDownsOfMA() external view returns (uint256, uint256, uint256, uint256) {
        S.Layout storage s = S.l();
        return (s.deallocateCooldown, s.forceCancelCooldown, s.forceCancelCloseCooldown, s.forceCloseFirstCooldown);
    }

    function getMuonConfig() external view returns (uint256 upnlValidTime, uint256 priceValidTime) {
        return (S.l().upnlValidTime, S.l().priceValidTime);
    }

    function getMuonIds() external view returns (uint256 muonAppId, PublicKey memory muonPublicKey, address validGateway) {
        S.Layout storage s = S.l();
        return (s.muonAppId, s.muonPublicKey, s.validGateway);
    }

    function pauseState()
        external
        view
        returns (
            bool globalPaused,
            bool liquidationPaused,
            bool accountingPaused,
            bool partyBActionsPaused,
            bool partyAActionsPaused,
            bool internalTransferPaused,
            bool emergencyMode
        )
    {
        S.Layout storage s = S.l();
        return (
            s.globalPaused, s.liquidationPaused, s.accountingPaused, s.partyBActionsPaused, s.partyAActionsPaused,
            s.internalTransferPaused, s.emergencyMode
        );
    }

    function getPartyBEmergencyStatus(address partyB) external view returns (bool isEmergency) {
        return S.l().partyBEmergencyStatus[partyB];
    }

    function getBalanceLimitPerUser() external view returns (uint256) {
        return S.l().balanceLimitPerUser;
    }

    function verifyMuonTSSAndGateway(bytes32 hash, SchnorrSign memory sign, bytes memory gatewaySignature)
        external
        view
    {
        LibMuon.verifyTSSAndGateway(hash, sign, gatewaySignature);
    }

    function getNextQuoteId() external view returns (uint256) {
        return S.l().lastId;
    }

    function balanceOfReserveVault(address partyB) external view returns (uint256) {
        return S.l().reserveVault[partyB];
    }

    function isSuspended(address user) external view returns (bool) {
        return S.l().suspended[user];
    }

    function isPartyBLiquidated(address partyB, address partyA) external view returns (bool) {
        return S.l().partyBLiquidationStatus[partyB][partyA];
    }

    function partyBLiquidationTimestamp(address partyB, address partyA) external view returns (uint256) {
        return S.l().partyBLiquidationTimestamp[partyB][partyA];
    }

    function partyAPositionsCount(address partyA) external view returns (uint256) {
        return S.l().partyAOpenPositions[partyA].length;
    }

    function forceCloseCooldowns() external view returns (uint256, uint256) {
        return (S.l().forceCloseFirstCooldown, S.l().forceCloseSecondCooldown);
    }

    function forceCloseGapRatio(uint256 symbolId) external view returns (uint256) {
        return S.l().forceCloseGapRatio[symbolId];
    }

    function forceClosePricePenalty() external view returns (uint256) {
        return S.l().forceClosePricePenalty;
    }

    function forceCloseMinSigPeriod() external view returns (uint256) {
        return S.l().forceCloseMinSigPeriod;
    }

    function settlementCooldown() external view returns (uint256) {
        return S.l().settlementCooldown;
    }

    function lastUpnlSettlementTimestamp(address senderPartyB, address targetPartyB, address partyA)
        external
        view
        returns (uint256)
    {
        return S.l().lastUpnlSettlementTimestamp[senderPartyB][targetPartyB][partyA];
    }

    function getDefaultFeeCollector() external view returns (address) {
        return S.l().feeCollector;
    }
}
