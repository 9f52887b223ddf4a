"""What a simulated PartyA does next (pure and seeded: the same seed and observations give the
same actions).

A trader posts MARKET or LIMIT, LONG or SHORT intents sized within a notional band and leverage
band, cancels some pending ones, and asks to close some open positions. Prices are 18-decimal
integers; the reference price is the oracle's signed mark price.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext

from domain.enums import OrderType, PositionType, QuoteStatus

WAD = 10**18


@dataclass(frozen=True)
class TraderProfile:
    symbol_ids: tuple[int, ...] = (1,)
    market_share: float = 0.6  # P(MARKET) for a new intent
    long_share: float = 0.5
    min_notional: Decimal = Decimal("200")  # USD
    max_notional: Decimal = Decimal("2000")
    min_leverage: int = 2
    max_leverage: int = 10
    quantity_step: Decimal = Decimal("0.001")
    market_slippage: Decimal = Decimal("0.01")  # MARKET open/close price threshold vs mark
    limit_offset: Decimal = Decimal("0.002")  # LIMIT price away from mark (passive side)
    # shares of the PartyA-side locked amount (notional / leverage)
    cva_share: Decimal = Decimal("0.15")
    lf_share: Decimal = Decimal("0.08")
    party_amm_share: Decimal = Decimal("0.77")
    party_bmm_share: Decimal = Decimal("0.77")  # of the same amount, for PartyB
    open_deadline: int = 3600  # seconds after the chain's now
    close_deadline: int = 3600
    p_open: float = 0.5  # per step, when below max_pending
    p_cancel: float = 0.15  # per pending/locked quote, per step
    p_close: float = 0.2  # per open position, per step
    p_cancel_close: float = 0.1  # per close-pending position, per step
    p_partial_close: float = 0.3  # a close asks for part of the position (LIMIT only)
    max_pending: int = 3
    max_open: int = 5


@dataclass(frozen=True)
class QuoteView:
    """What a trader knows about one of its quotes (from `getQuote`)."""

    quote_id: int
    status: QuoteStatus
    symbol_id: int
    position_type: PositionType
    quantity: int
    closed_amount: int
    quantity_to_close: int = 0

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.closed_amount


@dataclass(frozen=True)
class SendQuote:
    symbol_id: int
    position_type: PositionType
    order_type: OrderType
    price: int
    quantity: int
    cva: int
    lf: int
    party_amm: int
    party_bmm: int
    max_funding_rate: int
    deadline: int


@dataclass(frozen=True)
class IntentDraft:
    """A new intent before pricing: `TraderBrain.price_intent` turns it into a `SendQuote`
    once the oracle's signed mark price is known."""

    symbol_id: int
    position_type: PositionType
    order_type: OrderType
    notional: Decimal
    leverage: int
    deadline: int


@dataclass(frozen=True)
class CancelQuote:
    quote_id: int


@dataclass(frozen=True)
class RequestClose:
    quote_id: int
    close_price: int
    quantity_to_close: int
    order_type: OrderType
    deadline: int


@dataclass(frozen=True)
class CancelClose:
    quote_id: int


Action = IntentDraft | CancelQuote | CancelClose

PENDING = {QuoteStatus.PENDING, QuoteStatus.LOCKED}
OPEN = {QuoteStatus.OPENED}
CLOSING = {QuoteStatus.CLOSE_PENDING}


def _wad(value: Decimal) -> int:
    return int((value * WAD).to_integral_value(ROUND_DOWN))


