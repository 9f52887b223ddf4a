"""The three listeners on the whole hedger (real stack, real workflows): with any two of them
stopped every intent is still processed end to end, and with a dead first endpoint for every
RPC, websocket and subgraph URL of every process the hedger trades as before."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devnet.stack.process import free_port
from domain.enums import PositionType, QuoteStatus

pytestmark = pytest.mark.slow

LISTENERS = ("listener-poll", "listener-ws", "listener-subgraph")


async def _round_trip(hedger, side: PositionType) -> None:  # type: ignore[no-untyped-def]
    quote_id = await hedger.send_quote(side=side, quantity=Decimal("0.01"))
    await hedger.wait_chain(quote_id, {QuoteStatus.OPENED}, timeout=120)
    assert await hedger.wait_workflow(hedger.intent(quote_id)) == "opened"
    await hedger.assert_hedged()
    await hedger.request_close(quote_id)
    await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED}, timeout=120)
    assert (await hedger.wait_workflow(hedger.position(quote_id))).startswith("flat")
    await hedger.assert_hedged()


@pytest.mark.parametrize("survivor", LISTENERS)
async def test_any_single_listener_carries_the_whole_lifecycle(hedger, survivor: str) -> None:  # type: ignore[no-untyped-def]
    stopped = [name for name in LISTENERS if name != survivor]
    for name in stopped:
        hedger.processes.kill(name)
    try:
        await _round_trip(hedger, PositionType.LONG)
    finally:
        for name in stopped:
            hedger.processes.restart(name)


async def test_a_dead_first_endpoint_everywhere_changes_nothing(hedger) -> None:  # type: ignore[no-untyped-def]
    env = hedger.processes.env
    saved = {
        k: env.get(k) for k in ("HEDGER_RPC_HTTP_URLS", "HEDGER_RPC_WS_URLS", "HEDGER_SUBGRAPH_URL")
    }
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    env["HEDGER_RPC_HTTP_URLS"] = f"http://{dead},{hedger.rpc_url}"
    env["HEDGER_RPC_WS_URLS"] = f"ws://{dead},{env['HEDGER_RPC_WS_URL']}"
    env["HEDGER_SUBGRAPH_URL"] = f"http://{dead}/subgraphs/name/x,{saved['HEDGER_SUBGRAPH_URL']}"
    names = [n for n in hedger.processes.running if n != "subgraph-indexer"]
    try:
        for name in names:  # every process of the hedger, as production would roll it
            hedger.processes.restart(name)
        await _round_trip(hedger, PositionType.SHORT)
    finally:
        for key, value in saved.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        for name in names:
            hedger.processes.restart(name)
