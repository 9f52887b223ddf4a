"""The markets the hedger publishes to front-ends, as pure functions (no I/O, Decimal maths).

`publish_symbols` joins the contract's symbols (`getSymbols`, decimals removed) with the broker's
markets and the hedger's configured limits into what `/contract-symbols`, `/notional_cap`,
`/get_locked_params` and `/price-range` serve. A symbol is tradable only when the contract marks
it valid **and** the broker lists an active market for it; any other symbol is still published
(front-ends list it) but as not tradable: `is_valid` and `rfq_allowed` false, no leverage tiers.

`funding_sides` turns a broker funding rate into the two rates SYMMIO's front-end shows: from
the holder's side, positive means "you get paid" (SDK `MarketFundingRate`), so a positive broker
rate (longs pay shorts) is negative for a LONG and positive for a SHORT. `charged_funding_sides`
does the same for what the funding workflow will charge per chain epoch (scaled, with spread).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ContractSymbol:
    symbol_id: int
    name: str  # e.g. "BTCUSDT"
    is_valid: bool
    min_acceptable_quote_value: Decimal
    min_acceptable_portion_lf: Decimal
    trading_fee: Decimal
    max_leverage: Decimal
    funding_rate_epoch_duration: int
    funding_rate_window_time: int


@dataclass(frozen=True, slots=True)
class BrokerMarket:
    market_id: str  # the broker's id, e.g. "BTCUSDT"
    symbol: str  # ccxt unified symbol, e.g. "BTC/USDT:USDT"
    base: str
    settle: str
    tick_size: Decimal
    step_size: Decimal
    min_notional: Decimal
    max_quantity: Decimal | None
    active: bool = True


@dataclass(frozen=True, slots=True)
class Tier:
    max_leverage: Decimal
    cva_pct: Decimal
    lf_pct: Decimal
    party_amm_pct: Decimal
    party_bmm_pct: Decimal


def notional_cap_for(name: str, default_cap: Decimal, caps: Mapping[str, Decimal]) -> Decimal:
    """The notional cap of a symbol: its own configured cap (by SYMMIO name, any case) when one
    is set, never above the hedger-wide per-symbol cap. What the API publishes and what the
    open policy enforces both come from here."""
    own = caps.get(name.upper())
    return default_cap if own is None else min(default_cap, own)


@dataclass(frozen=True, slots=True)
class MarketPolicy:
    default_notional_cap: Decimal
    tiers: tuple[Tier, ...]
    notional_caps: Mapping[str, Decimal] = field(default_factory=dict)  # by SYMMIO name (upper)
    broker_markets: Mapping[str, str] = field(default_factory=dict)  # SYMMIO name -> market
    hedger_fee_open: Decimal = ZERO
    hedger_fee_close: Decimal = ZERO
    funding_spread: Decimal = ZERO  # what FundingWorkflow keeps on both sides


@dataclass(frozen=True, slots=True)
class PublishedSymbol:
    symbol_id: int
    name: str
    base: str
    asset: str
    tradable: bool
    reason: str | None  # why not tradable
    contract: ContractSymbol
    broker_market: str | None
    price_precision: int
    quantity_precision: int
    max_leverage: int
    notional_cap: Decimal
    min_notional: Decimal
    max_quantity: Decimal | None
    lot_size: Decimal
    hedger_fee_open: Decimal
    hedger_fee_close: Decimal
    tiers: tuple[Tier, ...]


def decimals_of(step: Decimal) -> int:
    """Decimal places of a tick or step size: 0.10 -> 1, 0.001 -> 3, 1 -> 0, 10 -> 0."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _key(name: str) -> str:
    return name.upper().replace("/", "").replace("-", "").replace(":", "")


def tiers_for(max_leverage: Decimal, tiers: Iterable[Tier]) -> tuple[Tier, ...]:
    """The configured tiers a symbol offers: those below its on-chain max leverage, and the first
    one reaching it, capped at it (no tier offers a leverage the contract refuses)."""
    out: list[Tier] = []
    for tier in sorted(tiers, key=lambda t: t.max_leverage):
        if tier.max_leverage < max_leverage:
            out.append(tier)
            continue
        out.append(
            Tier(max_leverage, tier.cva_pct, tier.lf_pct, tier.party_amm_pct, tier.party_bmm_pct)
        )
        break
    return tuple(out)


