"""The front-end's words for each step of a quote (`domain.notifications`), checked against what
SYMMIO's frontend-sdk does with them (`packages/core/src/state/notifications`): these facts are
restated here, not imported, so a change of wording that the SDK would show differently fails."""

from __future__ import annotations

import pytest

from domain.enums import OrderType
from domain.notifications import Liquidated, Step, Wording, wording

# frontend-sdk notifications/types.ts: LastSeenAction -> NotificationMessages (the title)
SDK_TITLES = {
    "SendQuote": "Open Order",
    "FailedToPutOnBinance": "Failed To Put On Binance",
    "RequestToCancelQuote": "Cancel Open Order",
    "RequestToClosePosition": "Close Position",
    "UnlockQuote": "Unlock Quote",
    "RequestToCancelCloseRequest": "Cancel Close Position",
    "LiquidatePosition": "Liquidate Position",
    "FillLimitOrderOpen": "Fill Limit Order Open",
    "FillLimitOrderClose": "Fill Limit Order Close",
    "InstantRequestToClosePosition": "Instant Close",
    "FillOrderInstantClose": "Fill Instant Order Close",
    "InstantRFQ": "Instant Open",
    "SendQuoteTransaction": "Send Quote Transaction",
}


def sdk_shows(w: Wording) -> tuple[str, str]:
    """frontend-sdk notifications/updater.ts groupingNotification: (kind, title)."""
    if w.state_type == "report":
        kind = "Partial Fill"  # not a pop-up: listed with the position's fill progress
    else:
        kind = {"failed": "Hedger Error", "seen": "Seen by hedger", "success": "Success"}.get(
            w.action_status, "Other"
        )
    return kind, SDK_TITLES.get(w.last_seen_action, "")


@pytest.mark.parametrize(
    ("step", "kwargs", "shown"),
    [
        (Step.SEEN, {}, ("Seen by hedger", "Open Order")),
        (Step.LOCKED, {}, ("Partial Fill", "Open Order")),
        (Step.HEDGED, {}, ("Partial Fill", "Open Order")),
        (Step.OPENED, {}, ("Success", "Open Order")),
        (Step.REJECTED, {}, ("Hedger Error", "Open Order")),
        (Step.CANCELLED, {}, ("Success", "Cancel Open Order")),
        (Step.EXPIRED, {}, ("Hedger Error", "Open Order")),
        (Step.CLOSE_FILLED, {"order_type": OrderType.MARKET}, ("Success", "Close Position")),
        (Step.CLOSE_FILLED, {"order_type": OrderType.LIMIT}, ("Success", "Fill Limit Order Close")),
        (
            Step.CLOSE_FILLED,
            {"order_type": OrderType.LIMIT, "partial": True},
            ("Partial Fill", "Fill Limit Order Close"),
        ),
        (Step.CLOSE_CANCELLED, {}, ("Success", "Cancel Close Position")),
        (Step.FORCE_CLOSED, {}, ("Success", "Fill Limit Order Close")),
        (Step.LIQUIDATED, {"liquidated": Liquidated.PARTY_A}, ("Success", "Liquidate Position")),
        (Step.LIQUIDATED, {"liquidated": Liquidated.PARTY_B}, ("Success", "Liquidate Position")),
    ],
)
def test_each_step_is_shown_by_the_sdk_with_a_title(step: Step, kwargs: dict, shown: tuple) -> None:  # type: ignore[type-arg]
    assert sdk_shows(wording(step, **kwargs)) == shown


def test_every_step_uses_only_the_sdks_vocabulary() -> None:
    for step in Step:
        for order_type in OrderType:
            w = wording(step, order_type=order_type)
            assert w.last_seen_action in SDK_TITLES, step  # a name it lacks shows no title
            assert w.action_status in {"seen", "success", "failed"}
            assert w.state_type in {"alert", "report"}


def test_the_open_progress_is_a_report_about_the_open() -> None:
    """The SDK's fill-progress card reads `filled_amount_open` only when last_seen_action is
    SendQuote (else `filled_amount_close`): the lock and the hedge must say SendQuote."""
    for step in (Step.LOCKED, Step.HEDGED):
        for order_type in OrderType:
            assert wording(step, order_type=order_type).last_seen_action == "SendQuote"


def test_a_market_close_is_never_a_partial_report() -> None:
    w = wording(Step.CLOSE_FILLED, order_type=OrderType.MARKET, partial=True)
    assert (w.last_seen_action, w.state_type) == ("RequestToClosePosition", "alert")


def test_steps_worded_alike_are_told_apart_by_failure_type() -> None:
    filled = wording(Step.CLOSE_FILLED, order_type=OrderType.LIMIT)
    forced = wording(Step.FORCE_CLOSED, order_type=OrderType.LIMIT)
    assert (filled.last_seen_action, filled.action_status, filled.state_type) == (
        forced.last_seen_action, forced.action_status, forced.state_type,
    )  # fmt: skip
    assert filled.failure_type is None and forced.failure_type == "FORCE_CLOSED"
    by_a = wording(Step.LIQUIDATED, liquidated=Liquidated.PARTY_A).failure_type
    by_b = wording(Step.LIQUIDATED, liquidated=Liquidated.PARTY_B).failure_type
    assert (by_a, by_b) == ("PARTY_A_LIQUIDATED", "PARTY_B_LIQUIDATED")
    assert wording(Step.LIQUIDATED).failure_type is None  # whose liquidation is not known
