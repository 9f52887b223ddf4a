// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Types.sol";

/// Event definitions of protocol-core 0.8.4 (same topic0), incl. the legacy overloads.
abstract contract Events {
    event SendQuote(
        address partyA, uint256 quoteId, address[] partyBsWhiteList, uint256 symbolId, PositionType positionType,
        OrderType orderType, uint256 price, uint256 marketPrice, uint256 quantity, uint256 cva, uint256 lf,
        uint256 partyAmm, uint256 partyBmm, uint256 tradingFee, uint256 deadline
    );
    event LockQuote(address partyB, uint256 quoteId);
    event UnlockQuote(address partyB, uint256 quoteId, QuoteStatus quoteStatus);
    event AllocatePartyB(address partyB, address partyA, uint256 amount);
    event RequestToCancelQuote(address partyA, address partyB, QuoteStatus quoteStatus, uint256 quoteId);
    event AcceptCancelRequest(uint256 quoteId, QuoteStatus quoteStatus);
    event ExpireQuote(QuoteStatus quoteStatus, uint256 quoteId);
    event ExpireQuoteOpen(QuoteStatus quoteStatus, uint256 quoteId);
    event ExpireQuoteClose(QuoteStatus quoteStatus, uint256 quoteId, uint256 closeId);
    event OpenPosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 openedPrice);
    event RequestToClosePosition(
        address partyA, address partyB, uint256 quoteId, uint256 closePrice, uint256 quantityToClose,
        OrderType orderType, uint256 deadline, QuoteStatus quoteStatus, uint256 closeId
    );
    event RequestToClosePosition(
        address partyA, address partyB, uint256 quoteId, uint256 closePrice, uint256 quantityToClose,
        OrderType orderType, uint256 deadline, QuoteStatus quoteStatus
    );
    event RequestToCancelCloseRequest(
        address partyA, address partyB, uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId
    );
    event RequestToCancelCloseRequest(address partyA, address partyB, uint256 quoteId, QuoteStatus quoteStatus);
    event FillCloseRequest(
        uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice,
        QuoteStatus quoteStatus, uint256 closeId
    );
    event FillCloseRequest(
        uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice,
        QuoteStatus quoteStatus
    );
    event AcceptCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId);
    event AcceptCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus);
    event EmergencyClosePosition(
        uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice,
        QuoteStatus quoteStatus, uint256 closeId
    );
    event EmergencyClosePosition(
        uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice,
        QuoteStatus quoteStatus
    );
    event ForceCancelQuote(uint256 quoteId, QuoteStatus quoteStatus);
    event ForceCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId);
    event ForceCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus);
    // liquidation
    event LiquidatePartyA(
        address liquidator, address partyA, uint256 allocatedBalance, int256 upnl, int256 totalUnrealizedLoss,
        bytes liquidationId
    );
    event LiquidatePartyA(
        address liquidator, address partyA, uint256 allocatedBalance, int256 upnl, int256 totalUnrealizedLoss
    );
    event LiquidatePendingPositionsPartyA(
        address liquidator, address partyA, uint256[] quoteIds, uint256[] liquidatedAmounts, bytes liquidationId
    );
    event LiquidatePendingPositionsPartyA(address liquidator, address partyA);
    event LiquidatePositionsPartyA(
        address liquidator, address partyA, uint256[] quoteIds, uint256[] liquidatedAmounts, uint256[] closeIds,
        bytes liquidationId
    );
    event LiquidatePositionsPartyA(address liquidator, address partyA, uint256[] quoteIds);
    event SettlePartyALiquidation(address partyA, address[] partyBs, int256[] amounts, bytes liquidationId);
    event SettlePartyALiquidation(address partyA, address[] partyBs, int256[] amounts);
    event FullyLiquidatedPartyA(address partyA, bytes liquidationId);
    event FullyLiquidatedPartyA(address partyA);
    // accounting
    event Deposit(address sender, address user, uint256 amount);
    event Withdraw(address sender, address user, uint256 amount);
    event AllocatePartyA(address user, uint256 amount, uint256 newAllocatedBalance);
    event AllocatePartyA(address user, uint256 amount);
    event DeallocatePartyA(address user, uint256 amount, uint256 newAllocatedBalance);
    event DeallocatePartyA(address user, uint256 amount);
    event AllocateForPartyB(address partyB, address partyA, uint256 amount, uint256 newAllocatedBalance);
    event AllocateForPartyB(address partyB, address partyA, uint256 amount);
    event DeallocateForPartyB(address partyB, address partyA, uint256 amount, uint256 newAllocatedBalance);
    event DeallocateForPartyB(address partyB, address partyA, uint256 amount);
    event BalanceChangePartyA(address indexed partyA, uint256 amount, BalanceChangeType _type);
    event BalanceChangePartyB(address indexed partyB, address indexed partyA, uint256 amount, BalanceChangeType _type);
    // force close, PartyB liquidation, funding, settlement
    event ForceClosePosition(
        uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice,
        QuoteStatus quoteStatus, uint256 closeId
    );
    event ForceClosePosition(
        uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice,
        QuoteStatus quoteStatus
    );
    event LiquidatePartyB(address liquidator, address partyB, address partyA, uint256 partyBAllocatedBalance, int256 upnl);
    event LiquidatePositionsPartyB(
        address liquidator, address partyB, address partyA, uint256[] quoteIds, uint256[] liquidatedAmounts,
        uint256[] closeIds
    );
    event LiquidatePositionsPartyB(address liquidator, address partyB, address partyA, uint256[] quoteIds);
    event FullyLiquidatedPartyB(address partyB, address partyA);
    event DepositToReserveVault(address sender, address partyB, uint256 amount);
    event WithdrawFromReserveVault(address partyB, uint256 amount);
    event TransferAllocation(
        uint256 amount, address origin, uint256 originNewAllocatedBalance, address recipient,
        uint256 recipientNewAllocatedBalance
    );
    event ChargeFundingRate(address partyB, address partyA, uint256[] quoteIds, int256[] rates);
    event SettleUpnl(
        QuoteSettlementData[] settlementData, uint256[] updatedPrices, address partyA,
        uint256 newPartyAAllocatedBalance, uint256[] newPartyBsAllocatedBalances
    );
    // control
    event RoleGranted(bytes32 role, address user);
    event RoleRevoked(bytes32 role, address user);
    event DeregisterPartyB(address partyB, uint256 index);
    event SetDefaultFeeCollector(address oldDefaultFeeCollector, address newDefaultFeeCollector);
    event SetSymbolFundingState(uint256 symbolId, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime);
    event SetDeallocateCooldown(uint256 oldDeallocateCooldown, uint256 newDeallocateCooldown);
    event SetForceCancelCooldown(uint256 oldForceCancelCooldown, uint256 newForceCancelCooldown);
    event SetForceCancelCloseCooldown(uint256 oldForceCancelCloseCooldown, uint256 newForceCancelCloseCooldown);
    event SetForceCloseCooldowns(
        uint256 oldForceCloseFirstCooldown, uint256 newForceCloseFirstCooldown, uint256 oldForceCloseSecondCooldown,
        uint256 newForceCloseSecondCooldown
    );
    event SetForceClosePricePenalty(uint256 oldPricePenalty, uint256 newPricePenalty);
    event SetForceCloseMinSigPeriod(uint256 oldCloseMinSigPeriod, uint256 newCloseMinSigPeriod);
    event SetForceCloseGapRatio(uint256 symbolId, uint256 oldForceCloseGapRatio, uint256 newForceCloseGapRatio);
    event SetSettlementCooldown(uint256 oldSettlementCooldown, uint256 newSettlementCooldown);
    event SetLiquidatorShare(uint256 oldLiquidatorShare, uint256 newLiquidatorShare);
    event SetLiquidationTimeout(uint256 oldLiquidationTimeout, uint256 newLiquidationTimeout);
    event SetPendingQuotesValidLength(uint256 oldPendingQuotesValidLength, uint256 newPendingQuotesValidLength);
    event SetBalanceLimitPerUser(uint256 balanceLimitPerUser);
    event PauseGlobal();
    event UnpauseGlobal();
    event PauseLiquidation();
    event UnpauseLiquidation();
    event PauseAccounting();
    event UnpauseAccounting();
    event PauseInternalTransfer();
    event UnpauseInternalTransfer();
    event SetCollateral(address collateral);
    event RegisterPartyB(address partyB);
    event AddSymbol(
        uint256 symbolId, string name, uint256 minAcceptableQuoteValue, uint256 minAcceptablePortionLF,
        uint256 tradingFee, uint256 maxLeverage, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime
    );
    event SetSymbolValidationState(uint256 symbolId, bool oldState, bool isValid);
    event SetMuonIds(uint256 muonAppId, address gateway, uint256 x, uint8 parity);
    event SetMuonConfig(uint256 upnlValidTime, uint256 priceValidTime);
    event SetPartyBEmergencyStatus(address partyB, bool status);
    event PausePartyBActions();
    event UnpausePartyBActions();
    event PausePartyAActions();
    event UnpausePartyAActions();
    event ActiveEmergencyMode();
    event DeactiveEmergencyMode();
    event SetSuspendedAddress(address user, bool isSuspended);
}
