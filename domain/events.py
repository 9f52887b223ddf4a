"""Decoders for the events of the SYMMIO diamond (protocol-core 0.8.4), keyed by topic0.

Pure: no I/O. `decode_log(log)` turns one raw log (as returned by ``eth_getLogs`` /
``eth_subscribe`` / web3, or the JSON in symmio-vectors/logs.json) into a frozen, typed dataclass.

* Events are identified by **topic0**, never by name: several actions emit the same name twice
  (the current form and a shorter "backward compatibility" overload, SYMMIO.md §2.3).
* Both forms decode to the **same class**; the class name is the event's `canonical_name`, and
  `legacy` tells the forms apart (fields the legacy form lacks are ``None``). A consumer applies
  an action once: e.g. react to ``not event.legacy``, or dedupe on `logical_key`. The legacy
  ``ExpireQuote(status, id)`` maps to `ExpireQuoteOpen` when the status is EXPIRED and to
  `ExpireQuoteClose` otherwise (SYMMIO.md §2.2).
* `EventKey(block_number, tx_hash, log_index)` identifies a log for exactly-once handling.
* Anything malformed (wrong topic count, truncated data, bad enum value, ...) raises
  `UndecodableLog`; an unknown topic0 raises `UnknownEvent` (a subclass), and `try_decode_log`
  returns ``None`` for unknown topic0 only.

All the event definitions live in `EVENT_DEFINITIONS` below (Solidity signatures as strings,
with parameter names and SYMMIO enum type names); topic0 is computed with keccak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any, ClassVar

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from domain.enums import BalanceChangeType, OrderType, PositionType, QuoteStatus

# ---------------------------------------------------------------------------------------------
# Errors and keys


class UndecodableLog(ValueError):
    """A log that cannot be decoded as the SYMMIO event its topic0 names (or has no topic0)."""

    def __init__(self, message: str, log: Mapping[str, Any] | None = None) -> None:
        where = ""
        if log is not None:
            tx = log.get("transactionHash")
            where = f" (tx {_hex_or_str(tx)}, logIndex {log.get('logIndex')})"
        super().__init__(message + where)
        self.log = log


class UnknownEvent(UndecodableLog):
    """topic0 is not one of the SYMMIO events this module knows."""


@dataclass(frozen=True, slots=True, order=True)
class EventKey:
    """Where a log sits on chain; unique per log, stable across listeners and replays."""

    block_number: int
    tx_hash: str  # 0x-prefixed lowercase hex
    log_index: int

    def __str__(self) -> str:
        return f"{self.block_number}:{self.tx_hash}:{self.log_index}"


@dataclass(frozen=True, slots=True)
class QuoteSettlementData:
    """`QuoteSettlementData{quoteId, currentPrice, partyBUpnlIndex}` (SettleUpnl)."""

    quote_id: int
    current_price: int
    party_b_upnl_index: int


# ---------------------------------------------------------------------------------------------
# Event classes: one per logical (canonical) event


@dataclass(frozen=True, slots=True, kw_only=True)
class SymmioEvent:
    """Common part of every decoded SYMMIO event."""

    key: EventKey
    address: str  # emitting contract (the diamond), checksummed
    topic0: str
    signature: str  # canonical ABI signature of the form that was emitted
    legacy: bool  # True for the "backward compatibility" overload
    removed: bool = False  # set by a node when a reorg removed the log
    block_hash: str | None = None

    @property
    def canonical_name(self) -> str:
        return type(self).__name__

    def logical_key(self) -> tuple[Any, ...]:
        """Same value for the current and legacy forms of one action within a transaction."""
        ident = tuple(
            getattr(self, name)
            for name in ("quote_id", "party_a", "party_b", "user", "symbol_id")
            if hasattr(self, name)
        )
        return (self.key.tx_hash, self.canonical_name, ident)


# Quote / position flow -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SendQuote(SymmioEvent):
    party_a: str
    quote_id: int
    party_bs_white_list: tuple[str, ...]
    symbol_id: int
    position_type: PositionType
    order_type: OrderType
    price: int
    market_price: int
    quantity: int
    cva: int
    lf: int
    party_amm: int
    party_bmm: int
    trading_fee: int
    deadline: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LockQuote(SymmioEvent):
    party_b: str
    quote_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UnlockQuote(SymmioEvent):
    party_b: str
    quote_id: int
    quote_status: QuoteStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocatePartyB(SymmioEvent):
    party_b: str
    party_a: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestToCancelQuote(SymmioEvent):
    party_a: str
    party_b: str
    quote_status: QuoteStatus
    quote_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptCancelRequest(SymmioEvent):
    quote_id: int
    quote_status: QuoteStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireQuoteOpen(SymmioEvent):
    quote_status: QuoteStatus
    quote_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireQuoteClose(SymmioEvent):
    quote_status: QuoteStatus
    quote_id: int
    close_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenPosition(SymmioEvent):
    quote_id: int
    party_a: str
    party_b: str
    filled_amount: int
    opened_price: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestToClosePosition(SymmioEvent):
    party_a: str
    party_b: str
    quote_id: int
    close_price: int
    quantity_to_close: int
    order_type: OrderType
    deadline: int
    quote_status: QuoteStatus
    close_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestToCancelCloseRequest(SymmioEvent):
    party_a: str
    party_b: str
    quote_id: int
    quote_status: QuoteStatus
    close_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _CloseFill(SymmioEvent):
    quote_id: int
    party_a: str
    party_b: str
    filled_amount: int
    closed_price: int
    quote_status: QuoteStatus
    close_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FillCloseRequest(_CloseFill):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class EmergencyClosePosition(_CloseFill):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ForceClosePosition(_CloseFill):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptCancelCloseRequest(SymmioEvent):
    quote_id: int
    quote_status: QuoteStatus
    close_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ForceCancelQuote(SymmioEvent):
    quote_id: int
    quote_status: QuoteStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class ForceCancelCloseRequest(SymmioEvent):
    quote_id: int
    quote_status: QuoteStatus
    close_id: int | None = None


# Liquidation -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidatePartyA(SymmioEvent):
    liquidator: str
    party_a: str
    allocated_balance: int
    upnl: int
    total_unrealized_loss: int
    liquidation_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeferredLiquidatePartyA(SymmioEvent):
    liquidator: str
    party_a: str
    allocated_balance: int
    upnl: int
    total_unrealized_loss: int
    liquidation_id: bytes
    liquidation_block_number: int
    liquidation_timestamp: int
    liquidation_allocated_balance: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidatePendingPositionsPartyA(SymmioEvent):
    liquidator: str
    party_a: str
    quote_ids: tuple[int, ...] | None = None
    liquidated_amounts: tuple[int, ...] | None = None
    liquidation_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidatePositionsPartyA(SymmioEvent):
    liquidator: str
    party_a: str
    quote_ids: tuple[int, ...]
    liquidated_amounts: tuple[int, ...] | None = None
    close_ids: tuple[int, ...] | None = None
    liquidation_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlePartyALiquidation(SymmioEvent):
    party_a: str
    party_bs: tuple[str, ...]
    amounts: tuple[int, ...]
    liquidation_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationDisputed(SymmioEvent):
    party_a: str
    liquidation_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeForLiquidation(SymmioEvent):
    liquidator: str
    party_a: str
    liquidation_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveLiquidationDispute(SymmioEvent):
    party_a: str
    party_bs: tuple[str, ...]
    amounts: tuple[int, ...]
    disputed: bool
    liquidation_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FullyLiquidatedPartyA(SymmioEvent):
    party_a: str
    liquidation_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSymbolsPrices(SymmioEvent):
    liquidator: str
    party_a: str
    symbol_ids: tuple[int, ...]
    prices: tuple[int, ...]
    liquidation_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidatePartyB(SymmioEvent):
    liquidator: str
    party_b: str
    party_a: str
    party_b_allocated_balance: int
    upnl: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidatePositionsPartyB(SymmioEvent):
    liquidator: str
    party_b: str
    party_a: str
    quote_ids: tuple[int, ...]
    liquidated_amounts: tuple[int, ...] | None = None
    close_ids: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FullyLiquidatedPartyB(SymmioEvent):
    party_b: str
    party_a: str


# Accounting ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Deposit(SymmioEvent):
    sender: str
    user: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Withdraw(SymmioEvent):
    sender: str
    user: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocatePartyA(SymmioEvent):
    user: str
    amount: int
    new_allocated_balance: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeallocatePartyA(SymmioEvent):
    user: str
    amount: int
    new_allocated_balance: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InternalTransfer(SymmioEvent):
    sender: str
    user: str
    user_new_allocated_balance: int
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocateForPartyB(SymmioEvent):
    party_b: str
    party_a: str
    amount: int
    new_allocated_balance: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeallocateForPartyB(SymmioEvent):
    party_b: str
    party_a: str
    amount: int
    new_allocated_balance: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferAllocation(SymmioEvent):
    amount: int
    origin: str
    recipient: str
    origin_new_allocated_balance: int | None = None
    recipient_new_allocated_balance: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DepositToReserveVault(SymmioEvent):
    sender: str
    party_b: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawFromReserveVault(SymmioEvent):
    party_b: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeFundingRate(SymmioEvent):
    party_b: str
    party_a: str
    quote_ids: tuple[int, ...]
    rates: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SettleUpnl(SymmioEvent):
    settlement_data: tuple[QuoteSettlementData, ...]
    updated_prices: tuple[int, ...]
    party_a: str
    new_party_a_allocated_balance: int
    new_party_bs_allocated_balances: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceChangePartyA(SymmioEvent):
    party_a: str
    amount: int
    change_type: BalanceChangeType


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceChangePartyB(SymmioEvent):
    party_b: str
    party_a: str
    amount: int
    change_type: BalanceChangeType


# Admin -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterPartyB(SymmioEvent):
    party_b: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeregisterPartyB(SymmioEvent):
    party_b: str
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AddSymbol(SymmioEvent):
    symbol_id: int
    name: str
    min_acceptable_quote_value: int
    min_acceptable_portion_lf: int
    trading_fee: int
    max_leverage: int
    funding_rate_epoch_duration: int
    funding_rate_window_time: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSymbolValidationState(SymmioEvent):
    symbol_id: int
    old_state: bool
    is_valid: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSymbolMaxLeverage(SymmioEvent):
    symbol_id: int
    old_max_leverage: int
    max_leverage: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSymbolTradingFee(SymmioEvent):
    symbol_id: int
    old_trading_fee: int
    trading_fee: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSymbolAcceptableValues(SymmioEvent):
    symbol_id: int
    old_min_acceptable_quote_value: int
    old_min_acceptable_portion_lf: int
    min_acceptable_quote_value: int
    min_acceptable_portion_lf: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSymbolFundingState(SymmioEvent):
    symbol_id: int
    funding_rate_epoch_duration: int
    funding_rate_window_time: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMuonIds(SymmioEvent):
    muon_app_id: int
    gateway: str
    x: int
    parity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMuonConfig(SymmioEvent):
    upnl_valid_time: int
    price_valid_time: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPartyBEmergencyStatus(SymmioEvent):
    party_b: str
    status: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSuspendedAddress(SymmioEvent):
    user: str
    is_suspended: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PausePartyBActions(SymmioEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpausePartyBActions(SymmioEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseGlobal(SymmioEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpauseGlobal(SymmioEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveEmergencyMode(SymmioEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class DeactiveEmergencyMode(SymmioEvent):
    pass


# ---------------------------------------------------------------------------------------------
# The table. The legacy `ExpireQuote` is listed under ExpireQuoteOpen; `decode_log` turns it into
# ExpireQuoteClose when its status is not EXPIRED.
# One line per event form: (class, legacy?, Solidity signature with parameter names).
# Enum parameters carry their SYMMIO type name (ABI type uint8); `indexed` is marked.
# fmt: off
EVENT_DEFINITIONS: tuple[tuple[type[SymmioEvent], bool, str], ...] = (
    (SendQuote, False, "SendQuote(address partyA, uint256 quoteId, address[] partyBsWhiteList, uint256 symbolId, PositionType positionType, OrderType orderType, uint256 price, uint256 marketPrice, uint256 quantity, uint256 cva, uint256 lf, uint256 partyAmm, uint256 partyBmm, uint256 tradingFee, uint256 deadline)"),
    (LockQuote, False, "LockQuote(address partyB, uint256 quoteId)"),
    (UnlockQuote, False, "UnlockQuote(address partyB, uint256 quoteId, QuoteStatus quoteStatus)"),
    (AllocatePartyB, False, "AllocatePartyB(address partyB, address partyA, uint256 amount)"),
    (RequestToCancelQuote, False, "RequestToCancelQuote(address partyA, address partyB, QuoteStatus quoteStatus, uint256 quoteId)"),
    (AcceptCancelRequest, False, "AcceptCancelRequest(uint256 quoteId, QuoteStatus quoteStatus)"),
    (ExpireQuoteOpen, True, "ExpireQuote(QuoteStatus quoteStatus, uint256 quoteId)"),
    (ExpireQuoteOpen, False, "ExpireQuoteOpen(QuoteStatus quoteStatus, uint256 quoteId)"),
    (ExpireQuoteClose, False, "ExpireQuoteClose(QuoteStatus quoteStatus, uint256 quoteId, uint256 closeId)"),
    (OpenPosition, False, "OpenPosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 openedPrice)"),
    (RequestToClosePosition, False, "RequestToClosePosition(address partyA, address partyB, uint256 quoteId, uint256 closePrice, uint256 quantityToClose, OrderType orderType, uint256 deadline, QuoteStatus quoteStatus, uint256 closeId)"),
    (RequestToClosePosition, True, "RequestToClosePosition(address partyA, address partyB, uint256 quoteId, uint256 closePrice, uint256 quantityToClose, OrderType orderType, uint256 deadline, QuoteStatus quoteStatus)"),
    (RequestToCancelCloseRequest, False, "RequestToCancelCloseRequest(address partyA, address partyB, uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId)"),
    (RequestToCancelCloseRequest, True, "RequestToCancelCloseRequest(address partyA, address partyB, uint256 quoteId, QuoteStatus quoteStatus)"),
    (FillCloseRequest, False, "FillCloseRequest(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice, QuoteStatus quoteStatus, uint256 closeId)"),
    (FillCloseRequest, True, "FillCloseRequest(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice, QuoteStatus quoteStatus)"),
    (AcceptCancelCloseRequest, False, "AcceptCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId)"),
    (AcceptCancelCloseRequest, True, "AcceptCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus)"),
    (EmergencyClosePosition, False, "EmergencyClosePosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice, QuoteStatus quoteStatus, uint256 closeId)"),
    (EmergencyClosePosition, True, "EmergencyClosePosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice, QuoteStatus quoteStatus)"),
    (ForceCancelQuote, False, "ForceCancelQuote(uint256 quoteId, QuoteStatus quoteStatus)"),
    (ForceCancelCloseRequest, False, "ForceCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus, uint256 closeId)"),
    (ForceCancelCloseRequest, True, "ForceCancelCloseRequest(uint256 quoteId, QuoteStatus quoteStatus)"),
    (ForceClosePosition, False, "ForceClosePosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice, QuoteStatus quoteStatus, uint256 closeId)"),
    (ForceClosePosition, True, "ForceClosePosition(uint256 quoteId, address partyA, address partyB, uint256 filledAmount, uint256 closedPrice, QuoteStatus quoteStatus)"),
    (LiquidatePartyA, False, "LiquidatePartyA(address liquidator, address partyA, uint256 allocatedBalance, int256 upnl, int256 totalUnrealizedLoss, bytes liquidationId)"),
    (LiquidatePartyA, True, "LiquidatePartyA(address liquidator, address partyA, uint256 allocatedBalance, int256 upnl, int256 totalUnrealizedLoss)"),
    (DeferredLiquidatePartyA, False, "DeferredLiquidatePartyA(address liquidator, address partyA, uint256 allocatedBalance, int256 upnl, int256 totalUnrealizedLoss, bytes liquidationId, uint256 liquidationBlockNumber, uint256 liquidationTimestamp, uint256 liquidationAllocatedBalance)"),
    (LiquidatePendingPositionsPartyA, False, "LiquidatePendingPositionsPartyA(address liquidator, address partyA, uint256[] quoteIds, uint256[] liquidatedAmounts, bytes liquidationId)"),
    (LiquidatePendingPositionsPartyA, True, "LiquidatePendingPositionsPartyA(address liquidator, address partyA)"),
    (LiquidatePositionsPartyA, False, "LiquidatePositionsPartyA(address liquidator, address partyA, uint256[] quoteIds, uint256[] liquidatedAmounts, uint256[] closeIds, bytes liquidationId)"),
    (LiquidatePositionsPartyA, True, "LiquidatePositionsPartyA(address liquidator, address partyA, uint256[] quoteIds)"),
    (SettlePartyALiquidation, False, "SettlePartyALiquidation(address partyA, address[] partyBs, int256[] amounts, bytes liquidationId)"),
    (SettlePartyALiquidation, True, "SettlePartyALiquidation(address partyA, address[] partyBs, int256[] amounts)"),
    (LiquidationDisputed, False, "LiquidationDisputed(address partyA, bytes liquidationId)"),
    (LiquidationDisputed, True, "LiquidationDisputed(address partyA)"),
    (DisputeForLiquidation, False, "DisputeForLiquidation(address liquidator, address partyA, bytes liquidationId)"),
    (ResolveLiquidationDispute, False, "ResolveLiquidationDispute(address partyA, address[] partyBs, int256[] amounts, bool disputed, bytes liquidationId)"),
    (ResolveLiquidationDispute, True, "ResolveLiquidationDispute(address partyA, address[] partyBs, int256[] amounts, bool disputed)"),
    (FullyLiquidatedPartyA, False, "FullyLiquidatedPartyA(address partyA, bytes liquidationId)"),
    (FullyLiquidatedPartyA, True, "FullyLiquidatedPartyA(address partyA)"),
    (SetSymbolsPrices, False, "SetSymbolsPrices(address liquidator, address partyA, uint256[] symbolIds, uint256[] prices, bytes liquidationId)"),
    (SetSymbolsPrices, True, "SetSymbolsPrices(address liquidator, address partyA, uint256[] symbolIds, uint256[] prices)"),
    (LiquidatePartyB, False, "LiquidatePartyB(address liquidator, address partyB, address partyA, uint256 partyBAllocatedBalance, int256 upnl)"),
    (LiquidatePositionsPartyB, False, "LiquidatePositionsPartyB(address liquidator, address partyB, address partyA, uint256[] quoteIds, uint256[] liquidatedAmounts, uint256[] closeIds)"),
    (LiquidatePositionsPartyB, True, "LiquidatePositionsPartyB(address liquidator, address partyB, address partyA, uint256[] quoteIds)"),
    (FullyLiquidatedPartyB, False, "FullyLiquidatedPartyB(address partyB, address partyA)"),
    (Deposit, False, "Deposit(address sender, address user, uint256 amount)"),
    (Withdraw, False, "Withdraw(address sender, address user, uint256 amount)"),
    (AllocatePartyA, False, "AllocatePartyA(address user, uint256 amount, uint256 newAllocatedBalance)"),
    (AllocatePartyA, True, "AllocatePartyA(address user, uint256 amount)"),
    (DeallocatePartyA, False, "DeallocatePartyA(address user, uint256 amount, uint256 newAllocatedBalance)"),
    (DeallocatePartyA, True, "DeallocatePartyA(address user, uint256 amount)"),
    (InternalTransfer, False, "InternalTransfer(address sender, address user, uint256 userNewAllocatedBalance, uint256 amount)"),
    (AllocateForPartyB, False, "AllocateForPartyB(address partyB, address partyA, uint256 amount, uint256 newAllocatedBalance)"),
    (AllocateForPartyB, True, "AllocateForPartyB(address partyB, address partyA, uint256 amount)"),
    (DeallocateForPartyB, False, "DeallocateForPartyB(address partyB, address partyA, uint256 amount, uint256 newAllocatedBalance)"),
    (DeallocateForPartyB, True, "DeallocateForPartyB(address partyB, address partyA, uint256 amount)"),
    (TransferAllocation, False, "TransferAllocation(uint256 amount, address origin, uint256 originNewAllocatedBalance, address recipient, uint256 recipientNewAllocatedBalance)"),
    (TransferAllocation, True, "TransferAllocation(uint256 amount, address origin, address recipient)"),
    (DepositToReserveVault, False, "DepositToReserveVault(address sender, address partyB, uint256 amount)"),
    (WithdrawFromReserveVault, False, "WithdrawFromReserveVault(address partyB, uint256 amount)"),
    (ChargeFundingRate, False, "ChargeFundingRate(address partyB, address partyA, uint256[] quoteIds, int256[] rates)"),
    (SettleUpnl, False, "SettleUpnl(QuoteSettlementData[] settlementData, uint256[] updatedPrices, address partyA, uint256 newPartyAAllocatedBalance, uint256[] newPartyBsAllocatedBalances)"),
    (BalanceChangePartyA, False, "BalanceChangePartyA(address indexed partyA, uint256 amount, BalanceChangeType _type)"),
    (BalanceChangePartyB, False, "BalanceChangePartyB(address indexed partyB, address indexed partyA, uint256 amount, BalanceChangeType _type)"),
    (RegisterPartyB, False, "RegisterPartyB(address partyB)"),
    (DeregisterPartyB, False, "DeregisterPartyB(address partyB, uint256 index)"),
    (AddSymbol, False, "AddSymbol(uint256 symbolId, string name, uint256 minAcceptableQuoteValue, uint256 minAcceptablePortionLF, uint256 tradingFee, uint256 maxLeverage, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime)"),
    (SetSymbolValidationState, False, "SetSymbolValidationState(uint256 symbolId, bool oldState, bool isValid)"),
    (SetSymbolMaxLeverage, False, "SetSymbolMaxLeverage(uint256 symbolId, uint256 oldMaxLeverage, uint256 maxLeverage)"),
    (SetSymbolTradingFee, False, "SetSymbolTradingFee(uint256 symbolId, uint256 oldTradingFee, uint256 tradingFee)"),
    (SetSymbolAcceptableValues, False, "SetSymbolAcceptableValues(uint256 symbolId, uint256 oldMinAcceptableQuoteValue, uint256 oldMinAcceptablePortionLF, uint256 minAcceptableQuoteValue, uint256 minAcceptablePortionLF)"),
    (SetSymbolFundingState, False, "SetSymbolFundingState(uint256 symbolId, uint256 fundingRateEpochDuration, uint256 fundingRateWindowTime)"),
    (SetMuonIds, False, "SetMuonIds(uint256 muonAppId, address gateway, uint256 x, uint8 parity)"),
    (SetMuonConfig, False, "SetMuonConfig(uint256 upnlValidTime, uint256 priceValidTime)"),
    (SetPartyBEmergencyStatus, False, "SetPartyBEmergencyStatus(address partyB, bool status)"),
    (SetSuspendedAddress, False, "SetSuspendedAddress(address user, bool isSuspended)"),
    (PausePartyBActions, False, "PausePartyBActions()"),
    (UnpausePartyBActions, False, "UnpausePartyBActions()"),
    (PauseGlobal, False, "PauseGlobal()"),
    (UnpauseGlobal, False, "UnpauseGlobal()"),
    (ActiveEmergencyMode, False, "ActiveEmergencyMode()"),
    (DeactiveEmergencyMode, False, "DeactiveEmergencyMode()"),
)
# fmt: on

# Solidity user types → (ABI type, converter)
_ENUMS: dict[str, type[IntEnum]] = {
    "QuoteStatus": QuoteStatus,
    "PositionType": PositionType,
    "OrderType": OrderType,
    "BalanceChangeType": BalanceChangeType,
}
_STRUCTS: dict[str, str] = {"QuoteSettlementData": "(uint256,uint256,uint8)"}
_RENAMES: dict[str, str] = {"_type": "change_type"}


def _snake(name: str) -> str:
    if name in _RENAMES:
        return _RENAMES[name]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


@dataclass(frozen=True, slots=True)
class Param:
    name: str  # Solidity name
    field: str  # dataclass field
    sol_type: str  # as written (may be an enum / struct name)
    abi_type: str  # canonical ABI type
    indexed: bool


@dataclass(frozen=True, slots=True)
class EventSpec:
    cls: type[SymmioEvent]
    legacy: bool
    name: str
    params: tuple[Param, ...]
    signature: str  # canonical, e.g. "LockQuote(address,uint256)"
    topic0: str  # 0x-prefixed lowercase hex
    indexed: tuple[Param, ...] = field(default=())
    data: tuple[Param, ...] = field(default=())
    data_types: tuple[str, ...] = field(default=())
    static_data_size: int | None = None  # exact data length when every data param is static

    KNOWN_STATIC: ClassVar[re.Pattern[str]] = re.compile(r"^(u?int\d+|address|bool|bytes\d+)$")


def _abi_type(sol_type: str) -> str:
    base, suffix = (sol_type[:-2], "[]") if sol_type.endswith("[]") else (sol_type, "")
    if base in _ENUMS:
        base = "uint8"
    elif base in _STRUCTS:
        base = _STRUCTS[base]
    return base + suffix


def _parse(cls: type[SymmioEvent], legacy: bool, definition: str) -> EventSpec:
    m = re.fullmatch(r"(\w+)\((.*)\)", definition.strip())
    if not m:
        raise ValueError(f"bad event definition {definition!r}")
    name, body = m.group(1), m.group(2).strip()
    params: list[Param] = []
    for raw in [p.strip() for p in body.split(",")] if body else []:
        words = raw.split()
        indexed = "indexed" in words
        words = [w for w in words if w != "indexed"]
        if len(words) != 2:
            raise ValueError(f"bad parameter {raw!r} in {definition!r}")
        sol_type, pname = words
        params.append(Param(pname, _snake(pname), sol_type, _abi_type(sol_type), indexed))
    signature = f"{name}({','.join(p.abi_type for p in params)})"
    topic0 = "0x" + keccak(text=signature).hex()
    data = tuple(p for p in params if not p.indexed)
    static = all(EventSpec.KNOWN_STATIC.match(p.abi_type) for p in data)
    return EventSpec(
        cls=cls,
        legacy=legacy,
        name=name,
        params=tuple(params),
        signature=signature,
        topic0=topic0,
        indexed=tuple(p for p in params if p.indexed),
        data=data,
        data_types=tuple(p.abi_type for p in data),
        static_data_size=32 * len(data) if static else None,
    )


def _build_specs() -> dict[str, EventSpec]:
    specs: dict[str, EventSpec] = {}
    base_fields = {f.name for f in fields(SymmioEvent)}
    for cls, legacy, definition in EVENT_DEFINITIONS:
        spec = _parse(cls, legacy, definition)
        if spec.topic0 in specs:
            raise ValueError(f"duplicate topic0 for {spec.signature}")
        cls_fields = {f.name: f for f in fields(cls) if f.name not in base_fields}
        produced = {p.field for p in spec.params}
        if produced - set(cls_fields):
            raise ValueError(f"{spec.signature}: no field for {produced - set(cls_fields)}")
        for missing in set(cls_fields) - produced:
            if cls_fields[missing].default is not None:
                raise ValueError(f"{spec.signature}: field {missing} has no default")
        specs[spec.topic0] = spec
    return specs


EVENTS_BY_TOPIC0: dict[str, EventSpec] = _build_specs()
TOPIC0_BY_SIGNATURE: dict[str, str] = {s.signature: t for t, s in EVENTS_BY_TOPIC0.items()}


def topic0s(*classes: type[SymmioEvent], include_legacy: bool = True) -> list[str]:
    """topic0 values for an `eth_getLogs` filter (all known events when no class is given).

    The legacy form of `ExpireQuote` is listed under `ExpireQuoteOpen`, and it can also decode
    to `ExpireQuoteClose`."""
    wanted = set(classes)
    out = []
    for topic, spec in EVENTS_BY_TOPIC0.items():
        if spec.legacy and not include_legacy:
            continue
        if (
            wanted
            and spec.cls not in wanted
            and not (spec.name == "ExpireQuote" and ExpireQuoteClose in wanted)
        ):
            continue
        out.append(topic)
    return out


# ---------------------------------------------------------------------------------------------
# Decoding


def _hex_or_str(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value)


def _to_bytes(value: Any, what: str, log: Mapping[str, Any]) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        text = value[2:] if value[:2].lower() == "0x" else value
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise UndecodableLog(f"{what} is not hex: {value!r}", log) from None
    raise UndecodableLog(f"{what} has unexpected type {type(value).__name__}", log)


def _to_int(value: Any, what: str, log: Mapping[str, Any]) -> int:
    if isinstance(value, bool):
        raise UndecodableLog(f"{what} must be an integer", log)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value[:2].lower() == "0x" else int(value)
        except ValueError:
            raise UndecodableLog(f"{what} is not an integer: {value!r}", log) from None
    raise UndecodableLog(f"{what} missing or of type {type(value).__name__}", log)


def _convert(param: Param, value: Any, log: Mapping[str, Any]) -> Any:
    t = param.sol_type
    if t.endswith("[]"):
        inner = Param(param.name, param.field, t[:-2], _abi_type(t[:-2]), False)
        return tuple(_convert(inner, v, log) for v in value)
    if t in _ENUMS:
        enum = _ENUMS[t]
        try:
            return enum(value)
        except ValueError:
            raise UndecodableLog(f"{param.name}: {value} is not a valid {t}", log) from None
    if t == "QuoteSettlementData":
        return QuoteSettlementData(*value)
    if t == "address":
        return to_checksum_address(value)
    if t == "bytes":
        return bytes(value)
    return value


def decode_log(log: Mapping[str, Any]) -> SymmioEvent:
    """Decode one raw log; raises `UndecodableLog` (or `UnknownEvent`) if it cannot."""
    topics_raw = log.get("topics")
    if not isinstance(topics_raw, list | tuple) or not topics_raw:
        raise UndecodableLog("log has no topics (anonymous or malformed)", log)
    topics = [_to_bytes(t, "topic", log) for t in topics_raw]
    if any(len(t) != 32 for t in topics):
        raise UndecodableLog("every topic must be 32 bytes", log)
    topic0 = "0x" + topics[0].hex()
    spec = EVENTS_BY_TOPIC0.get(topic0)
    if spec is None:
        raise UnknownEvent(f"unknown topic0 {topic0}", log)
    if len(topics) != 1 + len(spec.indexed):
        raise UndecodableLog(
            f"{spec.signature}: expected {1 + len(spec.indexed)} topics, got {len(topics)}", log
        )
    data = _to_bytes(log.get("data", b""), "data", log)
    if spec.static_data_size is not None and len(data) != spec.static_data_size:
        raise UndecodableLog(
            f"{spec.signature}: data is {len(data)} bytes, expected {spec.static_data_size}", log
        )
    try:
        data_values = abi_decode(list(spec.data_types), data) if spec.data else ()
        indexed_values = [
            abi_decode([p.abi_type], topic)[0]
            for p, topic in zip(spec.indexed, topics[1:], strict=True)
        ]
    except Exception as exc:  # eth_abi raises several types for truncated / bad data
        raise UndecodableLog(f"{spec.signature}: cannot decode ({exc})", log) from exc

    values: dict[str, Any] = {}
    for p, v in zip(spec.indexed, indexed_values, strict=True):
        values[p.field] = _convert(p, v, log)
    for p, v in zip(spec.data, data_values, strict=True):
        values[p.field] = _convert(p, v, log)

    address = log.get("address")
    if not isinstance(address, str | bytes | bytearray):
        raise UndecodableLog("log has no address", log)
    try:
        checksum = to_checksum_address(
            bytes(address) if isinstance(address, bytearray) else address
        )
    except ValueError:
        raise UndecodableLog(f"bad address {address!r}", log) from None
    tx_hash = _to_bytes(log.get("transactionHash"), "transactionHash", log)
    if len(tx_hash) != 32:
        raise UndecodableLog("transactionHash must be 32 bytes", log)
    block_hash_raw = log.get("blockHash")
    key = EventKey(
        _to_int(log.get("blockNumber"), "blockNumber", log),
        "0x" + tx_hash.hex(),
        _to_int(log.get("logIndex"), "logIndex", log),
    )
    cls = spec.cls
    if spec.name == "ExpireQuote" and values["quote_status"] != QuoteStatus.EXPIRED:
        cls = ExpireQuoteClose  # legacy twin of ExpireQuoteClose(OPENED, id, closeId)
    return cls(
        key=key,
        address=checksum,
        topic0=topic0,
        signature=spec.signature,
        legacy=spec.legacy,
        removed=bool(log.get("removed", False)),
        block_hash=(
            "0x" + _to_bytes(block_hash_raw, "blockHash", log).hex()
            if block_hash_raw is not None
            else None
        ),
        **values,
    )


def try_decode_log(log: Mapping[str, Any]) -> SymmioEvent | None:
    """Like `decode_log`, but returns None for a topic0 this module does not know."""
    try:
        return decode_log(log)
    except UnknownEvent:
        return None


def decode_logs(logs: Iterable[Mapping[str, Any]]) -> list[SymmioEvent]:
    """Decode known events (unknown topic0 skipped, malformed logs raise), in chain order."""
    out = [e for e in (try_decode_log(log) for log in logs) if e is not None]
    out.sort(key=lambda e: (e.key.block_number, e.key.log_index))
    return out


def drop_legacy_twins(events: Sequence[SymmioEvent]) -> list[SymmioEvent]:
    """Keep one event per action: drop a legacy event when the same transaction also carries the
    current form of it (same `logical_key`). Legacy events without a current twin are kept."""
    current = {e.logical_key() for e in events if not e.legacy}
    return [e for e in events if not e.legacy or e.logical_key() not in current]
