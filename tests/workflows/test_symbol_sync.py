"""The symbol-sync and market-data workflows on the real parts: our devnet SYMMIO diamond on
anvil (read through the packaged ABI, paged), the exchange simulator through real ccxt, Postgres
(a database of its own) and the Temporal dev server. Checked from outside: what the tables the
API serves hold against the contract's views and the simulator's prices."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client
from temporalio.worker import Worker
from web3 import Web3

from activities.markets import MarketsActivities
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import BrokerConfig
from adapters.chain.client import ChainClient
from config.settings import LeverageTier, load_settings
from devnet.contracts.deploy import (
    DEFAULT_ADMIN_KEY,
    Deployment,
    deploy_and_initialise,
    diamond_abi,
)
from devnet.exchange.admin import ExchangeAdmin
from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeConfig
from devnet.exchange.server import BackgroundExchange
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
from devnet.stack.anvil import Anvil
from ledger import queries as repo
from ledger.migrate import upgrade
from workers.market_schedules import MARKET_WORKFLOWS, market_policy
from workflows.symbol_sync import MarketDataWorkflow, SymbolSyncInput, SymbolSyncWorkflow

E18 = 10**18


@pytest.fixture(scope="module")
def deployment(anvil: Anvil) -> Deployment:
    """The diamond with BTCUSDT and ETHUSDT (as deployed), plus DOGEUSDT (the broker lists no
    such market) and SOLUSDT (listed, but invalid on chain)."""
    from eth_account import Account

    key = "0x" + uuid.uuid4().hex * 2
    anvil.rpc("anvil_setBalance", [Account.from_key(key).address, hex(1000 * E18)])
    signer = default_devnet_signer()
    pk = signer.public_key
    deployed = deploy_and_initialise(
        anvil.http_url, hedger_key=key, muon_public_key=(pk.x, pk.parity),
        muon_gateway=signer.gateway_address, muon_app_id=DEVNET_MUON_APP_ID, out_path=None,
    )  # fmt: skip
    w3 = Web3(Web3.HTTPProvider(anvil.http_url))
    symmio = w3.eth.contract(address=Web3.to_checksum_address(deployed.symmio), abi=diamond_abi())
    admin = w3.eth.account.from_key(DEFAULT_ADMIN_KEY)
    for fn, args in (
        ("addSymbol", ("DOGEUSDT", 5 * E18, 10**16, 10**15, 20 * E18, 28800, 900)),
        ("addSymbol", ("SOLUSDT", 5 * E18, 10**16, 10**15, 50 * E18, 28800, 900)),
        ("setSymbolValidationState", (4, False)),
    ):
        tx = getattr(symmio.functions, fn)(*args).build_transaction(
            {"from": admin.address, "nonce": w3.eth.get_transaction_count(admin.address), "gas": 3_000_000}
        )  # fmt: skip
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(admin.sign_transaction(tx).raw_transaction)
        )
        assert receipt["status"] == 1, fn
    return deployed


@pytest.fixture(scope="module")
def exchange() -> Iterator[BackgroundExchange]:
    server = BackgroundExchange(ExchangeConfig(tick_interval=0)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database of its own: a sync marks every symbol the contract does not list as not
    tradable, which would touch other tests' rows."""
    name = f"symsync_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    import asyncio

    await asyncio.to_thread(upgrade, url)
    db = create_async_engine(url)
    yield db
    await db.dispose()


@pytest.fixture()
async def worker(
    temporal_client: Client,
    engine: AsyncEngine,
    deployment: Deployment,
    exchange: BackgroundExchange,
    anvil: Anvil,
) -> AsyncIterator[str]:
    settings = load_settings(
        max_notional_per_symbol=Decimal(250_000),
        symbol_notional_caps={"ETHUSDT": Decimal(40_000)},
        leverage_tiers=[
            LeverageTier(max_leverage=Decimal(10), cva=Decimal(6), lf=Decimal(3), party_amm=Decimal(91), party_bmm=Decimal(0)),
            LeverageTier(max_leverage=Decimal(500), cva=Decimal(4), lf=Decimal(2), party_amm=Decimal(94), party_bmm=Decimal(1)),
        ],
    )  # fmt: skip
    chain = ChainClient.create([anvil.http_url], deployment.symmio)
    broker = BrokerAdapter.from_config(
        BrokerConfig(
            api_key=DEFAULT_API_KEY,
            api_secret=DEFAULT_API_SECRET,
            rest_url=exchange.rest_url,
            ws_url=exchange.ws_url,
        )  # fmt: skip
    )
    markets = MarketsActivities(engine, chain, broker, market_policy(settings))
    queue = f"markets-{uuid.uuid4()}"
    try:
        async with Worker(
            temporal_client, task_queue=queue, workflows=MARKET_WORKFLOWS,
            activities=markets.activities(),
        ):  # fmt: skip
            yield queue
    finally:
        await broker.close()
        await chain.close()


