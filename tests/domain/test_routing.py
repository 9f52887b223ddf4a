"""Event routing on the real protocol-core logs: each event reaches the workflow that owns it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from domain import events as ev
from domain.routing import Route, WorkflowKind, may_take, route

VECTORS = Path(__file__).resolve().parents[1] / "muon" / "vectors" / "logs.json"  # in-repo copy
DATA = json.loads(VECTORS.read_text())
PARTY_B = DATA["partyB"]
OTHER_B = "0x000000000000000000000000000000000000bEEF"


def _events() -> list[ev.SymmioEvent]:
    return [ev.decode_log(log) for log in DATA["logs"]]


def _targets(party_b: str) -> Counter[tuple[str, str, int, bool]]:
    out: Counter[tuple[str, str, int, bool]] = Counter()
    for event in _events():
        for r in route(event, party_b):
            out[(event.canonical_name, r.kind.value, r.quote_id, r.start)] += 1
    return out


def test_every_quote_event_of_the_lifecycle_reaches_its_workflow() -> None:
    targets = _targets(PARTY_B)
    # SendQuote of 1, 2 and the child 3 start intent workflows (open whitelist or ours).
    for quote in (1, 2, 3):
        assert targets[("SendQuote", "intent", quote, True)] == 1
    # Our locks and opens may start the intent (recovery); our close activity starts positions.
    assert targets[("LockQuote", "intent", 1, True)] == 1
    assert targets[("OpenPosition", "intent", 2, True)] == 1
    assert targets[("RequestToClosePosition", "position", 1, True)] >= 1
    assert targets[("FillCloseRequest", "position", 2, True)] >= 1
    # Quote-only events signal, never start.
    assert targets[("AcceptCancelRequest", "intent", 3, False)] >= 1
    assert targets[("AcceptCancelCloseRequest", "position", 2, False)] >= 1
    # Bookkeeping events route nowhere.
    assert not [t for t in targets if t[0].startswith("BalanceChange")]


def test_legacy_duplicates_route_to_the_same_target() -> None:
    by_logical: dict[tuple[object, ...], set[Route]] = {}
    for event in _events():
        by_logical.setdefault(event.logical_key(), set()).update(route(event, PARTY_B))
    for event in _events():
        if event.legacy:
            assert set(route(event, PARTY_B)) <= by_logical[event.logical_key()]


def test_another_hedgers_position_events_are_ignored() -> None:
    targets = _targets(OTHER_B)
    # Nothing starts a position workflow for someone else's quote; quote-only events may still
    # be offered as signals (no workflow exists for them, so they are dropped).
    assert not [t for t in targets if t[1] == "position" and t[3]]
    assert ("RequestToClosePosition", "position", 1, True) not in targets
    # Its lock of a quote we might have wanted still informs (never starts) our intent.
    assert all(
        not start for (name, _, _, start) in targets if name in {"LockQuote", "OpenPosition"}
    )


def test_whitelist_rules() -> None:
    send = next(e for e in _events() if isinstance(e, ev.SendQuote) and e.party_bs_white_list)
    assert may_take(send, PARTY_B)
    assert not may_take(send, OTHER_B)
    open_send = next(
        e for e in _events() if isinstance(e, ev.SendQuote) and not e.party_bs_white_list
    )
    assert may_take(open_send, OTHER_B)
    assert not may_take(open_send, open_send.party_a)  # a trader cannot be its own counterparty


def test_removed_logs_never_start_a_workflow() -> None:
    import dataclasses

    send = next(e for e in _events() if isinstance(e, ev.SendQuote))
    removed = dataclasses.replace(send, removed=True)
    routes = route(removed, PARTY_B)
    assert routes and all(not r.start for r in routes)
    assert {r.kind for r in routes} == {WorkflowKind.INTENT, WorkflowKind.POSITION}
