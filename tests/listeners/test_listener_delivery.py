"""Delivery of the real protocol-core logs (symmio-vectors/logs.json) straight through
`workers.listeners.delivery`, into recording workflows on the real Temporal dev server, with the
`chain_events` record in the real Postgres."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from listener_helpers import (
    OUR_PARTY_B,
    all_received,
    eventually,
    expected_targets,
    load_vectors,
    next_chain_id,
    received,
    received_keys,
)
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey

from domain.events import decode_log, drop_legacy_twins
from interfaces.temporal import SearchAttributes
from ledger.market_tables import SymbolRecord
from workers.listeners.delivery import Delivery, Outcome, TargetResult


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_every_vector_log_reaches_its_workflow_once(
    make_delivery: Callable[..., Delivery], temporal_client: Client, engine: AsyncEngine
) -> None:
    vectors = load_vectors()
    logs: list[dict[str, Any]] = vectors["logs"]
    chain_id = next_chain_id()
    delivery = make_delivery(chain_id)
    expected = expected_targets(logs, chain_id)
    assert set(expected) == {
        f"intent-{chain_id}-1",
        f"intent-{chain_id}-2",
        f"intent-{chain_id}-3",
        f"position-{chain_id}-1",
        f"position-{chain_id}-2",
    }
    dup_before = metric("hedger_listener_events_duplicate_total", source="ws")

    results = [await delivery.deliver(log, "poll") for log in logs]
    assert all(r.outcome == Outcome.DELIVERED for r in results), results
    for log, r in zip(logs, results, strict=True):
        want = [
            wid
            for wid, keys in expected.items()
            if (log["transactionHash"], log["logIndex"]) in keys
        ]
        assert [wid for wid, _ in r.targets] == want, (log["event"], r)
    # the first event of each workflow started it; a later one never failed to arrive
    assert all(res != TargetResult.NOT_FOUND for r in results for _, res in r.targets)

    # a second listener delivering the same logs: recorded already, not signalled again
    again = [await delivery.deliver(log, "ws") for log in logs]
    assert [r.outcome for r in again] == [Outcome.DUPLICATE] * len(logs)
    assert metric("hedger_listener_events_duplicate_total", source="ws") - dup_before == len(logs)

    await eventually(lambda: all_received(temporal_client, expected), what="all deliveries")
    for wid, keys in expected.items():
        assert await received_keys(temporal_client, wid) == keys, wid  # once each, in chain order

    # legacy twins: both forms arrive (distinct logIndex); the workflow applies one per action
    position_1 = await received(temporal_client, f"position-{chain_id}-1")
    events = [decode_log(x.as_log()) for x in position_1]
    assert [(e.canonical_name, e.legacy) for e in events] == [
        ("RequestToClosePosition", False),
        ("RequestToClosePosition", True),
        ("FillCloseRequest", False),
        ("FillCloseRequest", True),
    ]
    assert [e.canonical_name for e in drop_legacy_twins(events)] == [
        "RequestToClosePosition",
        "FillCloseRequest",
    ]
    assert {x.source for x in position_1} == {"poll"}

    # one chain_events row per log, from the first listener that delivered it
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT name, source, quote_id FROM chain_events WHERE chain_id = :c"),
                {"c": chain_id},
            )
        ).all()
    assert len(rows) == len(logs)
    assert {r.source for r in rows} == {"poll"}
    names = Counter(r.name for r in rows)
    assert names["FillCloseRequest"] == 2 and names["FillCloseRequest(legacy)"] == 2
    assert names["BalanceChangePartyA"] == 6

    # forced re-delivery (as if nothing was recorded): duplicates reach the same runs, which
    # dedupe by key; signal-with-start never starts a second run
    runs = {
        wid: (await temporal_client.get_workflow_handle(wid).describe()).run_id for wid in expected
    }
    forced = make_delivery(chain_id, skip_recorded=False)
    for log in logs:
        await forced.deliver(log, "subgraph")
    await eventually(lambda: all_received(temporal_client, expected, copies=2), what="re-delivery")
    for wid, keys in expected.items():
        got = await received_keys(temporal_client, wid)
        assert Counter(got) == Counter(keys * 2), wid
        assert list(dict.fromkeys(got)) == keys  # dedupe by key restores the original sequence
        assert (await temporal_client.get_workflow_handle(wid).describe()).run_id == runs[wid]


async def test_search_attributes_and_no_restart_of_a_finished_workflow(
    make_delivery: Callable[..., Delivery], temporal_client: Client, engine: AsyncEngine
) -> None:
    logs = load_vectors()["logs"]
    send_quote = next(x for x in logs if x["event"] == "SendQuote" and x["args"]["quoteId"] == "1")
    lock = next(x for x in logs if x["event"] == "LockQuote" and x["args"]["quoteId"] == "1")
    async with engine.begin() as conn:
        await conn.execute(
            insert(SymbolRecord.__table__)
            .values(
                **SymbolRecord(symbol_id=1, name="BTCUSDT", symbol="BTC", asset="USDT").model_dump()
            )
            .on_conflict_do_nothing()
        )
        symbol = (
            await conn.execute(text("SELECT name FROM symbols WHERE symbol_id = 1"))
        ).scalar_one()

    chain_id = next_chain_id()
    delivery = make_delivery(chain_id, skip_recorded=False)
    wid = f"intent-{chain_id}-1"
    first = await delivery.deliver(send_quote, "ws")
    assert first.targets == ((wid, TargetResult.STARTED_OR_SIGNALLED),)
    handle = temporal_client.get_workflow_handle(wid)
    desc = await handle.describe()
    attrs = desc.typed_search_attributes
    assert attrs.get(SearchAttributes.QUOTE_ID) == 1
    assert attrs.get(SearchAttributes.HEDGE_STATUS) == "RECEIVED"
    assert attrs.get(SearchAttributes.PARTY_A) == vectors_party_a(send_quote)
    assert attrs.get(SearchAttributes.PARTY_B) == OUR_PARTY_B
    assert attrs.get(SearchAttributes.SYMBOL) == symbol
    assert attrs.get(SearchAttributeKey.for_keyword("Nope")) is None

    await handle.signal("finish")
    assert await handle.result() == 1
    finished_before = metric(
        "hedger_listener_workflow_already_finished_total", source="ws", kind="intent", mode="start"
    )

    # late duplicates (another listener, a restart's re-scan) must not start a new run
    late = await delivery.deliver(send_quote, "ws")
    assert late.outcome == Outcome.DELIVERED
    assert late.targets == ((wid, TargetResult.ALREADY_FINISHED),)
    locked = await delivery.deliver(lock, "ws")  # our LockQuote: a start target too
    assert locked.targets == ((wid, TargetResult.ALREADY_FINISHED),)
    assert (
        metric(
            "hedger_listener_workflow_already_finished_total",
            source="ws",
            kind="intent",
            mode="start",
        )
        - finished_before
        == 2
    )
    # a plain signal (start=False) to a workflow that does not exist is ignored, not an error
    cancel_q3 = next(x for x in logs if x["event"] == "RequestToCancelQuote")
    res = await delivery.deliver(cancel_q3, "ws")
    assert res.targets == ((f"intent-{chain_id}-3", TargetResult.NOT_FOUND),)

    desc2 = await handle.describe()
    assert desc2.run_id == desc.run_id
    assert desc2.status == WorkflowExecutionStatus.COMPLETED
    runs = [w async for w in temporal_client.list_workflows(f"WorkflowId = '{wid}'")]
    assert len(runs) == 1


def vectors_party_a(log: dict[str, Any]) -> str:
    return str(log["args"]["partyA"])


async def test_malformed_and_foreign_logs_never_raise(
    make_delivery: Callable[..., Delivery], engine: AsyncEngine
) -> None:
    logs = load_vectors()["logs"]
    chain_id = next_chain_id()
    delivery = make_delivery(chain_id)
    send_quote = next(x for x in logs if x["event"] == "SendQuote")
    before = metric("hedger_listener_events_undecodable_total", source="poll")

    truncated = {**send_quote, "data": send_quote["data"][:100], "logIndex": 77}
    r = await delivery.deliver(truncated, "poll")
    assert r.outcome == Outcome.UNDECODABLE and r.error and "SendQuote" in r.error
    bad_enum = next(x for x in logs if x["event"] == "AcceptCancelRequest")
    data = bad_enum["data"][:-2] + "63"  # quoteStatus 99
    r2 = await delivery.deliver({**bad_enum, "data": data, "logIndex": 78}, "poll")
    assert r2.outcome == Outcome.UNDECODABLE
    # no position at all: still no exception
    r3 = await delivery.deliver({"topics": send_quote["topics"], "data": "0x"}, "poll")
    assert r3.outcome == Outcome.UNDECODABLE and r3.key is None
    unknown = {**send_quote, "topics": ["0x" + "ab" * 32]}
    assert (await delivery.deliver(unknown, "poll")).outcome == Outcome.IGNORED
    assert metric("hedger_listener_events_undecodable_total", source="poll") - before == 3

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT log_index, name, payload FROM chain_events WHERE chain_id = :c "
                    "ORDER BY log_index"
                ),
                {"c": chain_id},
            )
        ).all()
    assert [(r.log_index, r.name) for r in rows] == [(77, "UNDECODABLE"), (78, "UNDECODABLE")]
    assert "SendQuote" in rows[0].payload["error"]
    assert rows[0].payload["log"]["data"] == truncated["data"]


async def test_a_removed_log_is_delivered_again_but_never_starts_a_workflow(
    make_delivery: Callable[..., Delivery], temporal_client: Client
) -> None:
    """A reorg makes the node resend a log with removed=true (same key): it must reach the
    owning workflow even though the key was recorded, and must not start anything."""
    logs = load_vectors()["logs"]
    send_quote = next(x for x in logs if x["event"] == "SendQuote" and x["args"]["quoteId"] == "2")
    chain_id = next_chain_id()
    delivery = make_delivery(chain_id)
    intent, position = f"intent-{chain_id}-2", f"position-{chain_id}-2"
    assert (await delivery.deliver(send_quote, "ws")).targets == (
        (intent, TargetResult.STARTED_OR_SIGNALLED),
    )
    removed = await delivery.deliver({**send_quote, "removed": True}, "ws")
    assert removed.outcome == Outcome.DELIVERED
    assert removed.targets == (
        (intent, TargetResult.SIGNALLED),
        (position, TargetResult.NOT_FOUND),
    )

    async def both() -> bool:
        return len(await received(temporal_client, intent)) >= 2

    await eventually(both, what="the removed log")
    got = await received(temporal_client, intent)
    assert [x.removed for x in got] == [False, True]
    assert got[0].log_index == got[1].log_index and got[0].tx_hash == got[1].tx_hash
