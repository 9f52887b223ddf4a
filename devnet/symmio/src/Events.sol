// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Storage.sol";

/// Every event of the 0.8.4 ABI that this devnet diamond emits, including legacy overloads.
abstract contract SymmioEvents {
    event SendQuote(address partyA, uint256 quoteId, address[] partyBsWhiteList, uint256 symbolId,
        PositionType positionType, OrderType orderType, uint256 price, uint256 marketPrice, uint256 quantity,
        uint256 cva, uint256 lf, uint256 partyAmm, uint256 partyBmm, uint256 tradingFee, uint256 deadline);
    event LockQuote(address partyB, uint256 quoteId);
    event UnlockQuote(address partyB, uint256 quoteId, QuoteStatus quoteStatus);
    event AllocatePartyB(address partyB, address partyA, uint256 amount);
    event RequestToCancelQuote(address partyA, address partyB, QuoteStatus quoteStatus, uint256 quoteId);
    event AcceptCancelRequest(uint256 quoteId, QuoteStatus quoteStatus);
    event ExpireQuote(QuoteStatus quoteStatus, uint256 quoteId);
    event ExpireQuoteOpen(QuoteStatus quoteStatus, uint256 quoteId);
    event ExpireQuoteClose(QuoteStatus quoteStatus, uint256 quoteId, uint256 closeId);
    event OpenPosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 openedPrice);
    event RequestToClosePosition(address partyA, address partyB, uint256 quoteId, uint256 closePrice,
        uint256 quantityToClose, OrderType orderType, uint256 deadline, QuoteStatus quoteStatus, uint256 closeId);
    event RequestToClosePosition(address partyA, address partyB, uint256 quoteId, uint256 closePrice,
        uint256 quantityToClose, OrderType orderType, uint256 deadline, QuoteStatus quoteStatus);
    event RequestToCancelCloseRequest(address partyA, address partyB, uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId);
    event RequestToCancelCloseRequest(address partyA, address partyB, uint256 quoteId, QuoteStatus quoteStatus);
    event FillCloseRequest(uint256 quoteId, address partyA, address partyB, uint256 filledAmount,
        uint256 closedPrice, QuoteStatus quoteStatus, uint256 closeId);
    event FillCloseRequest(uint256 quoteId, address partyA, address partyB, uint256 filledAmount,
        uint256 closedPrice, QuoteStatus quoteStatus);
    event AcceptCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId);
    event AcceptCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus);
    event EmergencyClosePosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount,
        uint256 closedPrice, QuoteStatus quoteStatus, uint256 closeId);
    event EmergencyClosePosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount,
        uint256 closedPrice, QuoteStatus quoteStatus);
    event ForceCancelQuote(uint256 quoteId, QuoteStatus quoteStatus);
    event ForceCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId);
    event ForceCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus);
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
    // control
    event RoleGranted(bytes32 role, address user);
    event RoleRevoked(bytes32 role, address user);
    event SetAdmin(address user);
    event SetCollateral(address collateral);
    event RegisterPartyB(address partyB);
    event AddSymbol(uint256 symbolId, string name, uint256 minAcceptableQuoteValue, uint256 minAcceptablePortionLF,
        uint256 tradingFee, uint256 maxLeverage, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime);
    event SetSymbolValidationState(uint256 symbolId, bool oldState, bool isValid);
    event SetMuonIds(uint256 muonAppId, address gateway, uint256 x, uint8 parity);
    event SetMuonConfig(uint256 upnlValidTime, uint256 priceValidTime);
    event SetPendingQuotesValidLength(uint256 oldPendingQuotesValidLength, uint256 pendingQuotesValidLength);
    event SetBalanceLimitPerUser(uint256 balanceLimitPerUser);
    event SetDeallocateCooldown(uint256 oldDeallocateCooldown, uint256 newDeallocateCooldown);
    event SetForceCancelCooldown(uint256 oldForceCancelCooldown, uint256 newForceCancelCooldown);
    event SetForceCancelCloseCooldown(uint256 oldForceCancelCloseCooldown, uint256 newForceCancelCloseCooldown);
    event SetForceCloseCooldowns(uint256 oldFirst, uint256 newFirst, uint256 oldSecond, uint256 newSecond);
    event SetLiquidationTimeout(uint256 oldLiquidationTimeout, uint256 newLiquidationTimeout);
    event SetPartyBEmergencyStatus(address partyB, bool status);
    event SetDefaultFeeCollector(address oldDefaultFeeCollector, address newDefaultFeeCollector);
    event PausePartyBActions();
    event UnpausePartyBActions();
    event ActiveEmergencyMode();
    event DeactiveEmergencyMode();
}
