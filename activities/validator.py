"""Position-validator activities (task queue `hedger-ops`): read-only views of the chain, the
broker, the ledger and Temporal, and the `validator_findings` table. The contract is
`interfaces.validator.ValidatorApi`; the reconciliation itself is `domain.reconcile`.

Reads, never writes to the chain or the broker. The chain and broker clients are built on first
use (the ops worker also runs where neither is configured, e.g. in ledger-only tests).

* chain: the counterparties (PartyAs) the ledger and the live workflows know, and for each
  the `getPartyBOpenPositions` pages (ViewFacet) of our PartyB, `PARTY_A_READS` at a time;
* broker: every position (net per symbol) and every open order, through ccxt;
* ledger: `positions` rows open, or of a quote open on chain;
* in flight: running intent/position workflows by their search attributes (`HedgeStatus`,
  `QuoteId`, `Symbol`, as the Temporal UI shows them).

Symbols are compared as broker markets (`BTC/USDT:USDT`): SYMMIO names are mapped through the
broker's symbol map, as the hedge workflows map them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eth_utils.address import to_checksum_address
from prometheus_client import Gauge
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.broker_errors import to_application_error
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.errors import BrokerError
from adapters.chain.client import ChainClient
from adapters.chain.errors import RpcUnavailable
from domain.enums import HedgeStatus
from domain.quote import OPEN_STATUSES, Quote
from domain.reconcile import Finding, FindingKind, TrackedFinding
from domain.reconcile import reconcile as reconcile_snapshot
from interfaces.temporal import SearchAttributes
from interfaces.validator import (
    BrokerOrderRow,
    ChainPositionRow,
    LedgerPositionRow,
    ReconcileView,
    RecordRequest,
    SnapshotRequest,
    SnapshotView,
    ValidatorApi,
    to_snapshot,
)
from interfaces.workflows import INTENT_WORKFLOW, POSITION_WORKFLOW
from ledger.models import PositionRecord, QuoteRecord, ValidatorFinding

STUCK_HEDGES = Gauge(
    "hedger_stuck_hedges",
    "Running intent and position workflows parked in STUCK (by the validator)",
)
log = logging.getLogger(__name__)

PAGE_SIZE = 100
# PartyAs whose open positions are read at once (two sequential view calls each took 15 s for
# 257 PartyAs on a loaded devnet; the count of PartyAs, not of positions, sets that time).
PARTY_A_READS = 8
# A workflow in one of these states is working its quote (its orders and its ledger row are
# not findings); in the second set it is moving the broker position of its symbol too.
WORKING = frozenset({"RECEIVED", "LOCKING", "HEDGING", "OPENING", "CLOSING", "UNWINDING"})
MOVING_BROKER = frozenset(
    {HedgeStatus.HEDGING, HedgeStatus.OPENING, HedgeStatus.CLOSING, HedgeStatus.UNWINDING}
)

OPEN_FINDINGS = Gauge(
    "hedger_validator_open_findings",
    "Open position-validator findings by kind (chain vs broker vs ledger)",
    ["kind"],
)
LAST_RUN = Gauge(
    "hedger_validator_last_run_timestamp_seconds", "When the position validator last recorded"
)


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _dec(value: Any) -> str:
    return format(Decimal(str(value)).normalize(), "f") if value is not None else "0"


class ValidatorActivities(ValidatorApi):
    def __init__(
        self,
        engine: AsyncEngine,
        temporal: Client,
        chain_id: int,
        chain: Callable[[], ChainClient],
        broker: Callable[[], BrokerAdapter],
    ) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.temporal = temporal
        self.chain_id = chain_id
        self._make_chain, self._make_broker = chain, broker
        self._chain: ChainClient | None = None
        self._broker: BrokerAdapter | None = None
        self._symbol_names: dict[int, str] = {}  # SYMMIO symbol id -> name
        self._markets: dict[str, str] = {}  # any symbol spelling -> broker market

    def activities(self) -> list[Any]:
        return [self.snapshot, self.reconcile, self.open_findings, self.record]

    async def close(self) -> None:
        if self._chain is not None:
            await self._chain.close()
        if self._broker is not None:
            await self._broker.close()

    @property
    def chain(self) -> ChainClient:
        if self._chain is None:
            self._chain = self._make_chain()
        return self._chain

    @property
    def broker(self) -> BrokerAdapter:
        if self._broker is None:
            self._broker = self._make_broker()
        return self._broker

    # ---------------------------------------------------------------- the snapshot
    @activity.defn(name="validator_snapshot")
    async def snapshot(self, request: SnapshotRequest) -> SnapshotView:
        try:
            flight_quotes, flight_symbols, flight_party_as = await self._in_flight()
            party_as = sorted({*(await self.ledger_party_as()), *flight_party_as})
            chain = await self._chain_positions(request.party_b, party_as)
            positions, orders = await self._broker_book()
            ledger = await self._ledger_positions([r.quote_id for r in chain])
            symbols = {await self._market(s) for s in flight_symbols}
        except RpcUnavailable as exc:
            raise ApplicationError(f"RpcUnavailable: {exc}", type="RpcUnavailable") from exc
        except BrokerError as exc:
            raise to_application_error(exc) from exc
        return SnapshotView(
            party_b=request.party_b, chain=chain, broker_positions=positions, broker_orders=orders,
            ledger=ledger, in_flight_quotes=sorted(flight_quotes), in_flight_symbols=sorted(symbols),
            party_as=len(party_as),
        )  # fmt: skip

    @activity.defn(name="validator_reconcile")
    async def reconcile(self, request: SnapshotRequest) -> ReconcileView:
        view = await self.snapshot(request)
        findings = reconcile_snapshot(to_snapshot(view))
        return ReconcileView(view.party_b, findings, len(view.chain), view.party_as)

    async def _in_flight(self) -> tuple[set[int], set[str], set[str]]:
        """Quotes that running workflows are working on, the symbols whose broker position they
        are moving, and their PartyAs."""
        query = (
            f'(WorkflowType="{INTENT_WORKFLOW}" OR WorkflowType="{POSITION_WORKFLOW}") '
            'AND ExecutionStatus="Running"'
        )
        prefixes = (f"intent-{self.chain_id}-", f"position-{self.chain_id}-")
        quotes: set[int] = set()
        symbols: set[str] = set()
        party_as: set[str] = set()
        stuck = 0
        async for wf in self.temporal.list_workflows(query):
            if not wf.id.startswith(prefixes):
                continue
            attrs = wf.typed_search_attributes
            if party_a := attrs.get(SearchAttributes.PARTY_A):
                party_as.add(party_a)
            status = attrs.get(SearchAttributes.HEDGE_STATUS) or "RECEIVED"
            stuck += status == HedgeStatus.STUCK
            if status not in WORKING:
                continue
            quote_id = attrs.get(SearchAttributes.QUOTE_ID) or int(wf.id.rsplit("-", 1)[1])
            quotes.add(quote_id)
            if status in MOVING_BROKER:
                symbol = attrs.get(SearchAttributes.SYMBOL) or await self._ledger_symbol(quote_id)
                if symbol:
                    symbols.add(symbol)
        STUCK_HEDGES.set(stuck)
        return quotes, symbols, party_as

    async def _chain_positions(self, party_b: str, party_as: list[str]) -> list[ChainPositionRow]:
        """Our open quotes with each PartyA, `PARTY_A_READS` PartyAs at a time."""
        b = to_checksum_address(party_b)
        gate = asyncio.Semaphore(PARTY_A_READS)

        async def one(party_a: str) -> list[ChainPositionRow]:
            async with gate:
                return await self._chain_positions_of(b, to_checksum_address(party_a))

        tasks = [asyncio.ensure_future(one(a)) for a in party_as]
        try:
            pages = await asyncio.gather(*tasks)
        except BaseException:  # one read failed (or the activity was cancelled): stop the rest
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return sorted((row for page in pages for row in page), key=lambda r: r.quote_id)

    async def _chain_positions_of(self, party_b: str, party_a: str) -> list[ChainPositionRow]:
        rows = []
        for raw in await self.chain.party_b_open_positions(party_b, party_a, PAGE_SIZE):
            quote = Quote.from_struct(raw)
            if quote.status not in OPEN_STATUSES:
                continue
            rows.append(
                ChainPositionRow(
                    quote_id=quote.id,
                    symbol=await self._chain_market(quote.symbol_id),
                    side=int(quote.position_type),
                    open_amount=_dec(quote.open_quantity),
                )  # fmt: skip
            )
        return rows

    async def _broker_book(self) -> tuple[dict[str, str], list[BrokerOrderRow]]:
        positions = {p.symbol: p.amount for p in await self.broker.fetch_positions(None)}
        orders = [
            BrokerOrderRow(o.client_order_id, o.symbol, o.side, o.amount, o.filled)
            for o in await self.broker.fetch_open_orders(None)
        ]
        return positions, sorted(orders, key=lambda o: o.client_order_id)

    async def _chain_market(self, symbol_id: int) -> str:
        if symbol_id not in self._symbol_names:
            self._symbol_names[symbol_id] = (await self.chain.get_symbol(symbol_id)).name
        return await self._market(self._symbol_names[symbol_id])

    async def _market(self, symbol: str) -> str:
        """The broker market of a SYMMIO name or broker symbol (itself when none maps)."""
        if symbol not in self._markets:
            try:
                self._markets[symbol] = (await self.broker.rules(symbol)).symbol
            except BrokerError as exc:
                if exc.retryable:
                    raise
                return symbol
        return self._markets[symbol]

    # ---------------------------------------------------------------- the ledger
    async def ledger_party_as(self) -> set[str]:
        async with self.sessions() as session:
            quoted = await session.scalars(
                select(col(QuoteRecord.party_a)).where(col(QuoteRecord.chain_id) == self.chain_id)
            )
            positioned = await session.scalars(
                select(col(PositionRecord.party_a)).where(
                    col(PositionRecord.chain_id) == self.chain_id
                )
            )
            return {a.lower() for a in [*quoted.all(), *positioned.all()]}

    async def _ledger_symbol(self, quote_id: int) -> str | None:
        async with self.sessions() as session:
            record = await session.get(QuoteRecord, (self.chain_id, quote_id))
            return record.symbol if record is not None else None

    async def _ledger_positions(self, chain_quotes: list[int]) -> list[LedgerPositionRow]:
        stmt = select(PositionRecord).where(
            col(PositionRecord.chain_id) == self.chain_id,
            or_(col(PositionRecord.open_quantity) > 0, col(PositionRecord.quote_id).in_(chain_quotes)),
        )  # fmt: skip
        async with self.sessions() as session:
            records = list((await session.scalars(stmt)).all())
        return [
            LedgerPositionRow(
                r.quote_id, await self._market(r.symbol), _dec(r.open_quantity), r.hedge_status
            )  # fmt: skip
            for r in sorted(records, key=lambda r: r.quote_id)
        ]

    # ---------------------------------------------------------------- findings
    @activity.defn(name="validator_open_findings")
    async def open_findings(self) -> list[TrackedFinding]:
        stmt = select(ValidatorFinding).where(col(ValidatorFinding.resolved_at).is_(None))
        async with self.sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        return [
            TrackedFinding(
                Finding(
                    kind=r.kind,
                    key=r.finding_key,
                    severity=r.severity,
                    message=r.message,
                    symbol=r.symbol,
                    quote_ids=list(r.quote_ids),
                    detail=dict(r.detail),
                ),
                first_seen=r.first_seen.timestamp(),
                last_seen=r.last_seen.timestamp(),
                seen_runs=r.seen_runs,
                alerted=r.alerted_at is not None,
            )  # fmt: skip
            for r in sorted(rows, key=lambda r: r.finding_key)
        ]

    @activity.defn(name="validator_record")
    async def record(self, request: RecordRequest) -> None:
        table = ValidatorFinding.__table__  # type: ignore[attr-defined]
        now = _ts(request.now)
        async with self.sessions() as session:
            for t in request.open:
                f = t.finding
                values: dict[str, Any] = {
                    "finding_key": f.key, "run_id": request.run_id[:64], "kind": f.kind,
                    "severity": f.severity, "message": f.message, "symbol": f.symbol,
                    "quote_id": f.quote_ids[0] if f.quote_ids else None, "quote_ids": f.quote_ids,
                    "detail": f.detail, "seen_runs": t.seen_runs, "first_seen": _ts(t.first_seen),
                    "last_seen": _ts(t.last_seen), "alerted_at": now if t.alerted else None,
                }  # fmt: skip
                stmt = insert(table).values(**values, created_at=now)
                changed = {
                    k: v for k, v in values.items() if k not in {"finding_key", "alerted_at"}
                }
                # alerted_at: set once, when the finding first alerts
                changed["alerted_at"] = func.coalesce(table.c.alerted_at, stmt.excluded.alerted_at)
                await session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["finding_key"],
                        index_where=table.c.resolved_at.is_(None),
                        set_=changed,
                    )
                )
            for t in request.resolved:
                await session.execute(
                    update(table)
                    .where(table.c.finding_key == t.finding.key, table.c.resolved_at.is_(None))
                    .values(resolved_at=now)
                )
            await session.commit()
        await refresh_open_findings_gauge(self.engine)
        LAST_RUN.set(request.now)


async def refresh_open_findings_gauge(engine: AsyncEngine) -> None:
    """Set `hedger_validator_open_findings` from the table (every ops worker process does this
    periodically, so all of them report the same counts, whichever ran the validator)."""
    table = ValidatorFinding.__table__  # type: ignore[attr-defined]
    stmt = (
        select(table.c.kind, func.count())
        .where(table.c.resolved_at.is_(None))
        .group_by(table.c.kind)
    )
    async with engine.connect() as conn:
        counts: dict[str, int] = {str(k): int(n) for k, n in (await conn.execute(stmt)).all()}
    for kind in FindingKind:
        OPEN_FINDINGS.labels(kind.value).set(counts.get(kind.value, 0))
