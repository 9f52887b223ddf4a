"""PartyA's side of the SYMMIO diamond: fund, sendQuote, cancel, close, read quotes.

Calls are encoded from the SYMMIO 0.8.4 function signatures (selector + eth_abi), signed locally
and sent as raw transactions, so no ABI file is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode
from eth_account import Account
from eth_utils.crypto import keccak
from web3 import Web3

from devnet.traders.brain import QuoteView, SendQuote
from domain import events as ev
from domain.enums import OrderType, PositionType, QuoteStatus
from domain.muon import ABI_TYPES, SingleUpnlAndPriceSig

log = logging.getLogger("devnet.traders")

_QUOTE_TYPE = (
    "(uint256,address[],uint256,uint8,uint8,uint256,uint256,uint256,uint256,uint256,uint256,"
    "(uint256,uint256,uint256,uint256),(uint256,uint256,uint256,uint256),uint256,address,address,"
    "uint8,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,address)"
)
SEND_QUOTE = (
    "sendQuote(address[],uint256,uint8,uint8,uint256,uint256,uint256,uint256,uint256,uint256,"
    f"uint256,uint256,{ABI_TYPES[SingleUpnlAndPriceSig]})"
)


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _arg_types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : -1]
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


def calldata(signature: str, *args: Any) -> bytes:
    return selector(signature) + encode(_arg_types(signature), list(args))


class TxFailed(RuntimeError):
    pass


@dataclass
class PartyAChain:
    """One PartyA account acting on the diamond."""

    w3: Web3
    symmio: str
    private_key: str
    gas_limit: int = 3_000_000

    def __post_init__(self) -> None:
        self.account = Account.from_key(self.private_key)
        self.symmio = Web3.to_checksum_address(self.symmio)

    @property
    def address(self) -> str:
        return str(self.account.address)

    # ------------------------------------------------------------ low level
    def call(
        self, signature: str, out_types: Sequence[str], *args: Any, to: str | None = None
    ) -> Any:
        raw = self.w3.eth.call({"to": to or self.symmio, "data": calldata(signature, *args)})
        return decode(list(out_types), bytes(raw))

    def send(self, signature: str, *args: Any, to: str | None = None) -> Any:
        tx = {
            "to": Web3.to_checksum_address(to or self.symmio),
            "from": self.address,
            "data": calldata(signature, *args),
            "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
            "chainId": self.w3.eth.chain_id,
            "gas": self.gas_limit,
            "gasPrice": self.w3.eth.gas_price,
            "value": 0,
        }
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        if receipt["status"] != 1:
            raise TxFailed(f"{signature.split('(')[0]} reverted (tx {tx_hash.hex()})")
        return receipt

    # ------------------------------------------------------------ reads
    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def quote(self, quote_id: int) -> QuoteView:
        (q,) = self.call("getQuote(uint256)", [_QUOTE_TYPE], quote_id)
        return QuoteView(
            quote_id=int(q[0]),
            status=QuoteStatus(q[16]),
            symbol_id=int(q[2]),
            position_type=PositionType(q[3]),
            quantity=int(q[9]),
            closed_amount=int(q[10]),
            quantity_to_close=int(q[19]),
        )

    # ------------------------------------------------------------ funding
    def fund(self, amount: int) -> None:
        """Mint collateral (a FakeStablecoin-style `mint(address,uint256)`), approve, depositAndAllocate.
        `amount` is in token units (18-decimal collateral on the devnet)."""
        (collateral,) = self.call("getCollateral()", ["address"])
        self.send("mint(address,uint256)", self.address, amount, to=collateral)
        self.send("approve(address,uint256)", self.symmio, amount, to=collateral)
        self.send("depositAndAllocate(uint256)", amount)

    # ------------------------------------------------------------ actions
    def send_quote(
        self, q: SendQuote, sig: SingleUpnlAndPriceSig, whitelist: Sequence[str] = ()
    ) -> int:
        receipt = self.send(
            SEND_QUOTE,
            [Web3.to_checksum_address(a) for a in whitelist],
            q.symbol_id,
            int(q.position_type),
            int(q.order_type),
            q.price,
            q.quantity,
            q.cva,
            q.lf,
            q.party_amm,
            q.party_bmm,
            q.max_funding_rate,
            q.deadline,
            sig.to_abi_tuple(),
        )
        for raw in receipt["logs"]:
            event = ev.try_decode_log(raw)
            if isinstance(event, ev.SendQuote) and event.party_a == self.address:
                return event.quote_id
        raise TxFailed("sendQuote mined without a SendQuote event")

    def request_to_cancel_quote(self, quote_id: int) -> None:
        self.send("requestToCancelQuote(uint256)", quote_id)

    def request_to_close_position(
        self, quote_id: int, close_price: int, quantity: int, order_type: OrderType, deadline: int
    ) -> None:
        self.send(
            "requestToClosePosition(uint256,uint256,uint256,uint8,uint256)",
            quote_id,
            close_price,
            quantity,
            int(order_type),
            deadline,
        )

    def request_to_cancel_close_request(self, quote_id: int) -> None:
        self.send("requestToCancelCloseRequest(uint256)", quote_id)
