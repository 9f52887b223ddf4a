"""`make bench`: the hedger's latency, throughput, lock race and memory on the embedded stack.

One run, every part real and local (Temporal dev server, Postgres, anvil, the exchange
simulator through ccxt, the Muon oracle, every hedger process as production starts it):

1. warm-up intents (not counted);
2. **hedger phases**: MARKET intents whitelisted to the hedger alone, at each offered rate for
   `--seconds` s; each opened position is asked to close at once, so closes are measured too;
3. **floor phase**: the same intents whitelisted to `bench.floor.FloorBot` alone (a second
   PartyB with its own key, registered like ours, trading on its own simulator) - the same
   RPC, oracle and broker calls in a straight line, no orchestration;
4. **race**: intents whitelisting both PartyBs - who locks first;
5. **open positions**: `--positions` intents opened and left open; the workflow worker's RSS
   against the count (and after `--soak` s).

Every latency comes from outside the hedger: the bench's own websocket subscription to the
chain (wall clock when a log or a pending transaction is seen) and the simulators' own order
and trade records. Temporal figures come from the workflow histories, CPU and RSS from psutil.
Results: `bench/results/<UTC timestamp>.json`, `latest.json` and `latest.png` (`bench.report`).

Run: `make bench` (or `.venv/bin/python -m bench.run --quick`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import report
from bench.chain_watch import ChainWatch
from bench.stats import (
    CLOSE_HOPS,
    HOPS,
    OPEN_HOPS,
    QuoteStamps,
    RatePhase,
    broker_stamps,
    highest_sustained,
    hop_latencies,
    local_activity_type,
    percentiles,
    processed_rate,
    ratios,
    rss_per_thousand,
)
from domain import events as ev
from domain.enums import OrderType, PositionType

WAD = 10**18
SYMBOL_ID = 1
QUANTITY = Decimal("0.003")  # BTC per intent: ~150-180 USD, above the broker's 100 USD minimum
TRADERS = 24  # PartyAs posting in parallel (each sends one transaction at a time)
# The allocation band target (USD per PartyA) of the hedger and, the same rule, of the floor: a
# lock that must allocate tops up to it, so a PartyA's next locks send no allocation first.
ALLOCATION_TARGET = Decimal(5_000)
# The floor's fixed gas limit, which the hedger is given too: it still pre-flights each
# transaction, with one eth_call at that limit instead of an estimate.
GAS_LIMIT = 3_000_000
# Open positions per PartyA at most in the positions phase: every uPnL signature (the trader's
# and the hedger's) reads all of a PartyA's positions, so 10,000 positions on 24 PartyAs made
# each Muon call ~40x dearer and the phase crawled at 0.8 opens/s.
POSITIONS_PER_TRADER = 40
FINAL = {"FillCloseRequest"}  # the event that ends an intent's life in the bench


@dataclass
class Options:
    rates: list[float] = field(default_factory=lambda: [2.0, 3.0, 4.0, 5.0, 10.0, 20.0])
    seconds: float = 20.0
    grace: float = 40.0
    floor_rate: float = 2.0
    positions: int = 500
    positions_rate: float = 3.0
    soak: float = 60.0
    drain: float = 90.0
    all_rates: bool = False
    out: Path = Path("bench/results")
    quick: bool = False
    keep_state: bool = False
    positions_only: bool = False  # only the warm-up and the open-positions phase
    soak_sample: float = 60.0  # seconds between RSS samples during the soak


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# Per open position: ~180 USD notional (QUANTITY at ~60k) and its broker margin.
NOTIONAL_PER_POSITION = Decimal(400)  # USD, with room
DEFAULT_BROKER_WALLET = 100_000  # USDT, the exchange simulator's default


def risk_limits(positions: int) -> dict[str, str]:
    """Hedger risk limits that let `positions` bench positions open (the defaults, 1 M open
    interest and 250 k per symbol, stop at about 1,400 positions); none below the defaults."""
    need = NOTIONAL_PER_POSITION * positions
    if need <= Decimal(250_000):
        return {}
    return {"HEDGER_MAX_OPEN_INTEREST": str(max(need, Decimal(1_000_000))),
            "HEDGER_MAX_NOTIONAL_PER_SYMBOL": str(need)}  # fmt: skip


def broker_wallet(positions: int) -> int:
    """The simulated broker's USDT wallet: the default while the default risk limits hold the
    positions (their margin fits), else the positions' whole notional."""
    if not risk_limits(positions):
        return DEFAULT_BROKER_WALLET
    return max(DEFAULT_BROKER_WALLET, int(NOTIONAL_PER_POSITION * positions))