@dataclass
class TraderBrain:
    seed: int
    profile: TraderProfile = field(default_factory=TraderProfile)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def decide(self, quotes: list[QuoteView], now: int) -> list[Action]:
        """Actions for one step given the trader's quotes and the chain's time."""
        p = self.profile
        rng = self._rng
        actions: list[Action] = []
        for q in sorted(quotes, key=lambda q: q.quote_id):
            roll = rng.random()
            if q.status in PENDING and roll < p.p_cancel:
                actions.append(CancelQuote(q.quote_id))
            elif q.status in CLOSING and roll < p.p_cancel_close:
                actions.append(CancelClose(q.quote_id))
        pending = sum(1 for q in quotes if q.status in PENDING)
        opened = sum(1 for q in quotes if q.status in OPEN | CLOSING)
        if pending < p.max_pending and opened < p.max_open and rng.random() < p.p_open:
            actions.append(self._intent_template(now))
        return actions

    def closes(
        self, quotes: list[QuoteView], marks: dict[int, int], now: int
    ) -> list[RequestClose]:
        """Close requests for some open positions, priced off `marks` (symbol id → price)."""
        p = self.profile
        out = []
        for q in sorted(quotes, key=lambda q: q.quote_id):
            if q.status not in OPEN or q.symbol_id not in marks or self._rng.random() >= p.p_close:
                continue
            market = self._rng.random() < p.market_share
            mark = Decimal(marks[q.symbol_id]) / WAD
            quantity = q.open_quantity
            if not market and self._rng.random() < p.p_partial_close:
                steps = quantity // _wad(p.quantity_step)
                if steps >= 2:
                    quantity = (steps // 2) * _wad(p.quantity_step)
            # closing a LONG sells: accept down to mark·(1−s); closing a SHORT buys: up to mark·(1+s)
            sign = -1 if q.position_type == PositionType.LONG else 1
            if market:
                price = mark * (1 + sign * p.market_slippage)
            else:
                price = mark * (1 - sign * p.limit_offset)
            out.append(
                RequestClose(
                    q.quote_id,
                    _wad(price),
                    quantity,
                    OrderType.MARKET if market else OrderType.LIMIT,
                    now + p.close_deadline,
                )
            )
        return out

    def _intent_template(self, now: int) -> IntentDraft:
        p = self.profile
        rng = self._rng
        fraction = Decimal(rng.randint(0, 10**6)) / 10**6
        return IntentDraft(
            symbol_id=rng.choice(p.symbol_ids),
            position_type=PositionType.LONG if rng.random() < p.long_share else PositionType.SHORT,
            order_type=OrderType.MARKET if rng.random() < p.market_share else OrderType.LIMIT,
            notional=p.min_notional + (p.max_notional - p.min_notional) * fraction,
            leverage=rng.randint(p.min_leverage, p.max_leverage),
            deadline=now + p.open_deadline,
        )

    def price_intent(self, template: IntentDraft, mark_price: int) -> SendQuote:
        """Turn a drawn intent into concrete `sendQuote` arguments at the signed mark price."""
        with localcontext() as ctx:
            ctx.prec = 80
            return self._price_intent(template, mark_price)

    def _price_intent(self, template: IntentDraft, mark_price: int) -> SendQuote:
        p = self.profile
        mark = Decimal(mark_price) / WAD
        notional = template.notional
        leverage = Decimal(template.leverage)
        sign = 1 if template.position_type == PositionType.LONG else -1
        if template.order_type == OrderType.MARKET:
            price = mark * (1 + sign * p.market_slippage)  # worst acceptable price
        else:
            price = mark * (1 - sign * p.limit_offset)  # passive limit
        step = p.quantity_step
        quantity = max(step, (notional / price / step).to_integral_value(ROUND_DOWN) * step)
        locked = quantity * price / leverage
        return SendQuote(
            symbol_id=template.symbol_id,
            position_type=template.position_type,
            order_type=template.order_type,
            price=_wad(price),
            quantity=_wad(quantity),
            cva=_wad(locked * p.cva_share),
            lf=_wad(locked * p.lf_share),
            party_amm=_wad(locked * p.party_amm_share),
            party_bmm=_wad(locked * p.party_bmm_share),
            max_funding_rate=0,
            deadline=template.deadline,
        )
