"""The balance manager's checks (pure): is the broker account's free collateral inside its band?

A breach is a `domain.reconcile.Finding` of kind `broker_margin_low`, tracked across runs like
the validator's findings (`domain.reconcile.track`): it alerts on the first run that sees it and
sends a resolve message on the first run that no longer does.
"""

from __future__ import annotations

from decimal import Decimal

from domain.reconcile import Finding

MARGIN_LOW = "broker_margin_low"
BALANCE_KINDS = frozenset({MARGIN_LOW})


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def margin_findings(
    asset: str, free: Decimal, used: Decimal, total: Decimal, min_free: Decimal
) -> list[Finding]:
    """One finding when the broker's free collateral is below `min_free` (0 disables)."""
    if min_free <= 0 or free >= min_free:
        return []
    detail = {
        "asset": asset, "free": _fmt(free), "used": _fmt(used), "total": _fmt(total),
        "min_free": _fmt(min_free),
    }  # fmt: skip
    message = (
        f"broker free collateral {detail['free']} {asset} is below the band "
        f"{detail['min_free']} (used {detail['used']}, total {detail['total']})"
    )
    return [Finding(MARGIN_LOW, f"{MARGIN_LOW}:{asset}", "critical", message, detail=detail)]
