"""The trading half of `hedger demo`: traders post intents, the hedger works them, we report.

The summary is computed from the outside, the way an auditor would: the ledger (Postgres) for
outcomes and timings, Temporal's visibility for STUCK workflows, the chain for what is open and
the exchange for what is hedged and how many orders each client order id produced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devnet.demo import DemoOptions, HedgerProcesses, write_summary
from devnet.stack.stack import LocalStack

TERMINAL_INTENT = {"REJECTED", "CANCELLED", "EXPIRED", "FAILED", "OPEN", "CLOSED"}
SINGLE_SHOT_ACTIONS = ("lock_quote", "open_position", "unlock_quote", "accept_cancel_request")


async def drive(
    stack: LocalStack,
    symmio: str,
    processes: HedgerProcesses,
    options: DemoOptions,
    log: Callable[[str], None],
    stopping: Callable[[], bool],
) -> int:
    from devnet.traders.brain import TraderProfile
    from devnet.traders.sim import ANVIL_TRADER_KEYS, TradersConfig, TradersSim

    profile = TraderProfile(
        market_share=0.7,
        p_close=0.4,
        limit_offset=Decimal("0.0005"),
        max_open=6,
        open_deadline=600,
        close_deadline=600,
    )
    config = TradersConfig(
        profile=profile,
        rpc_url=stack.info["anvil"]["http"],
        symmio=symmio,
        muon_urls=[stack.info["oracle"]["url"]],
        private_keys=ANVIL_TRADER_KEYS[: options.traders],
        seed=options.seed,
        interval=options.interval,
        fund_amount=100_000 * 10**18,
    )
    sim = TradersSim(config)
    await asyncio.to_thread(sim.fund)
    database_url = stack.running_url("postgres")
    started = time.monotonic()
    winding_down = False
    last_print = 0.0
    while not stopping():
        sent = sum(t.stats.sent for t in sim.traders)
        if options.intents is not None and sent >= options.intents and not winding_down:
            winding_down = True
            for trader in sim.traders:  # no new intents; cancel what waits, close what is open
                trader.brain.profile = dataclasses.replace(
                    trader.brain.profile, p_open=0.0, p_cancel=0.5, p_close=1.0, market_share=1.0
                )
            log(f"demo: {sent} intents posted; winding down (cancelling pending, closing open)")
        await sim.step()
        failed = processes.check()
        if failed:
            log(
                f"demo: hedger process(es) died: {failed} (logs under {stack.state_dir / 'hedger'})"
            )
            return 1
        counts = await ledger_counts(database_url)
        if time.monotonic() - last_print > 2:
            last_print = time.monotonic()
            log(f"demo: sent={sent} " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        if options.exit_when_done and winding_down and all_done(sim, counts):
            summary = await summarize(stack, sim, time.monotonic() - started)
            write_summary(options.summary_json, summary)
            return 0 if summary["stuck"] == 0 and summary["unhedged"] == 0 else 2
        if options.exit_when_done and time.monotonic() - started > options.timeout:
            log("demo: timed out before every intent was terminal")
            summary = await summarize(stack, sim, time.monotonic() - started)
            write_summary(options.summary_json, summary)
            return 1
        await asyncio.sleep(options.interval)
    return 0


def all_done(sim: Any, counts: dict[str, int]) -> bool:
    live = sum(len(t.views()) for t in sim.traders)  # quotes not CANCELED/CLOSED/EXPIRED/LIQUIDATED
    busy = sum(v for k, v in counts.items() if k not in TERMINAL_INTENT | {"OPEN"})
    return live == 0 and busy == 0


async def ledger_counts(database_url: str) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT hedge_status, count(*) FROM quotes GROUP BY 1"))
            ).all()
    finally:
        await engine.dispose()
    return {str(status): int(n) for status, n in rows}


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "n": 0}  # type: ignore[dict-item]
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "n": len(ordered)}  # type: ignore[dict-item]


async def summarize(stack: LocalStack, sim: Any, elapsed: float) -> dict[str, Any]:
    engine = create_async_engine(stack.running_url("postgres"))
    try:
        async with engine.connect() as conn:
            statuses = dict(
                (
                    await conn.execute(text("SELECT hedge_status, count(*) FROM quotes GROUP BY 1"))
                ).all()
            )
            opened = (await conn.execute(text("SELECT count(*) FROM positions"))).scalar_one()
            closed = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM positions WHERE chain_status IN ('CLOSED', 'LIQUIDATED')"
                    )
                )
            ).scalar_one()
            dup_txs = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM (SELECT quote_id, action FROM chain_transactions "
                        "WHERE status = 'mined' AND action = ANY(:actions) "
                        "GROUP BY quote_id, action HAVING count(*) > 1) d"
                    ),
                    {"actions": list(SINGLE_SHOT_ACTIONS)},
                )
            ).scalar_one()
            hops = await _hop_latencies(conn)
    finally:
        await engine.dispose()
    exchange = await _exchange_state(stack.info["exchange"]["url"])
    per_client_id = Counter(o.get("clientOrderId") for o in exchange.get("orders", []))
    duplicate_orders = sum(n - 1 for cid, n in per_client_id.items() if cid and n > 1)
    stuck = await _stuck_count(stack)
    unhedged = await _unhedged(stack, sim, exchange)
    return {
        "intents": sum(t.stats.sent for t in sim.traders),
        "seen_by_hedger": sum(int(v) for v in statuses.values()),
        "opened": int(opened),
        "closed": int(closed),
        "cancelled": int(statuses.get("CANCELLED", 0)),
        "expired": int(statuses.get("EXPIRED", 0)),
        "rejected": int(statuses.get("REJECTED", 0)),
        "failed": int(statuses.get("FAILED", 0)),
        "stuck": stuck,
        "unhedged": unhedged,
        "duplicate_orders": duplicate_orders,
        "duplicate_txs": int(dup_txs),
        "latency_seconds": hops,
        "elapsed_seconds": round(elapsed, 1),
        "trader_failures": sum(t.stats.failures for t in sim.traders),
    }


async def _hop_latencies(conn: Any) -> dict[str, Any]:
    """Per-hop latencies from the ledger's own timestamps (DESIGN §9 hops)."""
    rows = (
        await conn.execute(
            text(
                """
                SELECT q.quote_id,
                  EXTRACT(EPOCH FROM (lock.created_at - q.created_at)) AS seen_to_lock,
                  EXTRACT(EPOCH FROM (o.created_at - lock.updated_at)) AS lock_to_order,
                  EXTRACT(EPOCH FROM (op.updated_at - o.updated_at)) AS fill_to_open
                FROM quotes q
                LEFT JOIN chain_transactions lock ON lock.quote_id = q.quote_id AND lock.action = 'lock_quote'
                  AND lock.status = 'mined'
                LEFT JOIN chain_transactions op ON op.quote_id = q.quote_id AND op.action = 'open_position'
                  AND op.status = 'mined'
                LEFT JOIN LATERAL (SELECT created_at, updated_at FROM broker_orders b
                  WHERE b.quote_id = q.quote_id AND b.close_id IS NULL ORDER BY created_at LIMIT 1) o ON true
                """
            )
        )
    ).all()
    out: dict[str, Any] = {}
    for index, name in enumerate(
        ("event_to_lock_broadcast", "lock_mined_to_broker_order", "fill_to_open_mined"), 1
    ):
        values = [float(r[index]) for r in rows if r[index] is not None and float(r[index]) >= 0]
        out[name] = _percentiles(values)
    return out


