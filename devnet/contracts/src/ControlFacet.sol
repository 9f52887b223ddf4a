// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./Storage.sol";

/// Admin set-up with protocol-core 0.8.4's ControlFacet signatures, roles, revert strings and
/// events: roles, PartyB registry, Muon, symbols, cooldowns and force-close parameters, pause
/// switches, emergency mode, PartyB emergency status and suspension.
contract ControlFacet is Events {
    modifier role(bytes32 r) {
        S.requireRole(r);
        _;
    }

    modifier nonZero(address user) {
        require(user != address(0), "ControlFacet: Zero address");
        _;
    }

    function setAdmin(address user) external nonZero(user) {
        S.Layout storage s = S.l();
        require(msg.sender == s.owner, "ControlFacet: Sender is not the owner");
        s.roles[user][S.DEFAULT_ADMIN_ROLE] = true;
        emit RoleGranted(S.DEFAULT_ADMIN_ROLE, user);
    }

    function grantRole(address user, bytes32 r) external role(S.DEFAULT_ADMIN_ROLE) nonZero(user) {
        S.Layout storage s = S.l();
        if (r == S.LIQUIDATOR_ROLE) {
            require(
                s.partyAPendingQuotes[user].length == 0 && s.partyAOpenPositions[user].length == 0,
                "ControlFacet: PartyA can't become liquidator"
            );
        }
        s.roles[user][r] = true;
        emit RoleGranted(r, user);
    }

    function revokeRole(address user, bytes32 r) external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().roles[user][r] = false;
        emit RoleRevoked(r, user);
    }

    function registerPartyB(address partyB) external role(S.PARTY_B_MANAGER_ROLE) nonZero(partyB) {
        S.Layout storage s = S.l();
        require(!s.partyBStatus[partyB], "ControlFacet: Address is already registered");
        s.partyBStatus[partyB] = true;
        s.partyBList.push(partyB);
        emit RegisterPartyB(partyB);
    }

    function deregisterPartyB(address partyB, uint256 index) external role(S.PARTY_B_MANAGER_ROLE) nonZero(partyB) {
        S.Layout storage s = S.l();
        require(s.partyBStatus[partyB], "ControlFacet: Address is not registered");
        require(s.partyBList[index] == partyB, "ControlFacet: Invalid index");
        uint256 last = s.partyBList.length - 1;
        s.partyBStatus[partyB] = false;
        s.partyBList[index] = s.partyBList[last];
        s.partyBList.pop();
        emit DeregisterPartyB(partyB, index);
    }

    function setMuonConfig(uint256 upnlValidTime, uint256 priceValidTime) external role(S.MUON_SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetMuonConfig(upnlValidTime, priceValidTime);
        s.upnlValidTime = upnlValidTime;
        s.priceValidTime = priceValidTime;
    }

    function setMuonIds(uint256 muonAppId, address validGateway, PublicKey memory publicKey)
        external
        role(S.MUON_SETTER_ROLE)
    {
        S.Layout storage s = S.l();
        s.muonAppId = muonAppId;
        s.validGateway = validGateway;
        s.muonPublicKey = publicKey;
        emit SetMuonIds(muonAppId, validGateway, publicKey.x, publicKey.parity);
    }

    function setCollateral(address collateral) external role(S.DEFAULT_ADMIN_ROLE) nonZero(collateral) {
        S.l().collateral = collateral;
        emit SetCollateral(collateral);
    }

    /// Devnet simplification: one fee collector for every affiliate (no affiliate registry).
    function setFeeCollector(address, address feeCollector) external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().feeCollector = feeCollector;
    }

    function setDefaultFeeCollector(address feeCollector) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetDefaultFeeCollector(s.feeCollector, feeCollector);
        s.feeCollector = feeCollector;
    }

    // symbols ---------------------------------------------------------------------------------

    function addSymbol(
        string memory name, uint256 minAcceptableQuoteValue, uint256 minAcceptablePortionLF, uint256 tradingFee,
        uint256 maxLeverage, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime
    ) external role(S.SYMBOL_MANAGER_ROLE) {
        require(fundingRateWindowTime < fundingRateEpochDuration / 2, "ControlFacet: High window time");
        require(tradingFee <= 1e18, "ControlFacet: High trading fee");
        S.Layout storage s = S.l();
        uint256 id = ++s.lastSymbolId;
        s.symbols[id] = Symbol(
            id, name, true, minAcceptableQuoteValue, minAcceptablePortionLF, tradingFee, maxLeverage,
            fundingRateEpochDuration, fundingRateWindowTime
        );
        emit AddSymbol(
            id, name, minAcceptableQuoteValue, minAcceptablePortionLF, tradingFee, maxLeverage,
            fundingRateEpochDuration, fundingRateWindowTime
        );
    }

    function _symbol(uint256 symbolId) internal view returns (Symbol storage) {
        S.Layout storage s = S.l();
        require(symbolId >= 1 && symbolId <= s.lastSymbolId, "ControlFacet: Invalid id");
        return s.symbols[symbolId];
    }

    function setSymbolFundingState(uint256 symbolId, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime)
        external
        role(S.SYMBOL_MANAGER_ROLE)
    {
        Symbol storage sym = _symbol(symbolId);
        require(fundingRateWindowTime < fundingRateEpochDuration / 2, "ControlFacet: High window time");
        sym.fundingRateEpochDuration = fundingRateEpochDuration;
        sym.fundingRateWindowTime = fundingRateWindowTime;
        emit SetSymbolFundingState(symbolId, fundingRateEpochDuration, fundingRateWindowTime);
    }

    function setSymbolValidationState(uint256 symbolId, bool isValid) external role(S.SYMBOL_MANAGER_ROLE) {
        Symbol storage sym = _symbol(symbolId);
        emit SetSymbolValidationState(symbolId, sym.isValid, isValid);
        sym.isValid = isValid;
    }

    // cooldowns and parameters ----------------------------------------------------------------

    function setDeallocateCooldown(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetDeallocateCooldown(s.deallocateCooldown, v);
        s.deallocateCooldown = v;
    }

    function setForceCancelCooldown(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetForceCancelCooldown(s.forceCancelCooldown, v);
        s.forceCancelCooldown = v;
    }

    function setForceCancelCloseCooldown(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetForceCancelCloseCooldown(s.forceCancelCloseCooldown, v);
        s.forceCancelCloseCooldown = v;
    }

    function setForceCloseCooldowns(uint256 first, uint256 second) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetForceCloseCooldowns(s.forceCloseFirstCooldown, first, s.forceCloseSecondCooldown, second);
        s.forceCloseFirstCooldown = first;
        s.forceCloseSecondCooldown = second;
    }

    function setForceClosePricePenalty(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetForceClosePricePenalty(s.forceClosePricePenalty, v);
        s.forceClosePricePenalty = v;
    }

    function setForceCloseMinSigPeriod(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetForceCloseMinSigPeriod(s.forceCloseMinSigPeriod, v);
        s.forceCloseMinSigPeriod = v;
    }

    function setForceCloseGapRatio(uint256 symbolId, uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetForceCloseGapRatio(symbolId, s.forceCloseGapRatio[symbolId], v);
        s.forceCloseGapRatio[symbolId] = v;
    }

    function setSettlementCooldown(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetSettlementCooldown(s.settlementCooldown, v);
        s.settlementCooldown = v;
    }

    function setLiquidationTimeout(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetLiquidationTimeout(s.liquidationTimeout, v);
        s.liquidationTimeout = v;
    }

    function setLiquidatorShare(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetLiquidatorShare(s.liquidatorShare, v);
        s.liquidatorShare = v;
    }

    function setPendingQuotesValidLength(uint256 v) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        emit SetPendingQuotesValidLength(s.pendingQuotesValidLength, v);
        s.pendingQuotesValidLength = v;
    }

    function setBalanceLimitPerUser(uint256 v) external role(S.DEFAULT_ADMIN_ROLE) {
        emit SetBalanceLimitPerUser(v);
        S.l().balanceLimitPerUser = v;
    }

    // pause switches --------------------------------------------------------------------------

    function pauseGlobal() external role(S.PAUSER_ROLE) {
        S.l().globalPaused = true;
        emit PauseGlobal();
    }

    function unpauseGlobal() external role(S.UNPAUSER_ROLE) {
        S.l().globalPaused = false;
        emit UnpauseGlobal();
    }

    function pauseLiquidation() external role(S.PAUSER_ROLE) {
        S.l().liquidationPaused = true;
        emit PauseLiquidation();
    }

    function unpauseLiquidation() external role(S.UNPAUSER_ROLE) {
        S.l().liquidationPaused = false;
        emit UnpauseLiquidation();
    }

    function pauseAccounting() external role(S.PAUSER_ROLE) {
        S.l().accountingPaused = true;
        emit PauseAccounting();
    }

    function unpauseAccounting() external role(S.UNPAUSER_ROLE) {
        S.l().accountingPaused = false;
        emit UnpauseAccounting();
    }

    function pausePartyAActions() external role(S.PAUSER_ROLE) {
        S.l().partyAActionsPaused = true;
        emit PausePartyAActions();
    }

    function unpausePartyAActions() external role(S.UNPAUSER_ROLE) {
        S.l().partyAActionsPaused = false;
        emit UnpausePartyAActions();
    }

    function pausePartyBActions() external role(S.PAUSER_ROLE) {
        S.l().partyBActionsPaused = true;
        emit PausePartyBActions();
    }

    function unpausePartyBActions() external role(S.UNPAUSER_ROLE) {
        S.l().partyBActionsPaused = false;
        emit UnpausePartyBActions();
    }

    function pauseInternalTransfer() external role(S.PAUSER_ROLE) {
        S.l().internalTransferPaused = true;
        emit PauseInternalTransfer();
    }

    function unpauseInternalTransfer() external role(S.UNPAUSER_ROLE) {
        S.l().internalTransferPaused = false;
        emit UnpauseInternalTransfer();
    }

    // emergency and suspension ----------------------------------------------------------------

    function activeEmergencyMode() external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().emergencyMode = true;
        emit ActiveEmergencyMode();
    }

    function deactiveEmergencyMode() external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().emergencyMode = false;
        emit DeactiveEmergencyMode();
    }

    function setPartyBEmergencyStatus(address[] memory partyBs, bool status) external role(S.DEFAULT_ADMIN_ROLE) {
        for (uint256 i = 0; i < partyBs.length; i++) {
            require(partyBs[i] != address(0), "ControlFacet: Zero address");
            S.l().partyBEmergencyStatus[partyBs[i]] = status;
            emit SetPartyBEmergencyStatus(partyBs[i], status);
        }
    }

    function suspendedAddress(address user) external role(S.SUSPENDER_ROLE) nonZero(user) {
        emit SetSuspendedAddress(user, true);
        S.l().suspended[user] = true;
    }

    function unsuspendedAddress(address user) external role(S.DEFAULT_ADMIN_ROLE) nonZero(user) {
        emit SetSuspendedAddress(user, false);
        S.l().suspended[user] = false;
    }
}
