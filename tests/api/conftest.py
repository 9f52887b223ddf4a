"""Fixtures for the web API tests: real embedded Postgres, real Temporal dev server.

`api_settings` points at both; `engine` is the tests' own connection; `seeded` writes the
symbols, positions, quotes and notifications the front-end endpoints read (unique addresses
and quote ids per session, so other packages' rows never change what these tests check).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.app import create_app
from config.settings import Settings, load_settings
from ledger.columns import utcnow
from ledger.market_tables import SymbolLockedParams, SymbolRecord
from ledger.models import Notification, PositionRecord, QuoteRecord

ADMIN_TOKEN = "api-test-admin-token"
TASK_QUEUE = "api-test-operator"


@pytest.fixture(scope="session")
def api_settings(settings: Settings, database_url: str) -> Settings:
    return load_settings(
        temporal_address=settings.temporal_address,
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        temporal_ui_url="http://ui.test:8233",
        max_open_interest=Decimal("1000000"),
        max_notional_per_symbol=Decimal("250000"),
        price_band_pct=Decimal("2"),
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(database_url)
    yield eng
    await eng.dispose()


def _addr(n: int) -> str:
    return "0x" + f"{n:040x}"


@dataclass(frozen=True)
class Seed:
    trader: str  # PartyA with one open BTC LONG position and notifications
    multi_account: str
    quote_base: int  # quote ids quote_base .. quote_base+9 belong to these tests
    now: int


BTC_TIERS = [  # max leverage, cva, lf, partyAmm, partyBmm (percent)
    (Decimal(10), Decimal(6), Decimal(3), Decimal(91), Decimal(0)),
    (Decimal(50), Decimal("4.5"), Decimal("2.25"), Decimal("93.25"), Decimal("0.5")),
]


async def upsert_symbols(engine: AsyncEngine) -> None:
    btc = dict(
        symbol_id=1, name="BTCUSDT", symbol="BTC", asset="USDT", is_valid=True,
        min_acceptable_quote_value=Decimal(10), min_acceptable_portion_lf=Decimal("0.003"),
        trading_fee=Decimal("0.0006"), max_leverage=50, funding_rate_epoch_duration=28800,
        funding_rate_window_time=900, price_precision=1, quantity_precision=3,
        broker_market="BTC/USDT:USDT", max_notional_value=Decimal(100000),
        min_notional_value=Decimal(100), max_quantity=Decimal(1000), lot_size=Decimal("0.001"),
        max_funding_rate=Decimal(200), hedger_fee_open=Decimal("0.0006"),
        hedger_fee_close=Decimal("0.0006"), rfq_allowed=True, mark_price=Decimal(50000),
        price_change_percent=Decimal("1.5"), trade_volume=Decimal(123456789),
        next_funding_time=1_800_000_000_000, next_funding_rate_long=Decimal("-0.000053940"),
        next_funding_rate_short=Decimal("0.000040455"), updated_at=utcnow(),
    )  # fmt: skip
    eth = dict(
        btc, symbol_id=2, name="ETHUSDT", symbol="ETH", broker_market="ETH/USDT:USDT",
        max_notional_value=Decimal(0), mark_price=None, price_change_percent=None,
        trade_volume=None, next_funding_time=None, next_funding_rate_long=None,
        next_funding_rate_short=None, max_leverage=20,
    )  # fmt: skip
    async with engine.begin() as conn:
        for row in (btc, eth):
            stmt = insert(SymbolRecord).values(**row)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["symbol_id"], set_={c.name: c for c in stmt.excluded}
                )
            )
        for lev, cva, lf, amm, bmm in BTC_TIERS:
            stmt2 = insert(SymbolLockedParams).values(
                symbol_id=1, max_leverage=lev, cva_pct=cva, lf_pct=lf, party_amm_pct=amm,
                party_bmm_pct=bmm, updated_at=utcnow(),
            )  # fmt: skip
            await conn.execute(
                stmt2.on_conflict_do_update(
                    index_elements=["symbol_id", "max_leverage"],
                    set_={c.name: c for c in stmt2.excluded},
                )
            )


@pytest.fixture(scope="session")
async def seeded(engine: AsyncEngine) -> Seed:
    rnd = random.Random()
    seed = Seed(
        trader=_addr(rnd.getrandbits(150)),
        multi_account=_addr(rnd.getrandbits(150)),
        quote_base=rnd.randrange(10**9, 2 * 10**9),
        now=int(time.time()),
    )
    await upsert_symbols(engine)
    q = seed.quote_base
    async with engine.begin() as conn:
        await conn.execute(
            insert(QuoteRecord).values(
                chain_id=31337, quote_id=q, party_a=seed.trader, symbol_id=1, symbol="BTCUSDT",
                position_type=0, order_type=1, quantity=Decimal("0.1"),
                requested_open_price=Decimal(49000), cva=Decimal(20), lf=Decimal(10),
                party_amm=Decimal(300), deadline=seed.now + 600, chain_status="OPENED",
                hedge_status="OPEN", created_at=utcnow(), updated_at=utcnow(),
            )
        )  # fmt: skip
        await conn.execute(
            insert(QuoteRecord).values(
                chain_id=31337, quote_id=q + 1, party_a=seed.trader, symbol_id=2, symbol="ETHUSDT",
                position_type=1, order_type=0, quantity=Decimal(2), requested_open_price=Decimal(3000),
                cva=Decimal(5), lf=Decimal(2), party_amm=Decimal(50), deadline=seed.now + 600,
                chain_status="PENDING", hedge_status="REJECTED", created_at=utcnow(), updated_at=utcnow(),
            )
        )  # fmt: skip
        await conn.execute(
            insert(PositionRecord).values(
                chain_id=31337, quote_id=q, party_a=seed.trader, symbol="BTCUSDT", position_type=0,
                open_quantity=Decimal("0.1"), opened_price=Decimal(49000),
                broker_quantity=Decimal("0.1"), chain_status="OPENED", hedge_status="OPEN",
                updated_at=utcnow(),
            )
        )  # fmt: skip
        for i, (qid, action, status, state_type) in enumerate(
            [
                (q, "SendQuote", "seen", "alert"),
                (q, "SendQuote", "success", "alert"),
                (q + 1, "SendQuote", "failed", "alert"),
            ]
        ):
            await conn.execute(
                insert(Notification).values(
                    id=uuid.uuid4(), quote_id=qid, counterparty_address=seed.trader, last_seen_action=action,
                    action_status=status, state_type=state_type, order_type=1,
                    error_code=4201 if status == "failed" else None,
                    filled_amount_open=Decimal("0.1") if status == "success" else None,
                    avg_price_open=Decimal(49000) if status == "success" else None,
                    create_time=seed.now - 100 + i, modify_time=seed.now - 100 + i,
                )
            )  # fmt: skip
    return seed


@pytest.fixture
async def http(
    api_settings: Settings, engine: AsyncEngine, temporal_client: Client
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings, db_engine=engine, temporal_client=temporal_client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hedger.test") as client:
        yield client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
async def fake_worker(temporal_client: Client) -> AsyncIterator[Worker]:
    from api_fake_workflows import FakeIntentWorkflow, FakePositionWorkflow

    worker = Worker(
        temporal_client,
        task_queue=TASK_QUEUE,
        workflows=[FakeIntentWorkflow, FakePositionWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with worker:
        yield worker


@pytest.fixture(scope="module")
async def risk_control_worker(temporal_client: Client, engine: AsyncEngine) -> AsyncIterator[None]:
    """The real risk-control workflow (where the trading state lives) and the ledger activity
    that records its history, for the tests of one module."""
    from activities.ledger import LedgerActivities
    from interfaces.temporal import TaskQueues
    from workflows.risk_control import RiskControlWorkflow

    ledger = LedgerActivities(engine)
    async with (
        Worker(temporal_client, task_queue=TaskQueues.RISK, workflows=[RiskControlWorkflow]),
        Worker(temporal_client, task_queue=TaskQueues.OPS, activities=[ledger.record_trading_state]),
    ):  # fmt: skip
        yield