# ----------------------------------------------------------------------------------- traders


class Traders:
    """PartyAs posting MARKET intents through the trader simulator's chain helper."""

    def __init__(
        self,
        rpc_url: str,
        symmio: str,
        muon_url: str,
        mark: Decimal,
        count: int = TRADERS,
        label: str = "symmio-hedger bench trader",
    ) -> None:
        from eth_utils.crypto import keccak
        from web3 import Web3

        from devnet.traders.chain import PartyAChain

        self.rpc_url, self.symmio, self.muon_url, self.mark = rpc_url, symmio, muon_url, mark
        self.chains: list[Any] = []
        for n in range(count):
            key = "0x" + keccak(text=f"{label} {n}").hex()
            self.chains.append(PartyAChain(Web3(Web3.HTTPProvider(rpc_url)), symmio, key))
        self._locks = [asyncio.Lock() for _ in self.chains]
        self._next = 0
        self._owner: dict[int, str] = {}  # quote id -> the PartyA that posted it
        self.failures: list[str] = []

    def party_a_of(self, quote_id: int) -> str | None:
        return self._owner.get(quote_id)

    async def fund(self) -> None:
        from devnet.stack.anvil import rpc_call

        def one(chain: Any) -> None:
            rpc_call(self.rpc_url, "anvil_setBalance", [chain.address, hex(10_000 * WAD)])
            chain.fund(10_000_000 * WAD)

        await asyncio.gather(*(asyncio.to_thread(one, c) for c in self.chains))

    async def post(self, muon: Any, whitelist: Sequence[str]) -> int | None:
        """One MARKET LONG intent at the mark + 1 %; its quote id (None if the post failed)."""
        from devnet.traders.brain import SendQuote

        index = self._next % len(self.chains)
        self._next += 1
        chain = self.chains[index]
        async with self._locks[index]:
            try:
                sig = await muon.party_a_upnl_and_price_sig(
                    party_a=chain.address, chain_id=31337, symmio=self.symmio, symbol_id=SYMBOL_ID
                )
                price = (Decimal(sig.price) / WAD * Decimal("1.01")).quantize(Decimal("0.01"))
                locked = QUANTITY * price / 5
                quote = SendQuote(
                    symbol_id=SYMBOL_ID, position_type=PositionType.LONG, order_type=OrderType.MARKET,
                    price=int(price * WAD), quantity=int(QUANTITY * WAD),
                    cva=int(locked * Decimal("0.15") * WAD), lf=int(locked * Decimal("0.08") * WAD),
                    party_amm=int(locked * Decimal("0.77") * WAD), party_bmm=int(locked * Decimal("0.77") * WAD),
                    max_funding_rate=0, deadline=int(time.time()) + 3600,
                )  # fmt: skip
                quote_id = int(
                    await asyncio.to_thread(chain.send_quote, quote, sig, list(whitelist))
                )
                self._owner[quote_id] = chain.address
                return quote_id
            except Exception as exc:  # noqa: BLE001 - a failed post is counted, not fatal
                self.failures.append(f"sendQuote: {exc}")
                return None

    async def close(self, party_a: str, quote_id: int) -> None:
        """A MARKET close of the whole position at the mark - 1 %."""
        chain = next((c for c in self.chains if c.address.lower() == party_a.lower()), None)
        if chain is None:
            return
        index = self.chains.index(chain)
        price = int((self.mark * Decimal("0.99")).quantize(Decimal("0.01")) * WAD)
        async with self._locks[index]:
            try:
                await asyncio.to_thread(
                    chain.request_to_close_position, quote_id, price, int(QUANTITY * WAD),
                    OrderType.MARKET, int(time.time()) + 3600,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001
                self.failures.append(f"requestToClosePosition {quote_id}: {exc}")


# ----------------------------------------------------------------------------------- resources


class Resources:
    """CPU and RSS of every process of the run, sampled every second."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs: dict[str, psutil.Process] = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                self.procs[name] = psutil.Process(pid)
        self.samples: dict[str, list[tuple[float, float, float]]] = {n: [] for n in self.procs}
        self._known: dict[int, psutil.Process] = {}
        self._task: asyncio.Task[None] | None = None

    def _rss_cpu(self, proc: psutil.Process) -> tuple[float, float]:
        """RSS (MB) and CPU % of a process and its children (Postgres forks, Temporal); the
        bench's own process alone (every other process is its child)."""
        rss, cpu = 0.0, 0.0
        family = [proc]
        if proc.pid != os.getpid():
            with contextlib.suppress(psutil.Error):
                for child in proc.children(recursive=True):  # the same object: its CPU % counts
                    family.append(self._known.setdefault(child.pid, child))
        for p in family:
            with contextlib.suppress(psutil.Error):
                rss += p.memory_info().rss / 2**20
                cpu += p.cpu_percent(None)
        return rss, cpu

    async def _run(self) -> None:
        while True:
            now = time.time()
            for name, proc in self.procs.items():
                with contextlib.suppress(psutil.Error):
                    rss, cpu = self._rss_cpu(proc)
                    self.samples[name].append((now, rss, cpu))
            await asyncio.sleep(1.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def rss(self, name: str) -> float | None:
        proc = self.procs.get(name)
        return self._rss_cpu(proc)[0] if proc is not None else None

    def cpu(self, name: str, seconds: float) -> float | None:
        """The process's mean CPU % over the last `seconds` s of samples."""
        since = time.time() - seconds
        window = [r[2] for r in self.samples.get(name, [])[1:] if r[0] >= since]
        return sum(window) / len(window) if window else None

    def summary(self, since: float = 0.0, until: float = float("inf")) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, rows in self.samples.items():
            window = [r for r in rows[1:] if since <= r[0] <= until]  # the first CPU read is 0
            if not window:
                continue
            out[name] = {
                "rss_mb_peak": round(max(r[1] for r in window), 1),
                "rss_mb_mean": round(sum(r[1] for r in window) / len(window), 1),
                "cpu_pct_mean": round(sum(r[2] for r in window) / len(window), 1),
                "cpu_pct_peak": round(max(r[2] for r in window), 1),
            }
        return out


# ----------------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.state = Path(tempfile.mkdtemp(prefix="symmio-bench-"))
        self.results: dict[str, Any] = {"phases": [], "floor": None, "race": None}
        self.watch: ChainWatch | None = None
        self.traders: Traders | None = None
        self.close_after_open: set[int] = set()
        self.our_party_b = ""
        self.floor_party_b = ""

    # --------------------------------------------------------------- set-up
    def _stack(self) -> None:
        from devnet.demo import HedgerProcesses, ensure_deployment, hedger_env
        from devnet.stack.process import free_port
        from devnet.stack.stack import LocalStack, StackPorts

        self.stack = LocalStack(
            self.state, StackPorts(*(free_port() for _ in range(6))), log=log,
            exchange_args=["--balance", str(broker_wallet(self.options.positions))],
        )  # fmt: skip
        self.stack.up()
        symmio = ensure_deployment(self.stack, log)
        assert symmio is not None, "the devnet contract is missing"
        self.symmio = symmio
        env = hedger_env(self.stack)
        env["HEDGER_API_PORT"] = str(free_port())
        env.update(risk_limits(self.options.positions))
        env["HEDGER_BALANCE_ALLOCATION_TARGET"] = str(ALLOCATION_TARGET)
        env["HEDGER_CHAIN_GAS_LIMIT"] = str(GAS_LIMIT)
        self.env = env
        self.processes = HedgerProcesses(self.state, env, log)
        self.processes.start()

    async def _floor_exchange(self) -> None:
        from devnet.stack.process import free_port
        from devnet.stack.services import start_exchange

        floor_state = self.state / "floor"
        floor_state.mkdir(exist_ok=True)
        self.floor_exchange = await asyncio.to_thread(
            start_exchange, port=free_port(), state_dir=floor_state, seed=2
        )

    async def _freeze(self, url: str, price: Decimal) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            body = {"symbol": "BTCUSDT", "price": str(price), "freeze": True}
            (await client.post(f"{url}/admin/price", json=body)).raise_for_status()
            (await client.post(f"{url}/admin/freeze", json={"frozen": True})).raise_for_status()

    async def _mark(self, url: str) -> Decimal:
        async with httpx.AsyncClient(timeout=10) as client:
            state = (await client.get(f"{url}/admin/state")).json()
        return Decimal(state["prices"]["BTCUSDT"])

    def _pids(self) -> dict[str, int]:
        pids = {name: c.process.pid for name, c in self.stack.running.items()}
        pids |= {name: p.pid for name, p in self.processes.running.items() if p.pid}
        pids["floor-exchange"] = self.floor_exchange.process.pid or 0
        pids["bench"] = os.getpid()
        return {k: v for k, v in pids.items() if v}

    # --------------------------------------------------------------- events
    def _on_event(self, event: ev.SymmioEvent, _when: float) -> None:
        """Ask each opened position of this run to close at once (closes are measured too)."""
        if isinstance(event, ev.OpenPosition) and event.quote_id in self.close_after_open:
            assert self.traders is not None
            asyncio.get_running_loop().create_task(
                self.traders.close(event.party_a, event.quote_id)
            )

    # --------------------------------------------------------------- phases
    async def _post_at(
        self, muon: Any, rate: float, seconds: float, whitelist: Sequence[str], *, close: bool
    ) -> tuple[list[int], float, float]:
        """Post at `rate` for `seconds`; the quote ids, the first post time, the achieved rate."""
        assert self.traders is not None
        count = max(1, round(rate * seconds))
        start = time.time()
        tasks = []
        for i in range(count):
            delay = start + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._post_one(muon, whitelist, close=close)))
        ids = [q for q in await asyncio.gather(*tasks) if q is not None]
        elapsed = max(time.time() - start, 1e-9)
        return ids, start, len(ids) / max(elapsed, count / rate)

    async def _post_one(self, muon: Any, whitelist: Sequence[str], *, close: bool) -> int | None:
        assert self.traders is not None and self.watch is not None
        quote_id = await self.traders.post(muon, whitelist)
        if quote_id is not None and close:
            self.close_after_open.add(quote_id)
            if self.watch.statuses.get(quote_id) == "OpenPosition":  # opened before we knew it
                party_a = self.traders.party_a_of(quote_id)
                if party_a is not None:
                    asyncio.get_running_loop().create_task(self.traders.close(party_a, quote_id))
        return quote_id

    async def _await_done(self, ids: Sequence[int], grace: float, final: set[str]) -> float:
        """Wait until every quote's last event is in `final` (or the grace ends); when the last
        one got there."""
        assert self.watch is not None
        deadline = time.time() + grace
        while time.time() < deadline:
            if all(self.watch.statuses.get(q) in final for q in ids):
                break
            await asyncio.sleep(0.25)
        ends = [
            self.watch.quotes[q].stamps.get("close_mined") or self.watch.quotes[q].stamps.get("open_mined")
            for q in ids
            if q in self.watch.quotes
        ]  # fmt: skip
        return max((e for e in ends if e), default=time.time())

    async def _stamps(self, ids: Sequence[int], exchange_url: str) -> list[QuoteStamps]:
        from devnet.exchange.admin import ExchangeAdmin

        assert self.watch is not None
        admin = ExchangeAdmin(exchange_url, timeout=30)
        orders = await admin.orders()
        trades = await admin.trades()
        await admin.aclose()
        out = []
        for q in ids:
            stamps = self.watch.stamps(q)
            tx = self.watch.lock_tx.get(q)
            if tx and tx in self.watch.pending:
                stamps.note("lock_broadcast", self.watch.pending[tx])
            mine_o = [o for o in orders if str(o.get("clientOrderId", "")).startswith(f"h{q}")]
            mine_t = [t for t in trades if str(t.get("clientOrderId", "")).startswith(f"h{q}")]
            for name, when in broker_stamps(q, mine_o, mine_t).items():
                stamps.note(name, when)
            out.append(stamps)
        return out

    async def _rate_phase(self, muon: Any, rate: float) -> dict[str, Any]:
        assert self.watch is not None
        seconds = self.options.seconds
        log(f"hedger phase: {rate:g} intents/s for {seconds:g} s")
        started = time.time()
        ids, first, achieved = await self._post_at(
            muon, rate, seconds, [self.our_party_b], close=True
        )
        last = await self._await_done(ids, self.options.grace, FINAL)
        done = sum(1 for q in ids if self.watch.statuses.get(q) in FINAL)
        phase = RatePhase(rate, round(achieved, 2), len(ids), done, len(ids) - done, last - first)
        stamps = await self._stamps(ids, self.stack.info["exchange"]["url"])
        ended = time.time()
        result = {
            **asdict(phase),
            "processed_per_second": round(processed_rate(phase), 2),
            "hops": hop_latencies(stamps),
            "resources": self.resources.summary(started, ended),
            "_ids": ids,
        }
        h = result["hops"]
        log(f"  posted {len(ids)} at {achieved:.1f}/s, done {done}, stuck {phase.stuck}; "
            f"seen->lock p50 {h['seen_to_lock_broadcast']['p50_ms']} ms, "
            f"seen->open p50 {h['seen_to_open_mined']['p50_ms']} ms")  # fmt: skip
        return result

    async def _floor_phase(
        self, muon: Any, hedger_at_rate: dict[str, Any] | None
    ) -> dict[str, Any]:
        rate = self.options.floor_rate
        seconds = self.options.seconds
        log(f"floor phase: {rate:g} intents/s for {seconds:g} s, whitelisted to the floor alone")
        ids, _, achieved = await self._post_at(
            muon, rate, seconds, [self.floor_party_b], close=True
        )
        await self._await_done(ids, self.options.grace, FINAL)
        stamps = await self._stamps(ids, self.floor_exchange.url)
        hops = hop_latencies(stamps)
        out: dict[str, Any] = {"rate": rate, "posted": len(ids), "achieved": round(achieved, 2),
                               "hops": hops}  # fmt: skip
        if hedger_at_rate is not None:
            out["ratios"] = ratios(hedger_at_rate["hops"], hops)
        log(f"  floor seen->lock p50 {hops['seen_to_lock_broadcast']['p50_ms']} ms, "
            f"seen->open p50 {hops['seen_to_open_mined']['p50_ms']} ms")  # fmt: skip
        return out

    async def _race_phase(self, muon: Any) -> dict[str, Any]:
        assert self.watch is not None
        rate, seconds = self.options.floor_rate, self.options.seconds
        log(f"race: {rate:g} intents/s for {seconds:g} s, whitelisting the hedger and the floor")
        ids, _, _ = await self._post_at(
            muon, rate, seconds, [self.our_party_b, self.floor_party_b], close=True
        )
        await self._await_done(ids, self.options.grace, FINAL)
        winners = [self.watch.quotes[q].party_b for q in ids if q in self.watch.quotes]
        ours = sum(1 for w in winners if w == self.our_party_b.lower())
        theirs = sum(1 for w in winners if w == self.floor_party_b.lower())
        locked = ours + theirs
        out = {"posted": len(ids), "hedger_won": ours, "floor_won": theirs,
               "hedger_win_rate": round(ours / locked, 3) if locked else None}  # fmt: skip
        log(f"  hedger won {ours} of {locked} locks")
        return out

    async def _positions_phase(self, muon: Any) -> dict[str, Any]:
        assert self.watch is not None
        n = self.options.positions
        rate = self.options.positions_rate
        log(f"open positions: {n} intents at {rate:g}/s, left open")
        count = -(-n // POSITIONS_PER_TRADER)
        if count > TRADERS:  # PartyAs of their own, so none holds more than its share
            assert self.traders is not None
            traders = Traders(self.traders.rpc_url, self.traders.symmio, self.traders.muon_url,
                              self.traders.mark, count, "symmio-hedger bench position trader")  # fmt: skip
            log(f"  funding {count} PartyAs ({POSITIONS_PER_TRADER} positions each at most)")
            await traders.fund()
            traders.failures = self.traders.failures
            self.traders = traders
        before = self.resources.rss("worker-workflows")
        samples: list[tuple[int, float]] = []
        ids: list[int] = []
        batch = max(1, min(n, 100))  # a sample every 100 positions
        while len(ids) < n:
            chunk = min(batch, n - len(ids))
            new, _, _ = await self._post_at(
                muon, rate, chunk / rate, [self.our_party_b], close=False
            )
            ids += new
            await self._await_done(new, self.options.grace, {"OpenPosition"})
            opened = sum(1 for q in ids if self.watch.statuses.get(q) == "OpenPosition")
            rss = self.resources.rss("worker-workflows")
            if rss is not None:
                samples.append((opened, rss))
            ops = self.resources.rss("worker-ops") or 0
            log(
                f"  {opened} open positions: workflow worker RSS {rss:.0f} MB, ops worker {ops:.0f} MB"
            )
        soak_start = self.resources.rss("worker-workflows")
        soak_samples = await self._soak()
        soak_end = self.resources.rss("worker-workflows")
        opened = sum(1 for q in ids if self.watch.statuses.get(q) == "OpenPosition")
        return {
            "positions_open": opened,
            "rss_mb_before": round(before or 0, 1),
            "samples": [[n_open, round(mb, 1)] for n_open, mb in samples],
            "positions_requested": n,
            # the slope only when the positions really opened (at least half of them)
            "rss_mb_per_1000": rss_per_thousand([(0, before or 0), *samples])
            if opened >= n / 2
            else None,
            "soak_seconds": self.options.soak,
            "soak_samples": soak_samples,
            "rss_growth_mb_during_soak": round((soak_end or 0) - (soak_start or 0), 1),
            "resources_during_soak": self.resources.summary(time.time() - self.options.soak),
        }

    async def _soak(self) -> list[list[float]]:
        """Idle for `--soak` s; [seconds in, workflow worker RSS MB, its CPU %] every
        `soak_sample` s (logged as it goes, so a long soak's figures survive an interrupted run)."""
        samples: list[list[float]] = []
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < self.options.soak:
            await asyncio.sleep(min(self.options.soak_sample, self.options.soak - elapsed))
            rss = self.resources.rss("worker-workflows")
            cpu = self.resources.cpu("worker-workflows", self.options.soak_sample)
            at = round(time.monotonic() - start)
            samples.append([at, round(rss or 0, 1), round(cpu or 0, 1)])
            log(f"  soak {at} s: workflow worker RSS {rss or 0:.0f} MB, CPU {cpu or 0:.0f} %")
        return samples

    async def _temporal_figures(self, ids: Sequence[int]) -> dict[str, Any]:
        """Per intent, from the workflow histories: events (intent + position, every run),
        local activities, and the activities, local activities and workflow tasks before the
        lock activity was scheduled."""
        from temporalio.api.enums.v1 import EventType
        from temporalio.client import Client

        client = await Client.connect(self.env["HEDGER_TEMPORAL_ADDRESS"])
        rows = []
        to_lock: list[float] = []
        lock_dispatch: list[float] = []
        seen_to_start: list[float] = []  # the listener: log seen by the bench -> workflow started
        lock_started_to_broadcast: list[float] = []  # the lock activity's own work
        watch = self.watch
        # scheduled -> started per activity type, every run: a task queue's backlog
        dispatch: dict[str, list[float]] = {}
        for q in list(ids)[:20]:
            events, before_lock_acts, before_lock_tasks, before_lock_local = 0, 0, 0, 0
            local_total = 0
            for kind in ("intent", "position"):
                wid = f"{kind}-31337-{q}"
                runs = [r async for r in client.list_workflows(f"WorkflowId = '{wid}'")]
                runs_sorted = sorted(runs, key=lambda r: r.start_time)
                for run in runs_sorted:
                    history = await client.get_workflow_handle(
                        wid, run_id=run.run_id
                    ).fetch_history()
                    events += len(history.events)
                    scheduled: dict[int, tuple[str, float]] = {}
                    for e in history.events:
                        when = e.event_time.ToDatetime().timestamp()
                        if local_activity_type(e) is not None:
                            local_total += 1
                        if e.HasField("activity_task_scheduled_event_attributes"):
                            name = e.activity_task_scheduled_event_attributes.activity_type.name
                            scheduled[e.event_id] = (name, when)
                        elif e.HasField("activity_task_started_event_attributes"):
                            sid = e.activity_task_started_event_attributes.scheduled_event_id
                            if sid in scheduled:
                                name, at = scheduled[sid]
                                dispatch.setdefault(name, []).append(when - at)
                    if kind != "intent" or before_lock_tasks:
                        continue
                    acts = tasks = local = 0
                    t0 = history.events[0].event_time.ToDatetime().timestamp()
                    seen = watch.stamps(q).stamps.get("quote_seen") if watch else None
                    if seen is not None and run is runs_sorted[0]:
                        seen_to_start.append(t0 - seen)
                    lock_id: int | None = None
                    lock_at = 0.0
                    for e in history.events:
                        when = e.event_time.ToDatetime().timestamp()
                        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                            tasks += 1
                        if lock_id is None and local_activity_type(e) is not None:
                            local += 1
                        if lock_id is not None and e.HasField(
                            "activity_task_started_event_attributes"
                        ):
                            if (
                                e.activity_task_started_event_attributes.scheduled_event_id
                                == lock_id
                            ):
                                lock_dispatch.append(when - lock_at)
                                tx = watch.lock_tx.get(q) if watch else None
                                if watch and tx and tx in watch.pending:
                                    lock_started_to_broadcast.append(watch.pending[tx] - when)
                                break
                        if lock_id is None and e.HasField(
                            "activity_task_scheduled_event_attributes"
                        ):
                            name = e.activity_task_scheduled_event_attributes.activity_type.name
                            if name == "chain_lock_quote":
                                before_lock_acts, before_lock_tasks = acts, tasks
                                before_lock_local = local
                                lock_id, lock_at = e.event_id, when
                                to_lock.append(when - t0)
                            elif not name.startswith(("ledger_", "ops_resize")):
                                acts += 1
            rows.append(
                (events, before_lock_acts, before_lock_tasks, before_lock_local, local_total)
            )
        if not rows:
            return {}
        n = len(rows)
        return {
            "intents_sampled": n,
            "history_events_per_intent": round(sum(r[0] for r in rows) / n, 1),
            "activities_before_lock": round(sum(r[1] for r in rows) / n, 1),
            "workflow_tasks_before_lock": round(sum(r[2] for r in rows) / n, 1),
            "local_activities_before_lock": round(sum(r[3] for r in rows) / n, 1),
            "local_activities_per_intent": round(sum(r[4] for r in rows) / n, 1),
            "workflow_start_to_lock_scheduled": percentiles(to_lock),
            "lock_activity_dispatch": percentiles(lock_dispatch),
            "quote_seen_to_workflow_started": percentiles(seen_to_start),
            "lock_started_to_broadcast": percentiles(lock_started_to_broadcast),
            "activity_dispatch_by_type": {
                name: percentiles(values) for name, values in sorted(dispatch.items())
            },
        }

    # --------------------------------------------------------------- main
    async def run(self) -> dict[str, Any]:
        from adapters.muon.client import MuonClient
        from bench.floor import FloorBot, FloorConfig
        from devnet.contracts.keys import DEFAULT_ADMIN_KEY

        options = self.options
        await asyncio.to_thread(self._stack)
        await self._floor_exchange()
        anvil = self.stack.info["anvil"]
        exchange_url = self.stack.info["exchange"]["url"]
        price = await self._mark(exchange_url)
        await self._freeze(exchange_url, price)
        await self._freeze(self.floor_exchange.url, price)
        from eth_account import Account

        from config.settings import DEVNET_HEDGER_KEY

        key = self.env.get("HEDGER_PRIVATE_KEY") or DEVNET_HEDGER_KEY
        self.our_party_b = str(Account.from_key(key).address)
        self.resources = Resources(self._pids())
        self.resources.start()
        self.watch = ChainWatch(anvil["ws"], self.symmio)
        self.watch.listeners.append(self._on_event)
        self.watch.start()
        await asyncio.wait_for(self.watch.ready.wait(), 30)
        self.traders = Traders(anvil["http"], self.symmio, self.stack.info["oracle"]["url"], price)
        await self.traders.fund()
        from eth_utils.crypto import keccak

        from devnet.stack.anvil import rpc_call

        floor_key = "0x" + keccak(text="symmio-hedger bench floor party b").hex()
        rpc_call(anvil["http"], "anvil_setBalance",
                 [str(Account.from_key(floor_key).address), hex(100_000 * WAD)])  # fmt: skip
        floor = FloorBot(FloorConfig(
            rpc_url=anvil["http"], ws_url=anvil["ws"], symmio=self.symmio, chain_id=31337,
            muon_urls=[self.stack.info["oracle"]["url"]], private_key=floor_key,
            admin_key=DEFAULT_ADMIN_KEY, exchange_url=self.floor_exchange.url,
            exchange_api_key="devnet-api-key", exchange_secret="devnet-api-secret",
            top_up_to=ALLOCATION_TARGET, gas_limit=GAS_LIMIT,
            broker_rate_limit_ms=int(self.env["HEDGER_BROKER_RATE_LIMIT_MS"])
            if self.env.get("HEDGER_BROKER_RATE_LIMIT_MS") else None,
        ))  # fmt: skip
        await floor.setup()
        self.floor_party_b = floor.address
        floor_stop = asyncio.Event()
        floor_task = asyncio.create_task(floor.run(floor_stop))
        await asyncio.wait_for(floor.ready.wait(), 30)
        hedger_phases: list[dict[str, Any]] = []
        try:
            async with MuonClient([self.stack.info["oracle"]["url"]]) as muon:
                log("warm-up: 6 intents")
                warm, _, _ = await self._post_at(muon, 2.0, 3.0, [self.our_party_b], close=True)
                await self._await_done(warm, 120.0, FINAL)
                if options.positions_only:
                    self.results["position_memory"] = await self._positions_phase(muon)
                    self.results["resources_whole_run"] = self.resources.summary()
                    return self.results
                # the floor and the race first, on a quiet machine; then the hedger's rates
                floor_phase = await self._floor_phase(muon, None)
                self.results["race"] = await self._race_phase(muon)
                for rate in options.rates:
                    phase = await self._rate_phase(muon, rate)
                    hedger_phases.append(phase)
                    backlog = [q for q in phase["_ids"] if self.watch.statuses.get(q) not in FINAL]
                    if backlog:
                        log(f"  draining {len(backlog)} intents (up to {options.drain:g} s)")
                        await self._await_done(backlog, options.drain, FINAL)
                    if phase["stuck"] and not options.all_rates:
                        skipped = [r for r in options.rates if r > rate]
                        if skipped:
                            log(f"  {rate:g}/s not sustained: higher rates skipped {skipped}")
                            self.results["rates_skipped"] = skipped
                        break
                at_floor_rate = next(
                    (p for p in hedger_phases if p["offered"] == options.floor_rate), None
                )
                if at_floor_rate is not None:
                    floor_phase["ratios"] = ratios(at_floor_rate["hops"], floor_phase["hops"])
                self.results["floor"] = floor_phase
                lowest = hedger_phases[0]["_ids"] if hedger_phases else []
                self.results["temporal"] = await self._temporal_figures(lowest)
                from bench.temporal_floor import activity_round_trip_ms

                self.results["temporal"][
                    "noop_activity_round_trip_ms"
                ] = await activity_round_trip_ms(self.env["HEDGER_TEMPORAL_ADDRESS"])
                if options.positions > 0:
                    self.results["position_memory"] = await self._positions_phase(muon)
        finally:
            floor_stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(floor_task, 30)
            with contextlib.suppress(Exception):
                await floor.aclose()
            await self.watch.stop()
            await self.resources.stop()
        for phase in hedger_phases:
            phase.pop("_ids", None)
        phases = [RatePhase(p["offered"], p["achieved"], p["posted"], p["done"], p["stuck"],
                            p["seconds"]) for p in hedger_phases]  # fmt: skip
        self.results["phases"] = hedger_phases
        self.results["highest_sustained_rate"] = highest_sustained(phases)
        self.results["resources_whole_run"] = self.resources.summary()
        self.results["post_failures"] = self.traders.failures[:20]
        self.results["post_failure_count"] = len(self.traders.failures)
        self.results["hops_measured"] = [h[0] for h in HOPS]
        self.results["open_hops"] = [h[0] for h in OPEN_HOPS]
        self.results["close_hops"] = [h[0] for h in CLOSE_HOPS]
        return self.results

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.floor_exchange.stop()
        with contextlib.suppress(Exception):
            self.processes.stop()
        with contextlib.suppress(Exception):
            self.stack.down()
        if not self.options.keep_state:
            shutil.rmtree(self.state, ignore_errors=True)


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n\n")[0])
    d = Options()  # the defaults, written once
    parser.add_argument(
        "--rates", default=",".join(f"{r:g}" for r in d.rates),
        help="offered intents/s, comma separated",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=d.seconds, help="seconds per offered rate")
    parser.add_argument(
        "--grace", type=float, default=d.grace, help="seconds to finish after a phase"
    )
    parser.add_argument(
        "--positions", type=int, default=d.positions, help="positions left open (0: skip)"
    )
    parser.add_argument("--positions-rate", type=float, default=d.positions_rate)
    parser.add_argument("--drain", type=float, default=d.drain, help="seconds to drain a backlog")
    parser.add_argument(
        "--all-rates", action="store_true", help="run every rate even after one was not sustained"
    )
    parser.add_argument(
        "--soak", type=float, default=d.soak, help="seconds the open positions idle"
    )
    parser.add_argument("--out", type=Path, default=d.out)
    parser.add_argument("--quick", action="store_true", help="one rate (2/s, 10 s), no positions")
    parser.add_argument(
        "--positions-only", action="store_true",
        help="only the warm-up and the open-positions phase (a long memory run)",
    )  # fmt: skip
    parser.add_argument(
        "--soak-sample", type=float, default=d.soak_sample, help="seconds between soak samples"
    )
    parser.add_argument("--keep-state", action="store_true", help="keep the stack's state dir")
    a = parser.parse_args(argv)
    options = Options(
        rates=[float(r) for r in a.rates.split(",") if r], seconds=a.seconds, grace=a.grace,
        positions=a.positions, positions_rate=a.positions_rate, soak=a.soak, out=a.out,
        quick=a.quick, keep_state=a.keep_state, drain=a.drain, all_rates=a.all_rates,
        positions_only=a.positions_only, soak_sample=a.soak_sample,
    )  # fmt: skip
    if a.quick:
        options.rates, options.seconds, options.positions, options.grace = [2.0], 10.0, 0, 30.0
    options.floor_rate = min(options.rates) if options.rates else 0.0
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    bench = Bench(options)
    started = time.time()
    try:
        results = asyncio.run(bench.run())
    finally:
        bench.close()
    results["wall_seconds"] = round(time.time() - started, 1)
    command = "make bench" + (f' ARGS="{" ".join(sys.argv[1:])}"' if sys.argv[1:] else "")
    paths = report.write(results, options.out, command=command)
    print(report.table(results))
    print(json.dumps({"written": [str(p) for p in paths]}))
    return 0


if __name__ == "__main__":
    from devnet.stack.process import exit_now  # it ran Temporal's SDK: no interpreter teardown

    exit_now(main())
