"""The ledger and ops activities' contract (task queue `hedger-ops`): rows the workflows record
in Postgres, and the ops reads (trading state, limits, exposure) and alerts.

`LedgerApi` and `OpsApi` declare the activities with their Temporal names and types; the
implementations (`activities.ledger`, `activities.ops`) subclass them. Inputs carry Decimals as
strings (exact through any payload converter). Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from temporalio import activity

from domain.markets import notional_cap_for
from domain.quote import Quote
from interfaces.risk import ExposureGrant, ExposureRequest, ExposureResize, TradingStateView


@dataclass(frozen=True)
class QuoteRow:
    chain_id: int
    quote_id: int
    party_a: str
    symbol_id: int
    position_type: int
    order_type: int
    quantity: str
    requested_open_price: str
    deadline: int
    chain_status: str
    hedge_status: str
    party_b: str | None = None
    symbol: str | None = None
    market_price: str | None = None
    cva: str | None = None
    lf: str | None = None
    party_amm: str | None = None
    party_bmm: str | None = None
    trading_fee: str | None = None
    parent_id: int | None = None
    filled_amount: str | None = None
    opened_price: str | None = None
    closed_amount: str | None = None
    avg_closed_price: str | None = None
    last_error: str | None = None
    seq: int = 0  # write order (see `ledger_seq`): an older write never overwrites a newer one


@dataclass(frozen=True)
class HedgeStatusUpdate:
    chain_id: int
    quote_id: int
    hedge_status: str
    chain_status: str | None = None
    last_error: str | None = None
    seq: int = 0


@dataclass(frozen=True)
class DecisionRow:
    chain_id: int
    quote_id: int
    accepted: bool
    reason: str
    code: int | None = None


@dataclass(frozen=True)
class OrderRow:
    client_order_id: str
    chain_id: int
    quote_id: int
    symbol: str
    side: str
    order_type: str
    amount: str
    status: str
    close_id: int | None = None
    price: str | None = None
    reduce_only: bool = False
    exchange_order_id: str | None = None
    filled: str | None = None
    average_price: str | None = None
    last_error: str | None = None
    seq: int = 0


@dataclass(frozen=True)
class PositionRow:
    chain_id: int
    quote_id: int
    party_a: str
    symbol: str
    position_type: int
    open_quantity: str
    opened_price: str
    broker_quantity: str
    chain_status: str
    hedge_status: str
    seq: int = 0


@dataclass(frozen=True)
class NotificationRow:
    """One front-end notification (SYMMIO.md §5.1 NotificationResponse)."""

    quote_id: int
    counterparty_address: str
    last_seen_action: str
    action_status: str  # seen | success | failed
    state_type: str = "alert"  # alert | report
    failure_type: str | None = None
    failure_message: str | None = None
    error_code: int | None = None
    filled_amount_open: str | None = None
    filled_amount_close: str | None = None
    avg_price_open: str | None = None
    avg_price_close: str | None = None
    order_type: int | None = None
    # orders one quote's notifications written in the same second (the workflow's ledger seq)
    seq: int = 0


@dataclass(frozen=True)
class AlertRow:
    kind: str
    severity: str  # info | warning | critical
    message: str
    context: dict[str, Any] = field(default_factory=dict)
    # One condition, one alert: raising it again with the same key (a retried activity, a
    # replayed workflow) records and sends nothing more. None: every raise is a new alert.
    dedupe_key: str | None = None


@dataclass(frozen=True)
class LimitsView:
    """The hedger's risk limits, read from settings when a workflow starts (recorded in history)."""

    max_open_interest: str
    max_notional_per_symbol: str
    price_band_pct: str
    min_seconds_to_deadline: int
    # per-symbol caps below max_notional_per_symbol, by SYMMIO name (upper case); the same
    # setting the symbol sync publishes (`HEDGER_SYMBOL_NOTIONAL_CAPS`)
    notional_caps: dict[str, str] = field(default_factory=dict)

    def notional_cap(self, symbol_name: str) -> str:
        caps = {k: Decimal(v) for k, v in self.notional_caps.items()}
        return str(notional_cap_for(symbol_name, Decimal(self.max_notional_per_symbol), caps))


@dataclass(frozen=True)
class ExposureView:
    open_interest: str  # sum of open notional (USD) across positions
    by_symbol: dict[str, str]


@dataclass(frozen=True)
class OpenInputs:
    """The ops side of the open decision in one round trip (`ops_open_inputs`)."""

    trading_state: str
    limits: LimitsView
    exposure: ExposureView
    grant: ExposureGrant | None = None  # `ops_open_inputs_reserving` only


@dataclass(frozen=True)
class EarlyReservation:
    """A quote's notional reserved in the same round as the facts of its open decision, before
    the decision (taken back when the quote is declined): from its SendQuote event, under the
    symbol name the listener put on the workflow."""

    quote_id: int
    symbol: str
    notional: str  # USD, decimal string


