"""`FundingWorkflow`: one run of funding charging, started by the `hedger-funding` Schedule
(task queue `hedger-ops`).

Reads the chain's time, the symbols' funding epochs and our PartyB's open quotes (chain views),
keeps the quotes whose symbol's window is open now and not yet paid for its boundary
(`domain.funding.funding_boundary` on each quote's `lastFundingPaymentTimestamp`), reads the
broker's funding rate of those symbols (ccxt) scaled from the broker's funding interval
(`fetchFundingIntervals`: 8 h, 4 h, 1 h) to the symbol's chain epoch
(`domain.funding.rate_per_epoch`), turns it into each quote's signed rate in the
chain's convention (positive: PartyA pays; a LONG quote the market rate, a SHORT quote the market
rate negated, plus the spread, capped at the quote's `maxFundingRate`; a zero rate is not
sent: `domain.funding.chain_rate`) and
charges each PartyA's quotes with `chargeFundingRate` (chain activity
`chain_charge_funding_rate`, in batches). Exactly once
per (boundary, quote): the chain activity journals and keys each charge and lets the chain's
`lastFundingPaymentTimestamp` decide, so a run killed mid-batch, or the next run of the same
window, sends nothing twice and skips nothing. A charge that fails raises an alert
(`funding_charge_failed`, once per PartyA and boundary); the next run tries again while the
window is open.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.enums import PositionType
    from domain.funding import (
        chain_rate,
        funding_boundary,
        quote_rate,
        rate_per_epoch,
        side_rates,
    )
    from interfaces.chain import ChainApi, ChainTime, ChargeFundingRequest
    from interfaces.funding import (
        FUNDING_BATCH_SIZE,
        FUNDING_PARTY_A_PAGE,
        FUNDING_QUOTE_PAGE,
        FUNDING_WORKFLOW,
        BrokerRatesRequest,
        FundingApi,
        FundingCharge,
        FundingInput,
        FundingResult,
        FundingSnapshot,
        FundingSnapshotRequest,
    )
    from interfaces.ledger import AlertRow, OpsApi

from workflows.validator import READ_RETRY, READ_TIMEOUT, WRITE_RETRY, WRITE_TIMEOUT

PATCH_PARTY_A_PAYS = "funding-party-a-pays"
PATCH_BROKER_INTERVAL = "funding-broker-interval"
# The open quotes are read FUNDING_PARTY_A_PAGE PartyAs per snapshot (and charged page by page):
# one snapshot of every PartyA passed Temporal's 2 MB payload limit at about 14,000 positions.
PATCH_PARTY_A_PAGES = "funding-party-a-pages"
# ... and at most FUNDING_QUOTE_PAGE quotes per snapshot: one PartyA with about 14,000 open
# positions passed the limit on its own.
PATCH_QUOTE_PAGES = "funding-quote-pages"
DETAIL_CHARGES = 20  # charges listed in the Temporal UI's current details
CHARGE_TIMEOUT = timedelta(seconds=120)
CHARGE_HEARTBEAT = timedelta(seconds=15)
CHARGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10),
    maximum_attempts=5, non_retryable_error_types=["InvalidState", "InvalidArgument"],
)  # fmt: skip


@workflow.defn(name=FUNDING_WORKFLOW)
class FundingWorkflow:
    def __init__(self) -> None:
        self._result: FundingResult | None = None
        self._rates: dict[str, str] = {}  # the broker's funding rate per symbol name, this run
        self._rates_read: set[str] = set()
        self._intervals: dict[str, int] | None = None
        self._charges: list[FundingCharge] = []

    @workflow.query(name="state")
    def state(self) -> FundingResult | None:
        return self._result

    @workflow.run
    async def run(self, params: FundingInput) -> FundingResult:
        info = workflow.info()
        chain_q, ops_q = params.chain_queue, params.ops_queue
        party_b = await workflow.execute_activity_method(
            ChainApi.party_b_address, task_queue=chain_q,
            start_to_close_timeout=timedelta(seconds=20), retry_policy=READ_RETRY,
        )  # fmt: skip
        if workflow.patched(PATCH_PARTY_A_PAGES):
            now = await self._chain_time(chain_q)
            party_as = await workflow.execute_activity_method(
                FundingApi.party_as, task_queue=ops_q, start_to_close_timeout=WRITE_TIMEOUT,
                retry_policy=READ_RETRY, summary="the PartyAs funding looks at",
            )  # fmt: skip
            pages = [party_as[i : i + FUNDING_PARTY_A_PAGE]
                     for i in range(0, len(party_as), FUNDING_PARTY_A_PAGE)]  # fmt: skip
            by_quote = bool(pages) and workflow.patched(PATCH_QUOTE_PAGES)
            limit = FUNDING_QUOTE_PAGE if by_quote else None  # None: one snapshot per page
            for page in pages:
                after = 0
                while True:
                    snap = await self._snapshot(ops_q, FundingSnapshotRequest(
                        party_b, page, after_quote_id=after, max_quotes=limit))  # fmt: skip
                    await self._charge_due(params, snap, now)
                    if not snap.more or not snap.quotes:
                        break
                    after = snap.quotes[-1].quote_id
        else:  # runs started before the patch: one snapshot of every PartyA, then the time
            snap = await self._snapshot(ops_q, FundingSnapshotRequest(party_b))
            now = await self._chain_time(chain_q)
            await self._charge_due(params, snap, now)
        result = FundingResult(info.workflow_id, now.timestamp, self._rates, self._charges)
        self._result = result
        if not self._charges and not self._rates:
            workflow.set_current_details(f"chain time {now.timestamp}: no funding window open")
            return result
        lines = [f"chain time {now.timestamp}; broker rates {self._rates}"]
        lines += [
            f"- {c.party_a}: quotes {c.quote_ids} rates {c.rates}: "
            + (c.error or (c.tx_hash or "already charged"))
            for c in self._charges[:DETAIL_CHARGES]
        ]  # fmt: skip
        if len(self._charges) > DETAIL_CHARGES:
            lines.append(f"- ... and {len(self._charges) - DETAIL_CHARGES} more charges")
        workflow.set_current_details("\n".join(lines))
        return result

    @staticmethod
    async def _snapshot(ops_q: str, request: FundingSnapshotRequest) -> FundingSnapshot:
        return await workflow.execute_activity_method(
            FundingApi.snapshot, request, task_queue=ops_q,
            start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
            summary="symbols' funding epochs, PartyB's open quotes"
            + (f" ({len(request.party_as)} PartyAs)" if request.party_as is not None else ""),
        )  # fmt: skip

    @staticmethod
    async def _chain_time(chain_q: str) -> ChainTime:
        return await workflow.execute_activity_method(
            ChainApi.chain_time, task_queue=chain_q,
            start_to_close_timeout=timedelta(seconds=20), retry_policy=READ_RETRY,
        )  # fmt: skip

    async def _rates_for(
        self, params: FundingInput, names: list[str]
    ) -> tuple[dict[str, str], dict[str, int] | None]:
        """The broker's funding rates (and, since PATCH_BROKER_INTERVAL, its funding intervals)
        of `names`, each symbol read once per run."""
        ops_q = params.ops_queue
        missing = sorted(set(names) - self._rates_read)
        if missing:
            rates = await workflow.execute_activity_method(
                FundingApi.broker_rates, BrokerRatesRequest(missing),
                task_queue=ops_q, start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
                summary="the broker's funding rates",
            )  # fmt: skip
            self._rates.update(rates)
            # the broker's rate is per its own funding interval (8 h, 4 h, 1 h): scaled to the
            # chain epoch of each symbol (before this patch it was charged unscaled)
            if workflow.patched(PATCH_BROKER_INTERVAL):
                intervals = await workflow.execute_activity_method(
                    FundingApi.broker_intervals, BrokerRatesRequest(missing), task_queue=ops_q,
                    start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
                    summary="the broker's funding intervals",
                )  # fmt: skip
                self._intervals = {**(self._intervals or {}), **intervals}
            self._rates_read.update(missing)
        return self._rates, self._intervals

    async def _charge_due(
        self, params: FundingInput, snap: FundingSnapshot, now: ChainTime
    ) -> None:
        """Charge the quotes of `snap` whose symbol's funding window is open and unpaid."""
        symbols = {s.symbol_id: s for s in snap.symbols if s.epoch_duration > 0}
        due = []
        for q in snap.quotes:
            sym = symbols.get(q.symbol_id)
            if sym is None:
                continue
            boundary = funding_boundary(now.timestamp, sym.epoch_duration, sym.window, q.last_paid)
            if boundary is not None:
                due.append((q, boundary, sym.name))
        if not due:
            return
        rates, intervals = await self._rates_for(params, sorted({n for _, _, n in due}))
        epochs = {s.name: s.epoch_duration for s in symbols.values()}
        spread = Decimal(params.spread)
        # a positive chain rate makes PartyA pay whatever its side: a SHORT quote is sent the
        # market rate negated (before this patch a SHORT PartyA paid a positive market rate)
        to_chain = chain_rate if workflow.patched(PATCH_PARTY_A_PAYS) else quote_rate
        batches: dict[tuple[str, int], list[tuple[int, Decimal]]] = {}
        for q, boundary, name in due:
            if name not in rates:
                continue
            broker_rate = Decimal(rates[name])
            if intervals is not None:
                if name not in intervals:
                    continue
                broker_rate = rate_per_epoch(broker_rate, intervals[name], epochs[name])
            long_rate, short_rate = side_rates(broker_rate, spread)
            rate = to_chain(PositionType(q.position_type), long_rate, short_rate,
                            Decimal(q.max_funding_rate))  # fmt: skip
            if rate == 0:
                continue  # nothing owed (a zero rate, or a quote whose maxFundingRate is 0)
            batches.setdefault((q.party_a, boundary), []).append((q.quote_id, rate))
        for (party_a, boundary), items in sorted(batches.items()):
            for start in range(0, len(items), FUNDING_BATCH_SIZE):
                chunk = items[start : start + FUNDING_BATCH_SIZE]
                self._charges.append(await self._charge(params, party_a, boundary, chunk))

    async def _charge(
        self, params: FundingInput, party_a: str, boundary: int, items: list[tuple[int, Decimal]]
    ) -> FundingCharge:
        ids = [q for q, _ in items]
        rates = [format(r, "f") for _, r in items]
        try:
            done = await workflow.execute_activity_method(
                ChainApi.charge_funding_rate, ChargeFundingRequest(party_a, boundary, ids, rates),
                task_queue=params.chain_queue, start_to_close_timeout=CHARGE_TIMEOUT,
                heartbeat_timeout=CHARGE_HEARTBEAT, retry_policy=CHARGE_RETRY,
                summary=f"chargeFundingRate {party_a} boundary {boundary}",
            )  # fmt: skip
        except ActivityError as exc:
            cause = exc.cause
            why = str(cause) if cause is not None else str(exc)
            await workflow.execute_activity_method(
                OpsApi.raise_alert,
                AlertRow("funding_charge_failed", "warning",
                         f"funding for {party_a} (boundary {boundary}) not charged: {why}",
                         {"party_a": party_a, "boundary": boundary, "quote_ids": ids},
                         f"funding:{boundary}:{party_a.lower()}"),
                task_queue=params.ops_queue, start_to_close_timeout=WRITE_TIMEOUT,
                retry_policy=WRITE_RETRY,
            )  # fmt: skip
            return FundingCharge(party_a, ids, rates, None, error=why)
        return FundingCharge(party_a, ids, rates, done.tx_hash, done.already_done)
