"""The trading half of `hedger demo`: traders post intents, the hedger works them, we report.

Progress and the end of the run are judged from the outside: the chain says which quotes are
terminal, Temporal's visibility which workflows still run. The summary's counters come from
`devnet.audit` (chain, the exchange simulator's own records, Temporal) — never from the
hedger's ledger or what its workflows say about themselves. The ledger only contributes the
per-hop latencies, labelled as such, when Postgres answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from devnet.audit import TERMINAL, AuditReport, ChainQuote, ChainReader, RunScope, audit_run
from devnet.demo import DemoOptions, HedgerProcesses, write_summary
from devnet.stack.stack import LocalStack
from devnet.stack.supervisor import Supervisor

WORKERS_READY_SECONDS = 120.0  # a worker that polls by then is slow; later, the demo gives up


class ChaosHook(Protocol):
    """What the chaos monkey plugs into a run (see `devnet.chaos`)."""

    async def run(self, stop: asyncio.Event) -> None: ...

    def report(self, supervisor: Supervisor) -> list[dict[str, Any]]: ...

    async def close_windows(self) -> None: ...

    @staticmethod
    def table(rows: Sequence[dict[str, Any]]) -> list[str]: ...


@dataclasses.dataclass
class ChainWatcher:
    """The run's quotes as the chain shows them: new ids picked up, final ones not re-read."""

    reader: ChainReader
    first_id: int
    quotes: dict[int, ChainQuote] = dataclasses.field(default_factory=dict)

    def refresh(self) -> dict[int, ChainQuote]:
        last = self.reader.last_quote_id()
        for quote_id in range(self.first_id, last + 1):
            known = self.quotes.get(quote_id)
            if known is None or known.status not in TERMINAL:
                self.quotes[quote_id] = self.reader.quote(quote_id)
        return self.quotes

    def statuses(self) -> Counter[str]:
        return Counter(q.status for q in self.quotes.values())

    def live(self) -> list[ChainQuote]:
        return [q for q in self.quotes.values() if q.status not in TERMINAL]


async def drive(
    stack: LocalStack,
    symmio: str,
    processes: HedgerProcesses,
    options: DemoOptions,
    log: Callable[[str], None],
    stopping: Callable[[], bool],
    supervisor: Supervisor,
    chaos: ChaosHook | None = None,
) -> int:
    from devnet.contracts.keys import ANVIL_TRADER_KEYS
    from devnet.traders.brain import TraderProfile
    from devnet.traders.sim import TradersConfig, TradersSim

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
    deployment = _deployment(stack)
    reader = ChainReader(stack.info["anvil"]["http"], symmio)
    scope = RunScope(
        rpc_url=stack.info["anvil"]["http"],
        symmio=symmio,
        party_b=str(deployment["party_b"]).lower(),
        exchange_url=stack.info["exchange"]["url"],
        temporal_address=stack.info["temporal"]["address"],
        first_quote_id=reader.last_quote_id() + 1,
        from_block=reader.block_number() + 1,
        chain_id=int(deployment.get("chain_id", 31337)),
        open_positions_ok=not options.exit_when_done,
    )
    watcher = ChainWatcher(reader, scope.first_quote_id)
    traders_by_address = {t.chain.address.lower(): t for t in sim.traders}
    if processes.running:  # the hedger's own processes (a test may run none: nothing to wait for)
        await _hedger_polling(scope, log)
    started = time.monotonic()
    chaos_stop = asyncio.Event()
    chaos_task = asyncio.create_task(chaos.run(chaos_stop)) if chaos is not None else None
    winding_down = False
    wind_down_at: float | None = None
    last_print = 0.0
    timed_out = False
    try:
        while not stopping():
            sent = sum(t.stats.sent for t in sim.traders)
            if options.intents is not None and sent >= options.intents and not winding_down:
                winding_down, wind_down_at = True, time.monotonic()
                for trader in sim.traders:  # no new intents; cancel what waits, close what is open
                    trader.brain.profile = dataclasses.replace(
                        trader.brain.profile,
                        p_open=0.0,
                        p_cancel=0.5,
                        p_close=1.0,
                        market_share=1.0,
                    )
                log(f"demo: {sent} intents posted; winding down (cancelling pending, closing open)")
            await _guarded(log, "traders", sim.step())
            with contextlib.suppress(Exception):  # anvil restarting: next round
                await asyncio.to_thread(watcher.refresh)
                for q in watcher.quotes.values():  # child quotes of partial fills: their trader's
                    owner = traders_by_address.get(q.party_a)
                    if owner is not None and q.status not in TERMINAL:
                        owner.quote_ids.add(q.id)
            if time.monotonic() - last_print > 5:
                last_print = time.monotonic()
                statuses = " ".join(f"{k}={v}" for k, v in sorted(watcher.statuses().items()))
                restarts = sum(supervisor.restarts().values())
                log(f"demo: sent={sent} chain: {statuses} restarts={restarts}")
            if options.exit_when_done and winding_down and not watcher.live():
                live_views = sum(len(t.quote_ids) for t in sim.traders)
                if live_views == 0:
                    break
            if options.exit_when_done and time.monotonic() - started > options.timeout:
                timed_out = True
                log(
                    f"demo: timed out after {options.timeout:.0f}s before every intent was terminal"
                )
                break
            await asyncio.sleep(options.interval)
        if chaos_task is not None:
            chaos_stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(chaos_task, 30)
            assert chaos is not None
            await _guarded(log, "chaos", chaos.close_windows())
        if not options.exit_when_done and options.summary_json is None:
            return 0
        report = await settle(scope, supervisor, options, started, timed_out, log)
    finally:
        if chaos_task is not None and not chaos_task.done():
            chaos_task.cancel()
        reader.close()
    summary = await build_summary(
        stack, sim, scope, report, supervisor, time.monotonic() - started, timed_out, wind_down_at
    )
    if chaos is not None:
        summary["faults_injected"] = chaos.report(supervisor)
    write_summary(options.summary_json, summary)
    if chaos is not None:
        log("chaos: faults injected")
        for line in chaos.table(summary["faults_injected"]):
            log("  " + line)
    print_stuck(summary, log)
    if options.summary_json is not None:
        log(f"demo: summary written to {options.summary_json}")
    if timed_out:
        return 1
    return 0 if report.violations == 0 else 2


