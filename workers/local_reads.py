"""The reads the workflows run as local activities, hosted by the workflow worker.

An intent's first round (the quote with its symbol and our funds; the trading state, the
limits and the early reservation; the broker market) and a position's facts at each step are
local activities: they run in the workflow worker's own process, inside the workflow task that
asks for them, and their results are recorded in that task's completion. Each read as a
regular activity cost a dispatch through the server, three history events and, on its
completion, another workflow task: the intent's first round took three workflow tasks before
its lock was scheduled, now one.

They are reads only: the key's transactions stay on the chain worker (it owns the nonces) and
orders on the broker worker (its queue is rate-limited per account). A read retried after a
crash is harmless: the early reservation is idempotent per quote.

The workflow worker therefore reaches the RPC (`HEDGER_RPC_HTTP_URLS`), the oracle
(`HEDGER_MUON_URLS`), the broker's market data (`HEDGER_BROKER_*`) and Temporal (the
risk-control workflow), and derives PartyB's address from `HEDGER_PRIVATE_KEY`; it signs
nothing. For Binance USD-M it reads the market data without ccxt (`adapters.broker.usdm`):
the workflow worker does not import ccxt at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from temporalio.client import Client

from activities.chain import ChainReads
from activities.market_data import MarketDataReads
from activities.risk_reads import RiskReads
from adapters.broker.client import BrokerConfig
from adapters.broker.market_data import market_data_for
from adapters.chain.client import ChainClient
from adapters.muon.client import MuonClient
from adapters.risk_control import RiskControl
from config.settings import Settings
from interfaces.ledger import LimitsView


def limits_from(settings: Settings) -> LimitsView:
    return LimitsView(
        max_open_interest=str(settings.max_open_interest),
        max_notional_per_symbol=str(settings.max_notional_per_symbol),
        notional_caps={k.upper(): str(v) for k, v in settings.symbol_notional_caps.items()},
        price_band_pct=str(settings.price_band_pct),
        min_seconds_to_deadline=settings.min_seconds_to_deadline,
    )


@dataclass
class LocalReads:
    """The chain's, the risk-control workflow's and the broker's reads of one workflow worker
    (`close()` on shutdown)."""

    chain: ChainReads
    risk: RiskReads
    broker: MarketDataReads

    def activities(self) -> list[Callable[..., Any]]:
        return [*self.chain.local_reads(), *self.risk.local_reads(), *self.broker.local_reads()]

    async def close(self) -> None:
        await self.broker.close()
        await self.chain.muon.aclose()
        await self.chain.client.close()


def party_b_of(settings: Settings) -> str:
    """PartyB's address: the chain worker's signer."""
    return str(Account.from_key(settings.private_key.get_secret_value()).address)


def build_local_reads(client: Client, settings: Settings) -> LocalReads:
    chain = ChainReads(
        ChainClient.create(settings.rpc_http_urls, settings.require_symmio_address()),
        MuonClient(settings.muon_urls, app=settings.muon_app),
        party_b=party_b_of(settings),
        chain_id=settings.chain_id,
    )
    risk = RiskReads(limits_from(settings), RiskControl(client, settings.chain_id))
    broker = MarketDataReads(market_data_for(BrokerConfig.from_settings(settings)))
    return LocalReads(chain, risk, broker)
