"""The PartyA simulator: several seeded traders posting, cancelling and closing intents on the
devnet diamond, each `sendQuote` carrying a fresh `uPnl_A_withSymbolPrice` signature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from web3 import Web3

from adapters.muon.client import MuonClient, MuonError
from devnet.contracts.keys import ANVIL_TRADER_KEYS
from devnet.traders.brain import (
    CancelClose,
    CancelQuote,
    IntentDraft,
    QuoteView,
    TraderBrain,
    TraderProfile,
)
from devnet.traders.chain import PartyAChain, TxFailed
from domain.enums import QuoteStatus

log = logging.getLogger("devnet.traders")

# anvil's default dev accounts 5..9 (public test keys) — PartyBs/deployers usually use 0..4.
FINAL = {QuoteStatus.CANCELED, QuoteStatus.CLOSED, QuoteStatus.EXPIRED, QuoteStatus.LIQUIDATED}


@dataclass
class TraderStats:
    sent: int = 0
    cancels: int = 0
    closes: int = 0
    cancel_closes: int = 0
    failures: int = 0


@dataclass
class Trader:
    chain: PartyAChain
    brain: TraderBrain
    quote_ids: set[int] = field(default_factory=set)
    stats: TraderStats = field(default_factory=TraderStats)

    def views(self) -> list[QuoteView]:
        views = [self.chain.quote(q) for q in sorted(self.quote_ids)]
        for v in views:
            if v.status in FINAL:
                self.quote_ids.discard(v.quote_id)
        return [v for v in views if v.status not in FINAL]


@dataclass
class TradersConfig:
    rpc_url: str
    symmio: str
    muon_urls: Sequence[str]
    private_keys: Sequence[str] = ANVIL_TRADER_KEYS[:2]
    seed: int = 1
    profile: TraderProfile = field(default_factory=TraderProfile)
    whitelist: Sequence[str] = ()  # PartyBs allowed to take the intents (empty = anyone)
    fund_amount: int = 0  # collateral to mint + depositAndAllocate per trader at start (0 = skip)
    interval: float = 1.0  # seconds between steps


class TradersSim:
    def __init__(self, config: TradersConfig, muon: MuonClient | None = None) -> None:
        self.config = config
        self.w3 = Web3(Web3.HTTPProvider(config.rpc_url))
        self.chain_id = int(self.w3.eth.chain_id)
        self.muon = muon or MuonClient(list(config.muon_urls))
        self.traders = [
            Trader(
                PartyAChain(self.w3, config.symmio, key),
                TraderBrain(config.seed * 1000 + i, config.profile),
            )
            for i, key in enumerate(config.private_keys)
        ]

    def fund(self) -> None:
        if self.config.fund_amount:
            for t in self.traders:
                t.chain.fund(self.config.fund_amount)

    async def _mark(self, trader: Trader, symbol_id: int) -> int:
        sig = await self.muon.party_a_upnl_and_price_sig(
            party_a=trader.chain.address,
            chain_id=self.chain_id,
            symmio=trader.chain.symmio,
            symbol_id=symbol_id,
        )
        return sig.price

    async def step_trader(self, trader: Trader) -> None:
        c = trader.chain
        views = trader.views()
        now = c.now()
        for action in trader.brain.decide(views, now):
            try:
                if isinstance(action, CancelQuote):
                    c.request_to_cancel_quote(action.quote_id)
                    trader.stats.cancels += 1
                elif isinstance(action, CancelClose):
                    c.request_to_cancel_close_request(action.quote_id)
                    trader.stats.cancel_closes += 1
                elif isinstance(action, IntentDraft):
                    # a fresh signature right before the transaction (it embeds PartyA's nonce)
                    sig = await self.muon.party_a_upnl_and_price_sig(
                        party_a=c.address,
                        chain_id=self.chain_id,
                        symmio=c.symmio,
                        symbol_id=action.symbol_id,
                    )
                    quote = trader.brain.price_intent(action, sig.price)
                    quote_id = c.send_quote(quote, sig, self.config.whitelist)
                    trader.quote_ids.add(quote_id)
                    trader.stats.sent += 1
                    log.info(
                        "%s sent quote %s %s %s",
                        c.address,
                        quote_id,
                        quote.position_type.name,
                        quote.order_type.name,
                    )
            except (TxFailed, MuonError) as exc:
                trader.stats.failures += 1
                log.warning("%s: %s failed: %s", c.address, type(action).__name__, exc)
        opened = [v for v in trader.views() if v.status == QuoteStatus.OPENED]
        if opened:
            try:
                marks = {
                    sid: await self._mark(trader, sid) for sid in {v.symbol_id for v in opened}
                }
            except MuonError as exc:
                trader.stats.failures += 1
                log.warning("%s: no mark price: %s", c.address, exc)
                return
            for close in trader.brain.closes(opened, marks, c.now()):
                try:
                    c.request_to_close_position(
                        close.quote_id,
                        close.close_price,
                        close.quantity_to_close,
                        close.order_type,
                        close.deadline,
                    )
                    trader.stats.closes += 1
                except TxFailed as exc:
                    trader.stats.failures += 1
                    log.warning("%s: close of %s failed: %s", c.address, close.quote_id, exc)

    async def step(self) -> None:
        for trader in self.traders:
            await self.step_trader(trader)

    async def run(self, steps: int | None = None) -> None:
        self.fund()
        n = 0
        while steps is None or n < steps:
            await self.step()
            n += 1
            await asyncio.sleep(self.config.interval)