async def _guarded(log: Callable[[str], None], what: str, step: Awaitable[Any]) -> None:
    """One step of a run's own machinery; a part restarting under it must not end the run."""
    try:
        await step
    except Exception as exc:
        log(f"demo: {what} step failed ({type(exc).__name__}: {exc}); continuing")


async def settle(
    scope: RunScope,
    supervisor: Supervisor,
    options: DemoOptions,
    started: float,
    timed_out: bool,
    log: Callable[[str], None],
) -> AuditReport:
    """Give the hedger a bounded moment to finish (workflows ending, the last broker fills),
    then count. Ends at `settle_timeout` or the run's own timeout, whichever comes first."""
    budget = 0.0 if timed_out else options.settle_timeout
    if options.exit_when_done:
        budget = min(budget, max(0.0, options.timeout - (time.monotonic() - started)) + 30)
    deadline = time.monotonic() + budget
    report: AuditReport | None = None
    while True:
        try:
            report = await audit_run(scope)
        except Exception as exc:  # Temporal or the chain restarting: try again
            log(f"demo: audit failed ({type(exc).__name__}: {exc})")
            report = None
        if report is not None and (report.violations == 0 or time.monotonic() >= deadline):
            return report
        if time.monotonic() >= deadline + 60:  # the parts never came back: one last try
            return await audit_run(scope)
        await asyncio.sleep(5)


def _deployment(stack: LocalStack) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads((stack.state_dir / "devnet" / "deployment.json").read_text())
    return data