def _find_market(
    name: str, markets: Sequence[BrokerMarket], policy: MarketPolicy
) -> BrokerMarket | None:
    wanted = policy.broker_markets.get(name) or policy.broker_markets.get(name.upper()) or name
    for m in markets:
        if m.symbol == wanted:
            return m
    key = _key(wanted)
    return next((m for m in markets if _key(m.market_id) == key), None)


def publish_symbols(
    contract: Sequence[ContractSymbol], markets: Sequence[BrokerMarket], policy: MarketPolicy
) -> list[PublishedSymbol]:
    """One published row per contract symbol (by id); when two symbols share a name, the valid
    one with the highest id keeps it and the others are left out (names are unique)."""
    by_name: dict[str, ContractSymbol] = {}
    for sym in sorted(contract, key=lambda s: (s.is_valid, s.symbol_id)):
        by_name[sym.name.upper()] = sym  # later (valid, newer) wins
    out: list[PublishedSymbol] = []
    for sym in sorted(by_name.values(), key=lambda s: s.symbol_id):
        market = _find_market(sym.name, markets, policy)
        reason = None
        if not sym.is_valid:
            reason = "the contract marks the symbol invalid"
        elif market is None:
            reason = "the broker lists no market for it"
        elif not market.active:
            reason = f"the broker market {market.symbol} is not trading"
        lev = max(1, int(sym.max_leverage.to_integral_value(ROUND_FLOOR)))
        cap = notional_cap_for(sym.name, policy.default_notional_cap, policy.notional_caps)
        tradable = reason is None
        base = market.base if market else _base_of(sym.name)
        out.append(
            PublishedSymbol(
                symbol_id=sym.symbol_id,
                name=sym.name,
                base=base,
                asset=market.settle if market else _asset_of(sym.name),
                tradable=tradable,
                reason=reason,
                contract=sym,
                broker_market=market.symbol if market else None,
                price_precision=decimals_of(market.tick_size) if market else 2,
                quantity_precision=decimals_of(market.step_size) if market else 3,
                max_leverage=lev,
                notional_cap=cap,
                min_notional=market.min_notional if market else ZERO,
                max_quantity=market.max_quantity if market else None,
                lot_size=market.step_size if market else ZERO,
                hedger_fee_open=policy.hedger_fee_open,
                hedger_fee_close=policy.hedger_fee_close,
                tiers=tiers_for(Decimal(lev), policy.tiers) if tradable else (),
            )  # fmt: skip
        )
    return out


_QUOTES = ("USDT", "USDC", "USD", "BUSD")


def _asset_of(name: str) -> str:
    upper = name.upper()
    return next((q for q in _QUOTES if upper.endswith(q) and len(upper) > len(q)), "")


def _base_of(name: str) -> str:
    asset = _asset_of(name)
    return name[: len(name) - len(asset)] if asset else name


def funding_sides(broker_rate: Decimal) -> tuple[Decimal, Decimal]:
    """(long, short) as the front-end shows them: positive = the holder gets paid."""
    return -broker_rate, broker_rate


def charged_funding_sides(
    broker_rate: Decimal, broker_interval: int, epoch_duration: int, spread: Decimal = ZERO
) -> tuple[Decimal, Decimal]:
    """(long, short) as the front-end shows them, for the rate `FundingWorkflow` will charge at
    the next chain epoch: the broker's rate scaled from its interval to the symbol's epoch, the
    spread on both sides (`domain.funding.rate_per_epoch`, `side_rates`). A LONG pays its rate,
    so it is shown negated; a SHORT receives its rate. Before the contract's epoch is known
    (0), the broker's rate as it is."""
    from domain.funding import rate_per_epoch, side_rates

    if epoch_duration > 0:
        broker_rate = rate_per_epoch(broker_rate, broker_interval, epoch_duration)
    long_rate, short_rate = side_rates(broker_rate, spread)
    return -long_rate, short_rate


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The latest broker data of one published symbol, as `/get_market_info`,
    `/get_funding_info`, `/price-range` and uPnL read it."""

    symbol_id: int
    mark_price: Decimal
    price_change_percent: Decimal | None
    trade_volume: Decimal | None  # 24 h quote volume
    next_funding_time: int | None  # ms
    funding_rate_long: Decimal | None
    funding_rate_short: Decimal | None