async def _rows(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())


async def test_symbol_sync_publishes_the_contract_joined_with_the_broker(
    temporal_client: Client,
    worker: str,
    engine: AsyncEngine,
    exchange: BackgroundExchange,
    record_history: Any,
) -> None:
    admin = ExchangeAdmin(exchange.rest_url)
    await admin.set_price("BTCUSDT", "61234.5")
    await admin.set_funding_rate("BTCUSDT", "0.0003")
    await admin.set_funding_rate("ETHUSDT", "0.0002", interval_hours=4)  # paid twice per epoch
    await admin.aclose()
    handle = await temporal_client.start_workflow(
        SymbolSyncWorkflow.run, SymbolSyncInput(page_size=3),  # 4 symbols: pages of 3 and 1
        id=f"symbol-sync-{uuid.uuid4()}", task_queue=worker,
    )  # fmt: skip
    result = await handle.result()
    assert result.tradable == ["BTCUSDT", "ETHUSDT"]
    assert result.not_tradable == {
        "DOGEUSDT": "the broker lists no market for it",
        "SOLUSDT": "the contract marks the symbol invalid",
    }
    assert sorted(result.priced) == ["BTCUSDT", "ETHUSDT"]
    await record_history(handle, "SymbolSync", "devnet")

    symbols = {s.name: s for s in await repo.list_symbols(engine)}
    assert set(symbols) == {"BTCUSDT", "ETHUSDT", "DOGEUSDT", "SOLUSDT"}
    btc, eth, doge, sol = (symbols[n] for n in ("BTCUSDT", "ETHUSDT", "DOGEUSDT", "SOLUSDT"))
    # contract values (getSymbols, decimals removed) and broker rules
    assert (btc.symbol_id, btc.is_valid, btc.rfq_allowed, btc.max_leverage) == (1, True, True, 100)
    assert (btc.min_acceptable_quote_value, btc.trading_fee) == (Decimal(5), Decimal("0.001"))
    assert (btc.symbol, btc.asset, btc.broker_market) == ("BTC", "USDT", "BTC/USDT:USDT")
    assert (btc.price_precision, btc.quantity_precision) == (1, 3)  # tick 0.10, step 0.001
    assert (btc.min_notional_value, btc.lot_size) == (Decimal(100), Decimal("0.001"))
    assert btc.max_notional_value == Decimal(250_000) and eth.max_notional_value == Decimal(40_000)
    # not tradable, still listed
    assert (doge.is_valid, doge.rfq_allowed, doge.broker_market) == (False, False, None)
    assert (sol.is_valid, sol.broker_market) == (False, "SOL/USDT:USDT")
    # tiers: clamped to the contract's max leverage (100), none for a symbol not tradable
    tiers = await _rows(
        engine, "SELECT symbol_id, max_leverage FROM symbol_locked_params ORDER BY 1, 2"
    )
    assert [(i, Decimal(m)) for i, m in tiers] == [(1, 10), (1, 100), (2, 10), (2, 100)]
    high = await repo.locked_params_for(engine, 1, Decimal(25))
    assert high is not None and (high.cva_pct, high.party_amm_pct, high.party_bmm_pct) == (4, 94, 1)
    assert await repo.locked_params_for(engine, 1, Decimal(101)) is None
    assert await repo.locked_params_for(engine, 3, Decimal(1)) is None
    # market data, as the simulator serves it
    assert btc.mark_price == Decimal("61234.5")
    assert (btc.next_funding_rate_long, btc.next_funding_rate_short) == (
        Decimal("-0.0003"),
        Decimal("0.0003"),
    )
    assert btc.next_funding_time and btc.next_funding_time > 1_700_000_000_000
    # what the funding workflow will charge per chain epoch (8 h): ETH's 4-h rate counts twice,
    # and the next funding time is the contract's next epoch boundary, not the broker's
    assert (eth.next_funding_rate_long, eth.next_funding_rate_short) == (
        Decimal("-0.0004"),
        Decimal("0.0004"),
    )
    assert btc.next_funding_time % (28800 * 1000) == 0
    assert eth.next_funding_time and eth.next_funding_time % (28800 * 1000) == 0
    assert btc.price_change_percent is not None and btc.trade_volume is not None
    assert doge.mark_price is None


