"""Full chain: our devnet SYMMIO diamond (real Muon verification) + the devnet oracle + the
hedger's Muon client. A trader's sendQuote, the hedger's lockQuote and openPosition all carry
signatures fetched through `MuonClient` and are accepted on chain."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from web3 import Web3

from adapters.muon.client import MuonClient, MuonVerification
from devnet.contracts.deploy import (
    ANVIL_KEYS,
    DEFAULT_HEDGER_KEY,
    Deployment,
    deploy_and_initialise,
)
from devnet.oracle.app import OracleConfig
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.server import BackgroundOracle
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
from devnet.stack.anvil import Anvil
from devnet.traders.brain import IntentDraft, TraderBrain
from devnet.traders.chain import PartyAChain, TxFailed
from domain.enums import OrderType, PositionType, QuoteStatus
from domain.muon import ABI_TYPES, PairUpnlAndPriceSig, SingleUpnlSig

E18 = 10**18


@pytest.fixture(scope="module")
def deployment(anvil: Anvil) -> Deployment:
    signer = default_devnet_signer()
    pk = signer.public_key
    return deploy_and_initialise(
        anvil.http_url,
        muon_public_key=(pk.x, pk.parity),
        muon_gateway=signer.gateway_address,
        muon_app_id=DEVNET_MUON_APP_ID,
        out_path=None,
    )


@pytest.fixture(scope="module")
def prices() -> StaticPriceSource:
    return StaticPriceSource({"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("3000")})


@pytest.fixture(scope="module")
def oracle(
    anvil: Anvil, deployment: Deployment, prices: StaticPriceSource
) -> Iterator[BackgroundOracle]:
    with BackgroundOracle(
        OracleConfig(rpc_url=anvil.http_url, symmio=deployment.symmio), prices=prices
    ) as running:
        yield running


async def test_lifecycle_with_fetched_signatures(
    anvil: Anvil, deployment: Deployment, oracle: BackgroundOracle, prices: StaticPriceSource
) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil.http_url))
    chain_id, symmio = deployment.chain_id, deployment.symmio
    trader = PartyAChain(w3, symmio, ANVIL_KEYS[1])
    hedger = PartyAChain(w3, symmio, DEFAULT_HEDGER_KEY)  # same raw-tx helper, PartyB's key
    assert hedger.address == deployment.party_b
    trader.fund(10_000 * E18)
    verify = MuonVerification(DEVNET_MUON_APP_ID, deployment.muon_gateway)
    async with MuonClient([oracle.url], verification=verify) as muon:
        # PartyA: sendQuote with a fresh uPnl_A_withSymbolPrice signature
        send_sig = await muon.party_a_upnl_and_price_sig(
            party_a=trader.address, chain_id=chain_id, symmio=symmio, symbol_id=1
        )
        assert send_sig.price == 60000 * E18
        brain = TraderBrain(1)
        quote = brain.price_intent(
            IntentDraft(
                1, PositionType.LONG, OrderType.MARKET, Decimal("600"), 5, trader.now() + 3600
            ),
            send_sig.price,
        )
        quote_id = trader.send_quote(quote, send_sig)
        assert trader.quote(quote_id).status == QuoteStatus.PENDING

        # PartyB: allocate, lockQuote (uPnl_B), openPosition (uPnlWithSymbolPrice)
        hedger.send("allocateForPartyB(uint256,address)", 1_000 * E18, trader.address)
        lock_sig = await muon.party_b_upnl_sig(
            party_b=hedger.address, party_a=trader.address, chain_id=chain_id, symmio=symmio
        )
        hedger.send(
            f"lockQuote(uint256,{ABI_TYPES[SingleUpnlSig]})", quote_id, lock_sig.to_abi_tuple()
        )
        assert trader.quote(quote_id).status == QuoteStatus.LOCKED
        open_sig = await muon.pair_upnl_and_price_sig(
            party_b=hedger.address,
            party_a=trader.address,
            chain_id=chain_id,
            symmio=symmio,
            symbol_id=1,
        )
        open_call = f"openPosition(uint256,uint256,uint256,{ABI_TYPES[PairUpnlAndPriceSig]})"
        hedger.send(open_call, quote_id, quote.quantity, 60000 * E18, open_sig.to_abi_tuple())
        assert trader.quote(quote_id).status == QuoteStatus.OPENED

        # the open bumped both nonces: the lock signature is now stale and refused on chain
        with pytest.raises(TxFailed):
            hedger.send(
                f"lockQuote(uint256,{ABI_TYPES[SingleUpnlSig]})", quote_id, lock_sig.to_abi_tuple()
            )

        # uPnL follows the price: LONG from 60000 at 60500 → PartyA +, PartyB −
        prices.set_price("BTCUSDT", Decimal("60500"))
        pair = await muon.pair_upnl_sig(
            party_b=hedger.address, party_a=trader.address, chain_id=chain_id, symmio=symmio
        )
        expected = quote.quantity * 500 * E18 // E18
        assert (pair.upnl_party_a, pair.upnl_party_b) == (expected, -expected)
        assert pair.timestamp == w3.eth.get_block("latest")["timestamp"]


async def test_traders_sim_on_chain(
    anvil: Anvil, deployment: Deployment, oracle: BackgroundOracle
) -> None:
    from devnet.traders.brain import TraderProfile
    from devnet.traders.sim import TradersConfig, TradersSim

    profile = TraderProfile(p_open=1.0, p_cancel=0.5, max_pending=2)
    config = TradersConfig(
        rpc_url=anvil.http_url,
        symmio=deployment.symmio,
        muon_urls=[oracle.url],
        private_keys=ANVIL_KEYS[7:9],
        seed=3,
        profile=profile,
        fund_amount=10_000 * E18,
        interval=0,
    )
    sim = TradersSim(config)
    try:
        await sim.run(steps=4)
    finally:
        await sim.muon.aclose()
    sent = sum(t.stats.sent for t in sim.traders)
    assert sent >= 4 and all(t.stats.failures == 0 for t in sim.traders), [
        t.stats for t in sim.traders
    ]
    assert sum(t.stats.cancels for t in sim.traders) >= 1
    statuses = {sim.traders[0].chain.quote(q).status for t in sim.traders for q in t.quote_ids}
    assert statuses <= {QuoteStatus.PENDING, QuoteStatus.CANCELED}
