"""Turning ledger values into the JSON shapes SYMMIO front-ends expect (SYMMIO.md §5.1).

Decimals become strings where SYMMIO's reference hedger sends strings (exact, no float), and
JSON numbers where it sends numbers (the front-end reads those as JS numbers anyway).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.market_tables import SymbolRecord
from ledger.models import Notification

TWO_PLACES = Decimal("0.01")


def dec_str(value: Decimal | int | None) -> str | None:
    """Plain decimal string without exponent or trailing zeros: Decimal('6.000') -> '6'."""
    if value is None:
        return None
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def dec_num(value: Decimal | None) -> float | int | None:
    """A JSON number: an int when integral, else a float (only for fields SYMMIO sends as numbers)."""
    if value is None:
        return None
    d = Decimal(value)
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def pct_str(value: Decimal) -> str:
    """Percentages as the reference hedger prints them: at least two decimals ('6.00', '0.125')."""
    d = Decimal(value)
    if d == d.quantize(TWO_PLACES):
        return format(d.quantize(TWO_PLACES), "f")
    return dec_str(d) or "0"


def leverage_str(value: Decimal) -> str:
    """'9.0' for 9, '12.5' for 12.5 (the reference returns the leverage as a float string)."""
    text = dec_str(value) or "0"
    return text if "." in text else f"{text}.0"


def symbol_json(s: SymbolRecord, max_notional: Decimal) -> dict[str, Any]:
    return {
        "symbol_id": s.symbol_id,
        "name": s.name,
        "symbol": s.symbol,
        "asset": s.asset,
        "price_precision": s.price_precision,
        "quantity_precision": s.quantity_precision,
        "is_valid": s.is_valid,
        "min_acceptable_quote_value": dec_num(s.min_acceptable_quote_value),
        "min_acceptable_portion_lf": dec_str(s.min_acceptable_portion_lf),
        "trading_fee": dec_str(s.trading_fee),
        "max_leverage": s.max_leverage,
        "max_notional_value": dec_num(max_notional),
        "max_funding_rate": dec_str(s.max_funding_rate),
        "rfq_allowed": s.rfq_allowed,
        "hedger_fee_open": dec_str(s.hedger_fee_open),
        "hedger_fee_close": dec_str(s.hedger_fee_close),
        "min_notional_value": dec_str(s.min_notional_value),
        "max_quantity": dec_str(s.max_quantity) if s.max_quantity is not None else None,
        "lot_size": dec_str(s.lot_size),
        "funding_rate_epoch_duration": s.funding_rate_epoch_duration,
        "funding_rate_window_time": s.funding_rate_window_time,
    }


def funding_json(s: SymbolRecord, *, with_epoch: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "next_funding_time": s.next_funding_time or 0,
        "next_funding_rate_short": dec_str(s.next_funding_rate_short or Decimal(0)),
        "next_funding_rate_long": dec_str(s.next_funding_rate_long or Decimal(0)),
    }
    if with_epoch:
        out["funding_rate_epoch_duration"] = s.funding_rate_epoch_duration
    return out


def notification_json(n: Notification) -> dict[str, Any]:
    """A `NotificationResponse` (front-end type `state/notifications/types.ts`)."""
    return {
        "id": str(n.id),
        "quote_id": n.quote_id,
        "temp_quote_id": n.temp_quote_id,
        "create_time": n.create_time,
        "modify_time": n.modify_time,
        "counterparty_address": n.counterparty_address,
        "filled_amount_open": dec_str(n.filled_amount_open),
        "filled_amount_close": dec_str(n.filled_amount_close),
        "avg_price_open": dec_str(n.avg_price_open),
        "avg_price_close": dec_str(n.avg_price_close),
        "last_seen_action": n.last_seen_action,
        "action_status": n.action_status,
        "failure_type": n.failure_type,
        "failure_message": n.failure_message,
        "error_code": n.error_code,
        "state_type": n.state_type,
        "order_type": n.order_type,
    }
