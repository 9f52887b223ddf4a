"""Which workflow a decoded SYMMIO event belongs to (pure).

The listeners call `route(event, our_party_b)` and deliver the raw log to each returned target:
`start=True` targets use signal-with-start (the event may be the first this workflow sees);
`start=False` targets only signal an existing workflow (an event about a quote that is not ours
must not create a workflow), and a missing workflow is not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import events as ev
from domain.quote import same_address


class WorkflowKind(StrEnum):
    INTENT = "intent"
    POSITION = "position"


@dataclass(frozen=True, slots=True)
class Route:
    kind: WorkflowKind
    quote_id: int
    start: bool


_INTENT_BY_QUOTE: tuple[type[ev.SymmioEvent], ...] = (
    ev.AcceptCancelRequest,
    ev.ExpireQuoteOpen,
    ev.ForceCancelQuote,
)
_POSITION_BY_QUOTE: tuple[type[ev.SymmioEvent], ...] = (
    ev.ExpireQuoteClose,
    ev.AcceptCancelCloseRequest,
    ev.ForceCancelCloseRequest,
)
_POSITION_WITH_PARTY_B: tuple[type[ev.SymmioEvent], ...] = (
    ev.RequestToClosePosition,
    ev.RequestToCancelCloseRequest,
    ev.FillCloseRequest,
    ev.EmergencyClosePosition,
    ev.ForceClosePosition,
)


# The diamond's switches: the risk-control workflow reads them again when one of these lands
# (`domain.trading_state`). The events carry no state worth trusting alone (a reorg, an order
# between listeners): the chain's views decide.
PROTOCOL_EVENTS: tuple[type[ev.SymmioEvent], ...] = (
    ev.PausePartyBActions,
    ev.UnpausePartyBActions,
    ev.PauseGlobal,
    ev.UnpauseGlobal,
    ev.ActiveEmergencyMode,
    ev.DeactiveEmergencyMode,
    ev.SetPartyBEmergencyStatus,
)


def concerns_protocol_state(event: ev.SymmioEvent, our_party_b: str) -> bool:
    """Does `event` change a protocol switch our trading state depends on?"""
    if isinstance(event, ev.SetPartyBEmergencyStatus):
        return same_address(event.party_b, our_party_b)
    return isinstance(event, PROTOCOL_EVENTS)


def may_take(event: ev.SendQuote, our_party_b: str) -> bool:
    """A quote we may lock: whitelisted, or an open whitelist and we are not its PartyA."""
    if event.party_bs_white_list:
        return any(same_address(p, our_party_b) for p in event.party_bs_white_list)
    return not same_address(event.party_a, our_party_b)


def route(event: ev.SymmioEvent, our_party_b: str) -> list[Route]:
    """Targets for `event` (empty when it concerns no workflow of ours)."""
    if event.removed:
        # A reorg removed the log: the owning workflow re-reads the chain; deliver, never start.
        ids = _quote_ids(event)
        return [
            Route(kind, q, False)
            for q in ids
            for kind in (WorkflowKind.INTENT, WorkflowKind.POSITION)
        ]
    if isinstance(event, ev.SendQuote):
        return (
            [Route(WorkflowKind.INTENT, event.quote_id, True)]
            if may_take(event, our_party_b)
            else []
        )
    if isinstance(event, ev.LockQuote | ev.UnlockQuote | ev.OpenPosition):
        ours = same_address(event.party_b, our_party_b)
        # Another hedger locking or opening a quote we were racing for ends our intent.
        return [Route(WorkflowKind.INTENT, event.quote_id, ours)]
    if isinstance(event, ev.RequestToCancelQuote):
        return [Route(WorkflowKind.INTENT, event.quote_id, False)]
    if isinstance(event, _INTENT_BY_QUOTE):
        return [Route(WorkflowKind.INTENT, event.quote_id, False)]  # type: ignore[attr-defined]
    if isinstance(event, _POSITION_WITH_PARTY_B):
        ours = same_address(event.party_b, our_party_b)  # type: ignore[attr-defined]
        return [Route(WorkflowKind.POSITION, event.quote_id, True)] if ours else []  # type: ignore[attr-defined]
    if isinstance(event, _POSITION_BY_QUOTE):
        return [Route(WorkflowKind.POSITION, event.quote_id, False)]  # type: ignore[attr-defined]
    if isinstance(event, ev.LiquidatePositionsPartyA | ev.LiquidatePositionsPartyB):
        if isinstance(event, ev.LiquidatePositionsPartyB) and not same_address(
            event.party_b, our_party_b
        ):
            return []
        return [Route(WorkflowKind.POSITION, q, False) for q in event.quote_ids]
    if isinstance(event, ev.LiquidatePendingPositionsPartyA):
        return [Route(WorkflowKind.INTENT, q, False) for q in event.quote_ids or ()]
    return []


def _quote_ids(event: ev.SymmioEvent) -> list[int]:
    if hasattr(event, "quote_id"):
        return [int(event.quote_id)]
    if hasattr(event, "quote_ids"):
        return [int(q) for q in event.quote_ids]
    return []
