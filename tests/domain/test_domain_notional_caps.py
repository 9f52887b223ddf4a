"""One source of truth for per-symbol notional caps (#12): what the symbol sync publishes and
what the open policy enforces come from the same settings through the same function."""

from __future__ import annotations

from decimal import Decimal

from config.settings import load_settings
from domain.markets import notional_cap_for
from workers.market_schedules import market_policy
from workers.ops import limits_from


def test_a_symbol_cap_applies_below_the_hedger_wide_cap_never_above() -> None:
    caps = {"ETHUSDT": Decimal("100000"), "BTCUSDT": Decimal("900000")}
    assert notional_cap_for("ethusdt", Decimal("250000"), caps) == Decimal("100000")
    assert notional_cap_for("BTCUSDT", Decimal("250000"), caps) == Decimal("250000")
    assert notional_cap_for("SOLUSDT", Decimal("250000"), caps) == Decimal("250000")


def test_the_policy_limits_and_the_published_markets_agree() -> None:
    settings = load_settings(
        max_notional_per_symbol=Decimal("250000"),
        symbol_notional_caps={"ethusdt": Decimal("100000"), "BTCUSDT": Decimal("900000")},
    )
    limits = limits_from(settings)
    policy = market_policy(settings)
    for name in ("ETHUSDT", "BTCUSDT", "SOLUSDT"):
        published = notional_cap_for(name, policy.default_notional_cap, policy.notional_caps)
        assert Decimal(limits.notional_cap(name)) == published
    assert limits.notional_cap("ETHUSDT") == "100000"
