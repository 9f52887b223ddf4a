// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Types.sol";

/// Shared diamond storage (one slot, every facet reads the same layout).
library S {
    bytes32 internal constant SLOT = keccak256("symmio-hedger.devnet.storage.v1");
    bytes32 internal constant DEFAULT_ADMIN_ROLE = keccak256("DEFAULT_ADMIN_ROLE");
    bytes32 internal constant MUON_SETTER_ROLE = keccak256("MUON_SETTER_ROLE");
    bytes32 internal constant SYMBOL_MANAGER_ROLE = keccak256("SYMBOL_MANAGER_ROLE");
    bytes32 internal constant SETTER_ROLE = keccak256("SETTER_ROLE");
    bytes32 internal constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 internal constant UNPAUSER_ROLE = keccak256("UNPAUSER_ROLE");
    bytes32 internal constant PARTY_B_MANAGER_ROLE = keccak256("PARTY_B_MANAGER_ROLE");
    bytes32 internal constant LIQUIDATOR_ROLE = keccak256("LIQUIDATOR_ROLE");
    bytes32 internal constant SUSPENDER_ROLE = keccak256("SUSPENDER_ROLE");

    struct Layout {
        // diamond
        address owner;
        mapping(bytes4 => address) facets;
        // roles
        mapping(address => mapping(bytes32 => bool)) roles;
        // accounts
        address collateral;
        address feeCollector;
        mapping(address => uint256) balances;
        mapping(address => uint256) allocatedBalances;
        mapping(address => LockedValues) lockedBalances;
        mapping(address => LockedValues) pendingLockedBalances;
        mapping(address => mapping(address => uint256)) partyBAllocatedBalances;
        mapping(address => mapping(address => LockedValues)) partyBLockedBalances;
        mapping(address => mapping(address => LockedValues)) partyBPendingLockedBalances;
        mapping(address => uint256) partyANonces;
        mapping(address => mapping(address => uint256)) partyBNonces;
        mapping(address => uint256) withdrawCooldown;
        mapping(address => bool) liquidationStatus;
        mapping(address => mapping(address => bool)) partyBLiquidationStatus;
        mapping(address => bool) suspended;
        // quotes
        uint256 lastId;
        uint256 lastCloseId;
        mapping(uint256 => Quote) quotes;
        mapping(uint256 => uint256) closeIds;
        mapping(address => uint256[]) quoteIdsOf;
        mapping(address => uint256[]) partyAPendingQuotes;
        mapping(address => mapping(address => uint256[])) partyBPendingQuotes;
        mapping(address => uint256[]) partyAOpenPositions;
        mapping(address => mapping(address => uint256[])) partyBOpenPositions;
        mapping(uint256 => uint256) partyAPositionIndex;
        mapping(uint256 => uint256) partyBPositionIndex;
        // symbols
        uint256 lastSymbolId;
        mapping(uint256 => Symbol) symbols;
        // MA settings
        uint256 deallocateCooldown;
        uint256 forceCancelCooldown;
        uint256 forceCancelCloseCooldown;
        uint256 forceCloseFirstCooldown;
        uint256 forceCloseSecondCooldown;
        uint256 liquidationTimeout;
        uint256 liquidatorShare;
        uint256 pendingQuotesValidLength;
        uint256 balanceLimitPerUser;
        mapping(address => bool) partyBStatus;
        address[] partyBList;
        // muon
        uint256 upnlValidTime;
        uint256 priceValidTime;
        uint256 muonAppId;
        PublicKey muonPublicKey;
        address validGateway;
        // pause / emergency
        bool globalPaused;
        bool liquidationPaused;
        bool accountingPaused;
        bool partyBActionsPaused;
        bool partyAActionsPaused;
        bool internalTransferPaused;
        bool emergencyMode;
        mapping(address => bool) partyBEmergencyStatus;
        // liquidation
        mapping(address => bytes) liquidationIds;
        mapping(address => int256) liquidationUpnl;
        mapping(address => address[]) liquidationPartyBs;
        mapping(address => mapping(address => int256)) liquidationPartyBAmount;
        // PartyB reserve vault (drawn by force close)
        mapping(address => uint256) reserveVault;
        // settlement
        uint256 settlementCooldown;
        // sender partyB => settled partyB => partyA => timestamp
        mapping(address => mapping(address => mapping(address => uint256))) lastUpnlSettlementTimestamp;
        // force close
        uint256 forceClosePricePenalty;
        uint256 forceCloseMinSigPeriod;
        mapping(uint256 => uint256) forceCloseGapRatio;
        // PartyB liquidation
        mapping(address => mapping(address => uint256)) partyBLiquidationTimestamp;
        mapping(address => mapping(address => uint256)) partyBPositionLiquidatorsShare;
    }

    function l() internal pure returns (Layout storage s) {
        bytes32 slot = SLOT;
        assembly {
            s.slot := slot
        }
    }

    function requireRole(bytes32 role) internal view {
        require(l().roles[msg.sender][role], "Accessibility: Must has role");
    }
}
