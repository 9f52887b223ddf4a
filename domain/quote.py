"""The hedger's view of a SYMMIO quote (protocol-core 0.8.4 `Quote` struct, SYMMIO.md §2.1).

Money, prices and sizes are `Decimal` (converted exactly from 18-decimal fixed point with
`domain.fixed`); ids and timestamps are `int` (seconds); addresses are checksummed or lower-case
hex strings as given (compare with `same_address`). The constructors take plain values so this
module depends on neither web3 nor the event decoders.

Note: `requestToClosePosition` overwrites the quote's `orderType` and `deadline` on chain; after
a close request they describe the close, not the open (`Quote.close_requested` does the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from domain.enums import OrderType, PositionType, QuoteStatus
from domain.fixed import exact, from_wei18, mul_div_down

ZERO = Decimal(0)
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

PENDING_STATUSES = frozenset({QuoteStatus.PENDING, QuoteStatus.LOCKED, QuoteStatus.CANCEL_PENDING})
OPEN_STATUSES = frozenset(
    {QuoteStatus.OPENED, QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING}
)
TERMINAL_STATUSES = frozenset(
    {QuoteStatus.CANCELED, QuoteStatus.CLOSED, QuoteStatus.LIQUIDATED, QuoteStatus.EXPIRED}
)


def same_address(a: str | None, b: str | None) -> bool:
    """Case-insensitive address equality (None never equals anything)."""
    return a is not None and b is not None and a.lower() == b.lower()


def _address_or_none(addr: str | None) -> str | None:
    if addr is None or same_address(addr, ZERO_ADDRESS):
        return None
    return addr


@dataclass(frozen=True, slots=True)
class LockedValues:
    cva: Decimal = ZERO
    lf: Decimal = ZERO
    party_a_mm: Decimal = ZERO
    party_b_mm: Decimal = ZERO

    @property
    @exact
    def total_for_party_a(self) -> Decimal:
        """cva + partyAmm + lf (LibLockedValues.totalForPartyA)."""
        return self.cva + self.party_a_mm + self.lf

    @property
    @exact
    def total_for_party_b(self) -> Decimal:
        """cva + partyBmm + lf (LibLockedValues.totalForPartyB): what lockQuote needs free."""
        return self.cva + self.party_b_mm + self.lf

    @classmethod
    def from_wei(cls, cva: int, lf: int, party_a_mm: int, party_b_mm: int) -> LockedValues:
        return cls(from_wei18(cva), from_wei18(lf), from_wei18(party_a_mm), from_wei18(party_b_mm))

    @classmethod
    def from_struct(cls, values: Sequence[int]) -> LockedValues:
        """From the ABI tuple `(cva, lf, partyAmm, partyBmm)`."""
        cva, lf, amm, bmm = values
        return cls.from_wei(cva, lf, amm, bmm)

    def scaled(self, numerator: Decimal, denominator: Decimal) -> LockedValues:
        """Each value × numerator / denominator, rounded down to 18 decimals like the contract
        (open: × openedPrice / requestedOpenPrice; partial fill: × filled / quantity)."""
        return LockedValues(
            mul_div_down(self.cva, numerator, denominator),
            mul_div_down(self.lf, numerator, denominator),
            mul_div_down(self.party_a_mm, numerator, denominator),
            mul_div_down(self.party_b_mm, numerator, denominator),
        )

    @exact
    def __add__(self, other: LockedValues) -> LockedValues:
        return LockedValues(
            self.cva + other.cva,
            self.lf + other.lf,
            self.party_a_mm + other.party_a_mm,
            self.party_b_mm + other.party_b_mm,
        )

    @exact
    def __sub__(self, other: LockedValues) -> LockedValues:
        return LockedValues(
            self.cva - other.cva,
            self.lf - other.lf,
            self.party_a_mm - other.party_a_mm,
            self.party_b_mm - other.party_b_mm,
        )


@dataclass(frozen=True, slots=True)
class Quote:
    id: int
    party_a: str
    symbol_id: int
    position_type: PositionType
    order_type: OrderType
    requested_open_price: Decimal
    market_price: Decimal
    quantity: Decimal
    locked_values: LockedValues
    deadline: int
    status: QuoteStatus = QuoteStatus.PENDING
    party_b: str | None = None
    party_bs_whitelist: tuple[str, ...] = ()
    initial_locked_values: LockedValues = field(default_factory=LockedValues)
    max_funding_rate: Decimal = ZERO
    trading_fee: Decimal = ZERO
    opened_price: Decimal = ZERO
    initial_opened_price: Decimal = ZERO
    closed_amount: Decimal = ZERO
    avg_closed_price: Decimal = ZERO
    requested_close_price: Decimal = ZERO
    quantity_to_close: Decimal = ZERO
    parent_id: int = 0
    create_timestamp: int = 0
    status_modify_timestamp: int = 0
    last_funding_payment_timestamp: int = 0
    affiliate: str | None = None

    def __post_init__(self) -> None:
        if self.quantity < 0 or self.closed_amount < 0 or self.quantity_to_close < 0:
            raise ValueError("quote quantities must be >= 0")
        if self.closed_amount > self.quantity:
            raise ValueError("closed_amount cannot exceed quantity")

    # ------------------------------------------------------------------ derived values
    @property
    @exact
    def open_quantity(self) -> Decimal:
        """What is open on chain now (quantity − closedAmount); 0 before OPENED."""
        if self.status in OPEN_STATUSES:
            return self.quantity - self.closed_amount
        return ZERO

    @property
    @exact
    def notional_at_request(self) -> Decimal:
        return self.quantity * self.requested_open_price

    @property
    @exact
    def leverage(self) -> Decimal:
        """quantity × requestedOpenPrice / totalForPartyA (the contract's leverage measure)."""
        total = self.locked_values.total_for_party_a
        if total <= 0:
            raise ValueError("quote has no locked values")
        return self.notional_at_request / total

    def is_locked_by(self, party_b: str) -> bool:
        return same_address(self.party_b, party_b)

    def party_b_may_lock(self, party_b: str) -> bool:
        """lockQuote's whitelist rule: in `partyBsWhiteList`, or list empty and not PartyA."""
        if self.party_bs_whitelist:
            return any(same_address(party_b, w) for w in self.party_bs_whitelist)
        return not same_address(party_b, self.party_a)

    def deadline_passed(self, now: int) -> bool:
        """The contract allows actions while `block.timestamp <= deadline`."""
        return now > self.deadline

    def seconds_left(self, now: int) -> int:
        return self.deadline - now

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_send_quote_event(
        cls,
        *,
        quote_id: int,
        party_a: str,
        party_bs_whitelist: Iterable[str],
        symbol_id: int,
        position_type: int,
        order_type: int,
        price: int,
        market_price: int,
        quantity: int,
        cva: int,
        lf: int,
        party_amm: int,
        party_bmm: int,
        trading_fee: int,
        deadline: int,
        max_funding_rate: int = 0,
        create_timestamp: int = 0,
        parent_id: int = 0,
    ) -> Quote:
        """A PENDING quote from the `SendQuote` event's raw (wei) values.

        The event lacks `maxFundingRate` and timestamps: pass them if known (block time for
        `create_timestamp`), or read `getQuote` for the full struct (`from_struct`).
        """
        locked = LockedValues.from_wei(cva, lf, party_amm, party_bmm)
        return cls(
            id=quote_id,
            party_a=party_a,
            symbol_id=symbol_id,
            position_type=PositionType(position_type),
            order_type=OrderType(order_type),
            requested_open_price=from_wei18(price),
            market_price=from_wei18(market_price),
            quantity=from_wei18(quantity),
            locked_values=locked,
            initial_locked_values=locked,
            deadline=deadline,
            status=QuoteStatus.PENDING,
            party_bs_whitelist=tuple(party_bs_whitelist),
            max_funding_rate=from_wei18(max_funding_rate),
            trading_fee=from_wei18(trading_fee),
            parent_id=parent_id,
            create_timestamp=create_timestamp,
            status_modify_timestamp=create_timestamp,
        )

    @classmethod
    def from_struct(cls, s: Sequence[Any]) -> Quote:
        """From `getQuote(id)`'s ABI tuple, in struct order (27 fields in 0.8.4; extra trailing
        fields of later versions are ignored)."""
        if len(s) < 27:
            raise ValueError(f"Quote struct has 27 fields in 0.8.4, got {len(s)}")
        (
            qid,
            whitelist,
            symbol_id,
            position_type,
            order_type,
            opened_price,
            initial_opened_price,
            requested_open_price,
            market_price,
            quantity,
            closed_amount,
            initial_locked,
            locked,
            max_funding_rate,
            party_a,
            party_b,
            status,
            avg_closed_price,
            requested_close_price,
            quantity_to_close,
            parent_id,
            create_ts,
            status_ts,
            last_funding_ts,
            deadline,
            trading_fee,
            affiliate,
        ) = s[:27]
        return cls(
            id=int(qid),
            party_a=str(party_a),
            symbol_id=int(symbol_id),
            position_type=PositionType(position_type),
            order_type=OrderType(order_type),
            requested_open_price=from_wei18(int(requested_open_price)),
            market_price=from_wei18(int(market_price)),
            quantity=from_wei18(int(quantity)),
            locked_values=LockedValues.from_struct(locked),
            initial_locked_values=LockedValues.from_struct(initial_locked),
            deadline=int(deadline),
            status=QuoteStatus(status),
            party_b=_address_or_none(party_b),
            party_bs_whitelist=tuple(str(a) for a in whitelist),
            max_funding_rate=from_wei18(int(max_funding_rate)),
            trading_fee=from_wei18(int(trading_fee)),
            opened_price=from_wei18(int(opened_price)),
            initial_opened_price=from_wei18(int(initial_opened_price)),
            closed_amount=from_wei18(int(closed_amount)),
            avg_closed_price=from_wei18(int(avg_closed_price)),
            requested_close_price=from_wei18(int(requested_close_price)),
            quantity_to_close=from_wei18(int(quantity_to_close)),
            parent_id=int(parent_id),
            create_timestamp=int(create_ts),
            status_modify_timestamp=int(status_ts),
            last_funding_payment_timestamp=int(last_funding_ts),
            affiliate=_address_or_none(affiliate),
        )

    # ------------------------------------------------------------------ local evolution
    # Pure "what the chain did" updates, so a workflow can keep its copy in step with the
    # events it applied without re-reading getQuote. They do not validate preconditions.

    def with_status(self, status: QuoteStatus, at: int | None = None) -> Quote:
        ts = self.status_modify_timestamp if at is None else at
        return replace(self, status=status, status_modify_timestamp=ts)

    def locked(self, party_b: str, at: int | None = None) -> Quote:
        return replace(self.with_status(QuoteStatus.LOCKED, at), party_b=party_b)

    def unlocked(self, at: int | None = None) -> Quote:
        return replace(self.with_status(QuoteStatus.PENDING, at), party_b=None)

    @exact
    def opened(self, filled_amount: Decimal, opened_price: Decimal, at: int | None = None) -> Quote:
        """OPENED with `filled_amount` at `opened_price`: locked values are taken pro rata for a
        partial fill and scaled by openedPrice / requestedOpenPrice, as the contract does."""
        if not 0 < filled_amount <= self.quantity:
            raise ValueError("filled_amount must be in (0, quantity]")
        locked = self.locked_values
        if filled_amount != self.quantity:
            locked = locked.scaled(filled_amount, self.quantity)
        locked = locked.scaled(opened_price, self.requested_open_price)
        return replace(
            self.with_status(QuoteStatus.OPENED, at),
            quantity=filled_amount,
            opened_price=opened_price,
            initial_opened_price=opened_price,
            locked_values=locked,
            initial_locked_values=locked,
        )

    def close_requested(
        self,
        close_price: Decimal,
        quantity_to_close: Decimal,
        order_type: OrderType,
        deadline: int,
        at: int | None = None,
    ) -> Quote:
        return replace(
            self.with_status(QuoteStatus.CLOSE_PENDING, at),
            requested_close_price=close_price,
            quantity_to_close=quantity_to_close,
            order_type=order_type,
            deadline=deadline,
        )

    @exact
    def close_filled(
        self,
        filled_amount: Decimal,
        closed_price: Decimal,
        new_status: QuoteStatus,
        at: int | None = None,
    ) -> Quote:
        """After FillCloseRequest / ForceClosePosition / EmergencyClosePosition: closedAmount
        grows, avgClosedPrice is the size-weighted mean, locked values shrink pro rata."""
        open_qty = self.quantity - self.closed_amount
        if not 0 < filled_amount <= open_qty:
            raise ValueError("filled_amount must be in (0, open quantity]")
        new_closed = self.closed_amount + filled_amount
        avg = (
            self.avg_closed_price * self.closed_amount + closed_price * filled_amount
        ) / new_closed
        remaining = self.locked_values - self.locked_values.scaled(filled_amount, open_qty)
        qtc = max(ZERO, self.quantity_to_close - filled_amount)
        return replace(
            self.with_status(new_status, at),
            closed_amount=new_closed,
            avg_closed_price=avg,
            locked_values=remaining,
            quantity_to_close=ZERO if new_status != QuoteStatus.CLOSE_PENDING else qtc,
        )