def quote_row(chain_id: int, quote: Quote, hedge_status: str, symbol: str | None) -> QuoteRow:
    lv = quote.locked_values
    return QuoteRow(
        chain_id=chain_id, quote_id=quote.id, party_a=quote.party_a, party_b=quote.party_b,
        symbol_id=quote.symbol_id, symbol=symbol, position_type=int(quote.position_type),
        order_type=int(quote.order_type), quantity=str(quote.quantity),
        requested_open_price=str(quote.requested_open_price), market_price=str(quote.market_price),
        cva=str(lv.cva), lf=str(lv.lf), party_amm=str(lv.party_a_mm), party_bmm=str(lv.party_b_mm),
        trading_fee=str(quote.trading_fee), deadline=quote.deadline, parent_id=quote.parent_id or None,
        chain_status=quote.status.name, hedge_status=hedge_status,
        opened_price=str(quote.opened_price) if quote.opened_price else None,
        closed_amount=str(quote.closed_amount) if quote.closed_amount else None,
    )  # fmt: skip


@dataclass(frozen=True)
class LedgerBatch:
    """The ledger writes one workflow task made, in one activity (`ledger_write_batch`). Applied
    kind by kind in this order (a quote's row before its status), each kind in the order made;
    every row is idempotent and ordered by its `seq`, as when written one by one."""

    quotes: list[QuoteRow] = field(default_factory=list)
    statuses: list[HedgeStatusUpdate] = field(default_factory=list)
    decisions: list[DecisionRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    positions: list[PositionRow] = field(default_factory=list)
    notifications: list[NotificationRow] = field(default_factory=list)

    @staticmethod
    def of(rows: list[Any]) -> LedgerBatch:
        batch = LedgerBatch()
        lists: dict[type, list[Any]] = {
            QuoteRow: batch.quotes, HedgeStatusUpdate: batch.statuses,
            DecisionRow: batch.decisions, OrderRow: batch.orders, PositionRow: batch.positions,
            NotificationRow: batch.notifications,
        }  # fmt: skip
        for row in rows:
            lists[type(row)].append(row)
        return batch

    def rows(self) -> list[Any]:
        return [
            *self.quotes, *self.statuses, *self.decisions, *self.orders, *self.positions,
            *self.notifications,
        ]  # fmt: skip


BATCHED_ROW_TYPES = (
    QuoteRow,
    HedgeStatusUpdate,
    DecisionRow,
    OrderRow,
    PositionRow,
    NotificationRow,
)


class LedgerApi:
    """Idempotent ledger writes (each keyed by the identity the workflow already has)."""

    @activity.defn(name="ledger_write_batch")
    async def write_batch(self, batch: LedgerBatch) -> None:
        """Every row of `batch`; one that fails does not keep the others from landing (the
        activity fails after trying them all and is retried whole)."""
        raise NotImplementedError

    @activity.defn(name="ledger_upsert_quote")
    async def upsert_quote(self, row: QuoteRow) -> None:
        raise NotImplementedError

    @activity.defn(name="ledger_set_hedge_status")
    async def set_hedge_status(self, update: HedgeStatusUpdate) -> None:
        raise NotImplementedError

    @activity.defn(name="ledger_record_decision")
    async def record_decision(self, row: DecisionRow) -> None:
        raise NotImplementedError

    @activity.defn(name="ledger_upsert_order")
    async def upsert_order(self, row: OrderRow) -> None:
        raise NotImplementedError

    @activity.defn(name="ledger_upsert_position")
    async def upsert_position(self, row: PositionRow) -> None:
        raise NotImplementedError

    @activity.defn(name="ledger_notify")
    async def notify(self, row: NotificationRow) -> None:
        raise NotImplementedError

    @activity.defn(name="ledger_record_trading_state")
    async def record_trading_state(self, view: TradingStateView) -> None:
        """History of the kill switch for people (the state itself lives in Temporal)."""
        raise NotImplementedError


class OpsApi:
    """Alerts and what every workflow reads before it takes risk: trading state, limits,
    exposure (the last two from the risk-control workflow, `interfaces.risk`)."""

    @activity.defn(name="ops_raise_alert")
    async def raise_alert(self, row: AlertRow) -> None:
        raise NotImplementedError

    @activity.defn(name="ops_trading_state")
    async def trading_state(self) -> str:
        raise NotImplementedError

    @activity.defn(name="ops_exposure")
    async def exposure(self) -> ExposureView:
        raise NotImplementedError

    @activity.defn(name="ops_limits")
    async def limits(self) -> LimitsView:
        raise NotImplementedError

    @activity.defn(name="ops_open_inputs")
    async def open_inputs(self) -> OpenInputs:
        """`trading_state` + `limits` + `exposure` in one round trip."""
        raise NotImplementedError

    @activity.defn(name="ops_open_inputs_reserving")
    async def open_inputs_reserving(self, early: EarlyReservation) -> OpenInputs:
        """The quote's notional reserved under this worker's caps, and `open_inputs` as that
        reservation saw them (the trading state, the book before it): the grant comes back in
        `OpenInputs.grant`."""
        raise NotImplementedError

    @activity.defn(name="ops_reserve_exposure")
    async def reserve_exposure(self, request: ExposureRequest) -> ExposureGrant:
        raise NotImplementedError

    @activity.defn(name="ops_resize_exposure")
    async def resize_exposure(self, change: ExposureResize) -> None:
        raise NotImplementedError
