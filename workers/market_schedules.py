"""The ops worker's markets part: its activities (a read-only chain client and a ccxt client of
public market data) and the two Schedules that run `workflows.symbol_sync` on `hedger-ops`.

`ensure_market_schedules` is idempotent: the first start creates the schedules (and runs the
symbol sync at once), a later start updates them to the current settings and triggers one sync.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.markets import MarketsActivities
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import BrokerConfig
from adapters.chain.client import ChainClient
from config.settings import Settings
from domain.markets import MarketPolicy, Tier
from interfaces.temporal import TaskQueues
from workflows.symbol_sync import MarketDataWorkflow, SymbolSyncInput, SymbolSyncWorkflow

log = logging.getLogger(__name__)

MARKET_WORKFLOWS = [SymbolSyncWorkflow, MarketDataWorkflow]


def symbol_sync_schedule_id(chain_id: int) -> str:
    return f"symbol-sync-{chain_id}"


def market_data_schedule_id(chain_id: int) -> str:
    return f"market-data-{chain_id}"


def market_policy(settings: Settings) -> MarketPolicy:
    return MarketPolicy(
        default_notional_cap=settings.max_notional_per_symbol,
        tiers=tuple(
            Tier(t.max_leverage, t.cva, t.lf, t.party_amm, t.party_bmm)
            for t in settings.leverage_tiers
        ),
        notional_caps={k.upper(): v for k, v in settings.symbol_notional_caps.items()},
        broker_markets={k.upper(): v for k, v in settings.symbol_broker_markets.items()},
        hedger_fee_open=settings.hedger_fee_open,
        hedger_fee_close=settings.hedger_fee_close,
        funding_spread=settings.funding_spread,
    )


@dataclass
class MarketsPart:
    activities: MarketsActivities
    chain: ChainClient
    broker: BrokerAdapter

    async def close(self) -> None:
        await self.broker.close()
        await self.chain.close()


def build_markets(settings: Settings, engine: AsyncEngine) -> MarketsPart | None:
    """None without a SYMMIO address (nothing to publish yet; the schedules are not created)."""
    if settings.symmio_address is None:
        log.warning("HEDGER_SYMMIO_ADDRESS is not set: markets are not published")
        return None
    chain = ChainClient.from_settings(settings)
    broker = BrokerAdapter.from_config(BrokerConfig.from_settings(settings))
    return MarketsPart(
        MarketsActivities(engine, chain, broker, market_policy(settings)), chain, broker
    )


def _schedule(workflow: object, arg: object, workflow_id: str, every: timedelta) -> Schedule:
    action = (
        ScheduleActionStartWorkflow(
            workflow,  # type: ignore[arg-type]
            arg, id=workflow_id, task_queue=TaskQueues.OPS, execution_timeout=timedelta(minutes=5),
        )
        if arg is not None
        else ScheduleActionStartWorkflow(
            workflow,  # type: ignore[arg-type]
            id=workflow_id, task_queue=TaskQueues.OPS, execution_timeout=timedelta(minutes=5),
        )
    )  # fmt: skip
    return Schedule(
        action=action,
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, timedelta(minutes=1))
        ),
    )


async def _ensure(client: Client, schedule_id: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(schedule_id, schedule, trigger_immediately=True)
        log.info("created schedule %s", schedule_id)
        return
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(schedule_id)

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await handle.update(replace)
    await handle.trigger()
    log.info("updated schedule %s", schedule_id)


async def ensure_market_schedules(client: Client, settings: Settings) -> None:
    chain_id = settings.chain_id
    await _ensure(
        client,
        symbol_sync_schedule_id(chain_id),
        _schedule(
            SymbolSyncWorkflow.run, SymbolSyncInput(), f"symbol-sync-{chain_id}",
            timedelta(seconds=settings.symbol_sync_seconds),
        ),
    )  # fmt: skip
    await _ensure(
        client,
        market_data_schedule_id(chain_id),
        _schedule(
            MarketDataWorkflow.run, None, f"market-data-{chain_id}",
            timedelta(seconds=settings.market_data_seconds),
        ),
    )  # fmt: skip
