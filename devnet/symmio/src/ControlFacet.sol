// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Base.sol";

/// Admin/setters (ControlFacet of 0.8.4, same signatures).
contract ControlFacet is FacetBase {
    function setAdmin(address user) external {
        LibStore.Layout storage l = LibStore.layout();
        require(msg.sender == l.owner, "LibDiamond: Must be contract owner");
        l.roles[LibStore.DEFAULT_ADMIN_ROLE][user] = true;
        emit RoleGranted(LibStore.DEFAULT_ADMIN_ROLE, user);
        emit SetAdmin(user);
    }

    function grantRole(address user, bytes32 role) external onlyRole(LibStore.DEFAULT_ADMIN_ROLE) {
        require(user != address(0), "ControlFacet: Zero address");
        LibStore.layout().roles[role][user] = true;
        emit RoleGranted(role, user);
    }

    function revokeRole(address user, bytes32 role) external onlyRole(LibStore.DEFAULT_ADMIN_ROLE) {
        LibStore.layout().roles[role][user] = false;
        emit RoleRevoked(role, user);
    }

    function hasRole(address user, bytes32 role) external view returns (bool) {
        return LibStore.layout().roles[role][user];
    }

    function setCollateral(address collateral) external onlyRole(LibStore.DEFAULT_ADMIN_ROLE) {
        require(IERC20Min(collateral).decimals() <= 18, "ControlFacet: Invalid decimals");
        LibStore.layout().collateral = collateral;
        emit SetCollateral(collateral);
    }

    function registerPartyB(address partyB) external onlyRole(LibStore.PARTY_B_MANAGER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.partyBStatus[partyB], "ControlFacet: Address is already registered");
        l.partyBStatus[partyB] = true;
        l.partyBList.push(partyB);
        emit RegisterPartyB(partyB);
    }

    function setMuonConfig(uint256 upnlValidTime, uint256 priceValidTime) external onlyRole(LibStore.MUON_SETTER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        l.upnlValidTime = upnlValidTime;
        l.priceValidTime = priceValidTime;
        emit SetMuonConfig(upnlValidTime, priceValidTime);
    }

    function setMuonIds(uint256 muonAppId, address validGateway, PublicKey memory publicKey)
        external onlyRole(LibStore.MUON_SETTER_ROLE)
    {
        LibStore.Layout storage l = LibStore.layout();
        l.muonAppId = muonAppId;
        l.validGateway = validGateway;
        l.muonPublicKey = publicKey;
        emit SetMuonIds(muonAppId, validGateway, publicKey.x, publicKey.parity);
    }

    function setDefaultFeeCollector(address collector) external onlyRole(LibStore.DEFAULT_ADMIN_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        emit SetDefaultFeeCollector(l.defaultFeeCollector, collector);
        l.defaultFeeCollector = collector;
    }

    function addSymbol(
        string memory name, uint256 minAcceptableQuoteValue, uint256 minAcceptablePortionLF, uint256 tradingFee,
        uint256 maxLeverage, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime
    ) external onlyRole(LibStore.SYMBOL_MANAGER_ROLE) {
        require(fundingRateWindowTime < fundingRateEpochDuration / 2, "ControlFacet: High window time");
        require(tradingFee <= 1e18, "ControlFacet: High trading fee");
        LibStore.Layout storage l = LibStore.layout();
        uint256 id = ++l.lastSymbolId;
        l.symbols[id] = Symbol(id, name, true, minAcceptableQuoteValue, minAcceptablePortionLF, tradingFee,
            maxLeverage, fundingRateEpochDuration, fundingRateWindowTime);
        emit AddSymbol(id, name, minAcceptableQuoteValue, minAcceptablePortionLF, tradingFee, maxLeverage,
            fundingRateEpochDuration, fundingRateWindowTime);
    }

    function setSymbolValidationState(uint256 symbolId, bool isValid) external onlyRole(LibStore.SYMBOL_MANAGER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        require(symbolId >= 1 && symbolId <= l.lastSymbolId, "ControlFacet: Invalid id");
        emit SetSymbolValidationState(symbolId, l.symbols[symbolId].isValid, isValid);
        l.symbols[symbolId].isValid = isValid;
    }

    function setPendingQuotesValidLength(uint256 v) external onlyRole(LibStore.SETTER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        emit SetPendingQuotesValidLength(l.pendingQuotesValidLength, v);
        l.pendingQuotesValidLength = v;
    }

    function setBalanceLimitPerUser(uint256 v) external onlyRole(LibStore.DEFAULT_ADMIN_ROLE) {
        LibStore.layout().balanceLimitPerUser = v;
        emit SetBalanceLimitPerUser(v);
    }

    function setDeallocateCooldown(uint256 v) external onlyRole(LibStore.SETTER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        emit SetDeallocateCooldown(l.deallocateCooldown, v);
        l.deallocateCooldown = v;
    }

    function setForceCancelCooldown(uint256 v) external onlyRole(LibStore.SETTER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        emit SetForceCancelCooldown(l.forceCancelCooldown, v);
        l.forceCancelCooldown = v;
    }

    function setForceCancelCloseCooldown(uint256 v) external onlyRole(LibStore.SETTER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        emit SetForceCancelCloseCooldown(l.forceCancelCloseCooldown, v);
        l.forceCancelCloseCooldown = v;
    }

    function setForceCloseCooldowns(uint256 first, uint256 second) external onlyRole(LibStore.SETTER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        emit SetForceCloseCooldowns(l.forceCloseFirstCooldown, first, l.forceCloseSecondCooldown, second);
        l.forceCloseFirstCooldown = first;
        l.forceCloseSecondCooldown = second;
    }

    function setLiquidationTimeout(uint256 v) external onlyRole(LibStore.SETTER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        emit SetLiquidationTimeout(l.liquidationTimeout, v);
        l.liquidationTimeout = v;
    }

    function setPartyBEmergencyStatus(address[] memory partyBs, bool status) external onlyRole(LibStore.SETTER_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        for (uint256 i = 0; i < partyBs.length; i++) {
            l.partyBEmergencyStatus[partyBs[i]] = status;
            emit SetPartyBEmergencyStatus(partyBs[i], status);
        }
    }

    function pausePartyBActions() external onlyRole(LibStore.PAUSER_ROLE) {
        LibStore.layout().partyBActionsPaused = true;
        emit PausePartyBActions();
    }

    function unpausePartyBActions() external onlyRole(LibStore.UNPAUSER_ROLE) {
        LibStore.layout().partyBActionsPaused = false;
        emit UnpausePartyBActions();
    }

    function activeEmergencyMode() external onlyRole(LibStore.DEFAULT_ADMIN_ROLE) {
        LibStore.layout().emergencyMode = true;
        emit ActiveEmergencyMode();
    }

    function deactiveEmergencyMode() external onlyRole(LibStore.DEFAULT_ADMIN_ROLE) {
        LibStore.layout().emergencyMode = false;
        emit DeactiveEmergencyMode();
    }
}
