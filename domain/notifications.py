"""What a trader's front-end is told at each step of a quote, in the words SYMMIO's front-end
reads (SYMMIO.md §5.1; SYMM-IO/frontend-sdk `packages/core/src/state/notifications`).

Facts this rests on (frontend-sdk `notifications/updater.ts` and `types.ts`):

* the SDK sorts a notification by `state_type` and `action_status` only: a `report` is a
  partial fill (listed with the position, never a pop-up); an `alert` is "Seen by hedger"
  (`seen`), "Success" (`success`) or "Hedger Error" (`failed`, texted from `error_code`);
  any other status is dropped;
* its title is the SDK's text for `last_seen_action` ("Open Order", "Cancel Close Position",
  "Liquidate Position", ...); a name the SDK does not list shows no title, so only names it
  lists are used here (it lists no lock, hedge or force-close of its own);
* a `report` about an open (`last_seen_action` SendQuote) shows `filled_amount_open` against
  the quote's quantity: the lock is the open's progress at 0, the hedge at what the broker
  filled, before the position is opened on chain.

`failure_type` tells apart two steps the SDK words alike (a force-close is a LIMIT close
filled, but by a third party; which party a liquidation was for); the SDK shows it on no
success.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.enums import OrderType


class Step(StrEnum):
    SEEN = "seen"  # the hedger decided to take the intent
    LOCKED = "locked"  # our lockQuote is mined
    HEDGED = "hedged"  # the broker filled what will be opened; openPosition is next
    OPENED = "opened"  # OpenPosition (a partial LIMIT: what was opened)
    REJECTED = "rejected"  # the policy declined, with its solver error code
    CANCELLED = "cancelled"  # a cancel of the intent accepted
    EXPIRED = "expired"  # the intent expired before it opened
    CLOSE_FILLED = "close_filled"  # fillCloseRequest (the whole request, or part of a LIMIT)
    CLOSE_CANCELLED = "close_cancelled"  # the close request cancelled (ours accepted, or forced)
    FORCE_CLOSED = "force_closed"  # a third party's forceClosePosition filled the close
    LIQUIDATED = "liquidated"  # the position was liquidated (PartyA's or our PartyB's)


class Liquidated(StrEnum):
    """Whose liquidation closed the position (the `failure_type` of a LIQUIDATED notice)."""

    PARTY_A = "PARTY_A_LIQUIDATED"
    PARTY_B = "PARTY_B_LIQUIDATED"


@dataclass(frozen=True)
class Wording:
    last_seen_action: str
    action_status: str  # seen | success | failed
    state_type: str  # alert | report
    failure_type: str | None = None


SEND_QUOTE = "SendQuote"
FORCE_CLOSED_TYPE = "FORCE_CLOSED"


def wording(
    step: Step,
    *,
    order_type: OrderType = OrderType.MARKET,
    partial: bool = False,
    liquidated: Liquidated | None = None,
) -> Wording:
    """The SDK's words for `step`; `order_type` and `partial` matter to a close fill (a LIMIT
    close is "Fill Limit Order Close", and a part of it a `report`)."""
    match step:
        case Step.SEEN:
            return Wording(SEND_QUOTE, "seen", "alert")
        case Step.LOCKED | Step.HEDGED:
            return Wording(SEND_QUOTE, "seen", "report")
        case Step.OPENED:
            return Wording(SEND_QUOTE, "success", "alert")
        case Step.REJECTED:
            return Wording(SEND_QUOTE, "failed", "alert", "HEDGER_REJECTED")
        case Step.CANCELLED:
            return Wording("RequestToCancelQuote", "success", "alert")
        case Step.EXPIRED:
            return Wording(SEND_QUOTE, "failed", "alert", "EXPIRED")
        case Step.CLOSE_FILLED:
            action = (
                "FillLimitOrderClose" if order_type == OrderType.LIMIT else "RequestToClosePosition"
            )
            partial_limit = partial and order_type == OrderType.LIMIT
            return Wording(action, "success", "report" if partial_limit else "alert")
        case Step.CLOSE_CANCELLED:
            return Wording("RequestToCancelCloseRequest", "success", "alert")
        case Step.FORCE_CLOSED:
            return Wording("FillLimitOrderClose", "success", "alert", FORCE_CLOSED_TYPE)
        case Step.LIQUIDATED:
            return Wording(
                "LiquidatePosition", "success", "alert", liquidated.value if liquidated else None
            )
    raise ValueError(f"no wording for {step!r}")  # pragma: no cover - every Step is matched
