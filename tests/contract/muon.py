"""The devnet Muon oracle in-process against the test chain: every signature the new paths need
comes from `devnet.oracle.app.MuonOracle` (real Schnorr + gateway) and is converted to the
contract tuple by `devnet.oracle.structs`, as a hedger would use the HTTP answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from devnet.oracle import structs
from devnet.oracle.app import PRICE_RANGE, SETTLE_UPNL, MuonOracle
from devnet.oracle.chain import Web3ChainReader
from devnet.oracle.hashes import QuoteSettlement, high_low_price_hash, settlement_hash
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.signer import DEVNET_MUON_APP_ID
from domain.muon import MuonMethod, quote_prices_hash
from tests.contract.helpers import BTC, Chain

SYMBOLS = {BTC: "BTCUSDT", 2: "ETHUSDT"}


class DevnetMuon:
    def __init__(self, chain: Chain, rpc_url: str) -> None:
        self.chain = chain
        self.prices = StaticPriceSource({"BTCUSDT": Decimal(60000), "ETHUSDT": Decimal(3000)})
        reader = Web3ChainReader(rpc_url, chain.dep.symmio)
        self.oracle = MuonOracle(
            signer=chain.signer,
            app_id=DEVNET_MUON_APP_ID,
            prices=self.prices,
            chain_for=lambda _symmio: reader,
            allowed_symmio=chain.dep.symmio,
        )

    def set_price(self, price: int | Decimal, symbol: int = BTC) -> None:
        """Set the mark price and stamp it with the chain's latest block time (priceRange)."""
        self.prices.set_price(SYMBOLS[symbol], Decimal(price))
        self.oracle.observe_price(self.chain.dep.symmio, SYMBOLS[symbol])

    def ask(self, method: str, **params: Any) -> dict[str, Any]:
        query = {"chainId": "31337", "symmio": self.chain.dep.symmio}
        query.update({k: str(v) for k, v in params.items()})
        return self.oracle.request("symmio", method, query)

    def single_b(self, party_b: str, party_a: str) -> tuple[Any, ...]:
        return structs.single_upnl_sig(self.ask(MuonMethod.UPNL_B, partyB=party_b, partyA=party_a))

    def pair(self, party_b: str, party_a: str) -> tuple[Any, ...]:
        return structs.pair_upnl_sig(self.ask(MuonMethod.UPNL, partyB=party_b, partyA=party_a))

    def pair_price(self, party_b: str, party_a: str, symbol: int = BTC) -> tuple[Any, ...]:
        env = self.ask(
            MuonMethod.UPNL_WITH_SYMBOL_PRICE, partyB=party_b, partyA=party_a, symbolId=symbol
        )
        return structs.pair_upnl_and_price_sig(env)

    def quote_prices(self, quote_ids: list[int]) -> tuple[Any, ...]:
        return structs.quote_price_sig(self.ask(MuonMethod.PRICE, quoteIds=quote_ids))

    def price_range(
        self, party_a: str, party_b: str, t0: int, t1: int, symbol: int = BTC
    ) -> tuple[Any, ...]:
        env = self.ask(PRICE_RANGE, partyA=party_a, partyB=party_b, symbolId=symbol, t0=t0, t1=t1)
        return structs.high_low_price_sig(env)

    def settle(self, party_a: str, quote_ids: list[int]) -> tuple[tuple[Any, ...], list[int]]:
        """(SettlementSig, updatedPrices settling each quote fully at its signed price)."""
        env = self.ask(SETTLE_UPNL, partyA=party_a, quoteIds=quote_ids)
        return structs.settlement_sig(env), structs.settlement_prices(env)


def signed_settlement(
    chain: Chain,
    party_a: str,
    rows: list[tuple[int, int, int]],
    upnl_party_bs: list[int],
    upnl_party_a: int = 0,
    *,
    ts: int | None = None,
) -> tuple[Any, ...]:
    """A SettlementSig signed locally with the devnet keys for rows the oracle would refuse."""
    ts = chain.now() if ts is None else ts
    nonces = [chain.nonce_b(chain.view("getQuote", q)[15], party_a) for q, _, _ in rows]
    h = settlement_hash(
        muon_app_id=chain.dep.muon_app_id, req_id=b"\x07", symmio=chain.dep.symmio,
        nonces_b=nonces, nonce_a=chain.nonce_a(party_a),
        settlements=[QuoteSettlement(*r) for r in rows], upnl_party_bs=upnl_party_bs,
        upnl_party_a=upnl_party_a, timestamp=ts, chain_id=chain.w3.eth.chain_id,
    )  # fmt: skip
    gw, sigs = chain._signed(h.digest)
    return (b"\x07", ts, rows, upnl_party_bs, upnl_party_a, gw, sigs)


def signed_high_low(
    chain: Chain, party_b: str, party_a: str, symbol: int, window: tuple[int, int],
    prices: tuple[int, int, int, int], upnls: tuple[int, int] = (0, 0),
) -> tuple[Any, ...]:  # fmt: skip
    """A HighLowPriceSig signed locally: prices = (highest, lowest, average, current),
    upnls = (upnlPartyB, upnlPartyA)."""
    ts = chain.now()
    highest, lowest, average, current = prices
    h = high_low_price_hash(
        muon_app_id=chain.dep.muon_app_id, req_id=b"\x08", symmio=chain.dep.symmio,
        party_b=party_b, party_a=party_a, nonce_b=chain.nonce_b(party_b, party_a),
        nonce_a=chain.nonce_a(party_a), upnl_party_b=upnls[0], upnl_party_a=upnls[1],
        symbol_id=symbol, current_price=current, start_time=window[0], end_time=window[1],
        lowest=lowest, highest=highest, average_price=average, timestamp=ts,
        chain_id=chain.w3.eth.chain_id,
    )  # fmt: skip
    gw, sigs = chain._signed(h.digest)
    return (b"\x08", ts, symbol, highest, lowest, average, *window, *upnls, current, gw, sigs)


def signed_quote_prices(
    chain: Chain, quote_ids: list[int], prices: list[int], ts: int | None = None
) -> tuple[Any, ...]:
    """A QuotePriceSig signed locally (any lengths, any timestamp: it has no expiry check)."""
    ts = chain.now() if ts is None else ts
    h = quote_prices_hash(
        muon_app_id=chain.dep.muon_app_id, req_id=b"\x09", symmio=chain.dep.symmio,
        quote_ids=quote_ids, prices=prices, timestamp=ts, chain_id=chain.w3.eth.chain_id,
    ) if len(quote_ids) == len(prices) else None  # fmt: skip
    digest = h.digest if h else b"\x01" * 32
    gw, sigs = chain._signed(digest)
    return (b"\x09", ts, quote_ids, prices, gw, sigs)