async def build_summary(
    stack: LocalStack,
    sim: Any,
    scope: RunScope,
    report: AuditReport,
    supervisor: Supervisor,
    elapsed: float,
    timed_out: bool,
    wind_down_at: float | None,
) -> dict[str, Any]:
    c = report.counters
    outcomes = report.outcomes
    return {
        "intents": sum(t.stats.sent for t in sim.traders),
        "quotes": report.details.get("quotes", 0),
        "outcomes": outcomes,
        "opened": sum(
            outcomes.get(s, 0)
            for s in ("OPENED", "CLOSE_PENDING", "CANCEL_CLOSE_PENDING", "CLOSED", "LIQUIDATED")
        ),  # fmt: skip
        "closed": outcomes.get("CLOSED", 0),
        "cancelled": outcomes.get("CANCELED", 0),
        "expired": outcomes.get("EXPIRED", 0),
        "liquidated": outcomes.get("LIQUIDATED", 0),
        "counters": c,
        "violations": report.violations,
        "over_hedged": c["over_hedged"],
        "under_hedged": c["under_hedged"],
        "unhedged": c["unhedged_symbols"],
        "duplicate_orders": c["duplicate_orders"],
        "duplicate_txs": c["duplicate_txs"],
        "stuck": c["stuck"],
        "details": report.details,
        "scope": {
            "first_quote_id": scope.first_quote_id,
            "from_block": scope.from_block,
            "party_b": scope.party_b,
        },  # fmt: skip
        "restarts": supervisor.restarts(),
        "supervisor_events": [e.as_dict() for e in supervisor.events],
        "elapsed_seconds": round(elapsed, 1),
        "timed_out": timed_out,
        "trader_failures": sum(t.stats.failures for t in sim.traders),
        "ledger": await _ledger_view(stack),
        "validator": await _validator_view(scope) if not timed_out else None,
    }


def print_stuck(summary: dict[str, Any], log: Callable[[str], None]) -> None:
    counters = summary["counters"]
    log("demo: " + " ".join(f"{k}={v}" for k, v in counters.items()))
    for row in summary["details"]["stuck"]:
        log(f"demo: STUCK quote {row['quote']} ({row['status']}): {'; '.join(row['reasons'])}")
    for row in summary["details"]["duplicate_txs"]:
        log(f"demo: DUPLICATE tx: quote {row['quote']} {row['action']} x{len(row['txs'])}")
    for row in summary["details"]["duplicate_orders"]:
        log(f"demo: DUPLICATE order: {row}")
    for name, row in summary["details"]["net_exposure"].items():
        if "mismatch" in row:
            log(f"demo: UNHEDGED {name}: chain {row['chain']} vs broker {row['broker']}")
    validator = summary.get("validator") or {}
    if "open" in validator:
        log(
            f"demo: position validator: {validator['open']} open finding(s) {validator['open_by_kind']}"
        )


async def _hedger_polling(scope: RunScope, log: Callable[[str], None]) -> None:
    """Trade only once every worker polls its task queue: an intent posted while the chain
    worker still starts waits for it, and the traders' wind-down cancels it meanwhile (the
    5-intent demo then opened nothing on a slow machine)."""
    from temporalio.client import Client

    from devnet.stack.pollers import wait_for_pollers

    if scope.temporal_address is None:
        return
    waited = time.monotonic()
    client = await Client.connect(scope.temporal_address, namespace=scope.namespace)
    await wait_for_pollers(client, timeout=WORKERS_READY_SECONDS)
    log(f"demo: every hedger task queue polled after {time.monotonic() - waited:.1f}s")


async def _validator_view(scope: RunScope, timeout: float = 45.0) -> dict[str, Any] | None:
    """One position-validator run at the end (informational: what it still finds open)."""
    import uuid

    from temporalio.client import Client

    from interfaces.temporal import TaskQueues
    from interfaces.validator import ValidatorInput, validator_workflow_id
    from workflows.validator import ValidatorWorkflow

    if scope.temporal_address is None:
        return None
    try:
        client = await Client.connect(scope.temporal_address, namespace=scope.namespace)
        chain_id = scope.chain_id
        handle = await client.start_workflow(
            ValidatorWorkflow.run, ValidatorInput(chain_id),
            id=f"{validator_workflow_id(chain_id)}-demo-{uuid.uuid4().hex[:8]}",
            task_queue=TaskQueues.OPS,
        )  # fmt: skip
        result = await asyncio.wait_for(handle.result(), timeout)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"open": sum(result.open_by_kind.values()), "open_by_kind": result.open_by_kind}


async def _ledger_view(stack: LocalStack) -> dict[str, Any] | None:
    """The hedger's own record (informational only: statuses and per-hop latencies)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    try:
        engine = create_async_engine(stack.running_url("postgres"))
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(text("SELECT hedge_status, count(*) FROM quotes GROUP BY 1"))
                ).all()
                hops = await _hop_latencies(conn)
        finally:
            await engine.dispose()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"statuses": {str(s): int(n) for s, n in rows}, "latency_seconds": hops}


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "n": len(ordered)}


async def _hop_latencies(conn: Any) -> dict[str, Any]:
    """Per-hop latencies from the ledger's own timestamps (DESIGN §9 hops)."""
    from sqlalchemy import text

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
