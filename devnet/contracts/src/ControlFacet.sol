// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./Storage.sol";

contract ControlFacet is Events {
    modifier role(bytes32 r) {
        S.requireRole(r);
        _;
    }

    function setAdmin(address user) external {
        S.Layout storage s = S.l();
        require(msg.sender == s.owner, "ControlFacet: Sender is not the owner");
        s.roles[user][S.DEFAULT_ADMIN_ROLE] = true;
        emit SetAdmin(user);
        emit RoleGranted(S.DEFAULT_ADMIN_ROLE, user);
    }

    function grantRole(address user, bytes32 r) external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().roles[user][r] = true;
        emit RoleGranted(r, user);
    }

    function revokeRole(address user, bytes32 r) external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().roles[user][r] = false;
    }

    function registerPartyB(address partyB) external role(S.PARTY_B_MANAGER_ROLE) {
        S.Layout storage s = S.l();
        require(!s.partyBStatus[partyB], "ControlFacet: Address is already registered");
        s.partyBStatus[partyB] = true;
        s.partyBList.push(partyB);
        emit RegisterPartyB(partyB);
    }

    function setMuonConfig(uint256 upnlValidTime, uint256 priceValidTime) external role(S.MUON_SETTER_ROLE) {
        S.Layout storage s = S.l();
        s.upnlValidTime = upnlValidTime;
        s.priceValidTime = priceValidTime;
        emit SetMuonConfig(upnlValidTime, priceValidTime);
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

    function setCollateral(address collateral) external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().collateral = collateral;
        emit SetCollateral(collateral);
    }

    function setFeeCollector(address, address feeCollector) external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().feeCollector = feeCollector;
    }

    function addSymbol(
        string memory name, uint256 minAcceptableQuoteValue, uint256 minAcceptablePortionLF, uint256 tradingFee,
        uint256 maxLeverage, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime
    ) external role(S.SYMBOL_MANAGER_ROLE) {
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

    function setSymbolValidationState(uint256 symbolId, bool isValid) external role(S.SYMBOL_MANAGER_ROLE) {
        S.Layout storage s = S.l();
        require(symbolId >= 1 && symbolId <= s.lastSymbolId, "ControlFacet: Invalid id");
        emit SetSymbolValidationState(symbolId, s.symbols[symbolId].isValid, isValid);
        s.symbols[symbolId].isValid = isValid;
    }

    function setDeallocateCooldown(uint256 v) external role(S.SETTER_ROLE) {
        S.l().deallocateCooldown = v;
    }

    function setForceCancelCooldown(uint256 v) external role(S.SETTER_ROLE) {
        S.l().forceCancelCooldown = v;
    }

    function setForceCancelCloseCooldown(uint256 v) external role(S.SETTER_ROLE) {
        S.l().forceCancelCloseCooldown = v;
    }

    function setForceCloseCooldowns(uint256 first, uint256 second) external role(S.SETTER_ROLE) {
        S.Layout storage s = S.l();
        s.forceCloseFirstCooldown = first;
        s.forceCloseSecondCooldown = second;
    }

    function setLiquidationTimeout(uint256 v) external role(S.SETTER_ROLE) {
        S.l().liquidationTimeout = v;
    }

    function setLiquidatorShare(uint256 v) external role(S.SETTER_ROLE) {
        S.l().liquidatorShare = v;
    }

    function setPendingQuotesValidLength(uint256 v) external role(S.SETTER_ROLE) {
        S.l().pendingQuotesValidLength = v;
    }

    function setBalanceLimitPerUser(uint256 v) external role(S.SETTER_ROLE) {
        S.l().balanceLimitPerUser = v;
    }

    function pausePartyBActions() external role(S.PAUSER_ROLE) {
        S.l().partyBActionsPaused = true;
        emit PausePartyBActions();
    }

    function unpausePartyBActions() external role(S.UNPAUSER_ROLE) {
        S.l().partyBActionsPaused = false;
        emit UnpausePartyBActions();
    }

    function pausePartyAActions() external role(S.PAUSER_ROLE) {
        S.l().partyAActionsPaused = true;
        emit PausePartyAActions();
    }

    function unpausePartyAActions() external role(S.UNPAUSER_ROLE) {
        S.l().partyAActionsPaused = false;
        emit UnpausePartyAActions();
    }

    function activeEmergencyMode() external role(S.DEFAULT_ADMIN_ROLE) {
        S.l().emergencyMode = true;
        emit ActiveEmergencyMode();
    }

    function deactiveEmergencyMode() external role(S.UNPAUSER_ROLE) {
        S.l().emergencyMode = false;
        emit DeactiveEmergencyMode();
    }

    function setPartyBEmergencyStatus(address[] memory partyBs, bool status) external role(S.DEFAULT_ADMIN_ROLE) {
        for (uint256 i = 0; i < partyBs.length; i++) {
            S.l().partyBEmergencyStatus[partyBs[i]] = status;
            emit SetPartyBEmergencyStatus(partyBs[i], status);
        }
    }

    function setSuspendedAddress(address user, bool isSuspended) external role(S.SUSPENDER_ROLE) {
        S.l().suspended[user] = isSuspended;
        emit SetSuspendedAddress(user, isSuspended);
    }
}