async def test_market_data_follows_the_broker_and_resync_is_idempotent(
    temporal_client: Client,
    worker: str,
    engine: AsyncEngine,
    exchange: BackgroundExchange,
    record_history: Any,
) -> None:
    await temporal_client.execute_workflow(
        SymbolSyncWorkflow.run, SymbolSyncInput(), id=f"symbol-sync-{uuid.uuid4()}", task_queue=worker
    )  # fmt: skip
    before = await _rows(engine, "SELECT * FROM symbol_locked_params ORDER BY 1, 2")
    admin = ExchangeAdmin(exchange.rest_url)
    await admin.set_price("ETHUSDT", "3333.25")
    await admin.aclose()
    handle = await temporal_client.start_workflow(
        MarketDataWorkflow.run, id=f"market-data-{uuid.uuid4()}", task_queue=worker
    )
    result = await handle.result()
    assert sorted(result.updated) == ["BTCUSDT", "ETHUSDT"] and result.missing == []
    await record_history(handle, "MarketData", "devnet")
    eth = await repo.symbol_by_name(engine, "ETHUSDT")
    assert eth is not None and eth.mark_price == Decimal("3333.25")
    await temporal_client.execute_workflow(
        SymbolSyncWorkflow.run, SymbolSyncInput(), id=f"symbol-sync-{uuid.uuid4()}", task_queue=worker
    )  # fmt: skip
    after = await _rows(engine, "SELECT * FROM symbol_locked_params ORDER BY 1, 2")
    assert [r[:6] for r in after] == [r[:6] for r in before]  # same tiers, nothing doubled
    assert len(await repo.list_symbols(engine)) == 4


async def test_the_ops_worker_creates_or_updates_the_schedules(temporal_client: Client) -> None:
    from temporalio.client import ScheduleActionStartWorkflow, ScheduleIntervalSpec

    from workers.market_schedules import (
        ensure_market_schedules,
        market_data_schedule_id,
        symbol_sync_schedule_id,
    )

    chain_id = 700_000 + uuid.uuid4().int % 100_000
    ids = (symbol_sync_schedule_id(chain_id), market_data_schedule_id(chain_id))
    try:
        await ensure_market_schedules(temporal_client, load_settings(chain_id=chain_id))
        settings = load_settings(chain_id=chain_id, symbol_sync_seconds=120, market_data_seconds=7)
        await ensure_market_schedules(temporal_client, settings)  # a restart: updated, no error
        every = []
        for schedule_id, workflow_type in zip(ids, ("SymbolSync", "MarketData"), strict=True):
            described = await temporal_client.get_schedule_handle(schedule_id).describe()
            action = described.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert (action.workflow, action.task_queue) == (workflow_type, "hedger-ops")
            spec = described.schedule.spec.intervals[0]
            assert isinstance(spec, ScheduleIntervalSpec)
            every.append(spec.every.total_seconds())
        assert every == [120, 7]
    finally:
        for schedule_id in ids:
            handle = temporal_client.get_schedule_handle(schedule_id)
            described = await handle.describe()
            await handle.delete()
            for run in described.info.recent_actions:
                action = run.action
                wf = temporal_client.get_workflow_handle(action.workflow_id)  # type: ignore[attr-defined]
                try:
                    await wf.terminate("test over")
                except Exception:  # noqa: BLE001 - already finished
                    pass
