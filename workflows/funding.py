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
        FUNDING_WORKFLOW,
        BrokerRatesRequest,
        FundingApi,
        FundingCharge,
        FundingInput,
        FundingResult,
        FundingSnapshotRequest,
    )
    from interfaces.ledger import AlertRow, OpsApi

from workflows.validator import READ_RETRY, READ_TIMEOUT, WRITE_RETRY, WRITE_TIMEOUT

PATCH_PARTY_A_PAYS = "funding-party-a-pays"
PATCH_BROKER_INTERVAL = "funding-broker-interval"
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
        snap = await workflow.execute_activity_method(
            FundingApi.snapshot, FundingSnapshotRequest(party_b), task_queue=ops_q,
            start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
            summary="symbols' funding epochs, PartyB's open quotes",
        )  # fmt: skip
        now: ChainTime = await workflow.execute_activity_method(
            ChainApi.chain_time, task_queue=chain_q,
            start_to_close_timeout=timedelta(seconds=20), retry_policy=READ_RETRY,
        )  # fmt: skip
        symbols = {s.symbol_id: s for s in snap.symbols if s.epoch_duration > 0}
        due = []
        for q in snap.quotes:
            sym = symbols.get(q.symbol_id)
            if sym is None:
                continue
            boundary = funding_boundary(now.timestamp, sym.epoch_duration, sym.window, q.last_paid)
            if boundary is not None:
                due.append((q, boundary, sym.name))
        result = FundingResult(info.workflow_id, now.timestamp)
        if not due:
            self._result = result
            workflow.set_current_details(f"chain time {now.timestamp}: no funding window open")
            return result
        rates = await workflow.execute_activity_method(
            FundingApi.broker_rates, BrokerRatesRequest(sorted({n for _, _, n in due})),
            task_queue=ops_q, start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
            summary="the broker's funding rates",
        )  # fmt: skip
        names = sorted({n for _, _, n in due})
        # the broker's rate is per its own funding interval (8 h, 4 h, 1 h): scaled to the chain
        # epoch of each symbol (before this patch it was charged unscaled)
        intervals: dict[str, int] | None = None
        if workflow.patched(PATCH_BROKER_INTERVAL):
            intervals = await workflow.execute_activity_method(
                FundingApi.broker_intervals, BrokerRatesRequest(names), task_queue=ops_q,
                start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
                summary="the broker's funding intervals",
            )  # fmt: skip
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
        charges: list[FundingCharge] = []
        for (party_a, boundary), items in sorted(batches.items()):
            for start in range(0, len(items), FUNDING_BATCH_SIZE):
                chunk = items[start : start + FUNDING_BATCH_SIZE]
                charges.append(await self._charge(params, party_a, boundary, chunk))
        self._result = FundingResult(info.workflow_id, now.timestamp, rates, charges)
        lines = [f"chain time {now.timestamp}; broker rates {rates}"]
        lines += [
            f"- {c.party_a}: quotes {c.quote_ids} rates {c.rates}: "
            + (c.error or (c.tx_hash or "already charged"))
            for c in charges
        ]  # fmt: skip
        workflow.set_current_details("\n".join(lines))
        return self._result

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