async def _exchange_state(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{url}/admin/state")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


async def _stuck_count(stack: LocalStack) -> int:
    from adapters.temporal import connect
    from config.settings import load_settings

    client = await connect(load_settings(temporal_address=stack.info["temporal"]["address"]))
    return len(
        [
            wf
            async for wf in client.list_workflows(
                'HedgeStatus="STUCK" AND ExecutionStatus="Running"'
            )
        ]
    )


async def _unhedged(stack: LocalStack, sim: Any, exchange: dict[str, Any]) -> int:
    """Symbols whose broker position differs from what is open on chain against us."""
    from domain.enums import PositionType, QuoteStatus

    chain_net: dict[int, Decimal] = {}
    open_statuses = {
        QuoteStatus.OPENED,
        QuoteStatus.CLOSE_PENDING,
        QuoteStatus.CANCEL_CLOSE_PENDING,
    }
    for trader in sim.traders:
        for quote_id in list(
            trader.all_quote_ids if hasattr(trader, "all_quote_ids") else trader.quote_ids
        ):
            view = await asyncio.to_thread(trader.chain.quote, quote_id)
            if view.status in open_statuses:
                qty = Decimal(view.quantity - view.closed_amount) / Decimal(10**18)
                sign = 1 if view.position_type == PositionType.LONG else -1
                chain_net[view.symbol_id] = chain_net.get(view.symbol_id, Decimal(0)) + sign * qty
    names = {1: "BTCUSDT", 2: "ETHUSDT"}
    broker = {sym: Decimal(p["amount"]) for sym, p in exchange.get("positions", {}).items()}
    mismatched = 0
    for symbol_id in set(chain_net) | {k for k, v in names.items() if v in broker}:
        if chain_net.get(symbol_id, Decimal(0)) != broker.get(names.get(symbol_id, ""), Decimal(0)):
            mismatched += 1
    return mismatched
