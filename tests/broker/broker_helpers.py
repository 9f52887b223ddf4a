"""Order builders shared by the broker test modules (unique client ids per run)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from adapters.broker.client import BrokerConfig
from domain.ids import close_order_client_id, open_order_client_id
from interfaces.broker import OrderRequest

_quotes = itertools.count(int(time.time() * 1000) % 10**11)


def new_quote_id() -> int:
    return next(_quotes)


def new_cid() -> str:
    return open_order_client_id(new_quote_id(), 1)


def new_close_cid() -> str:
    return close_order_client_id(new_quote_id(), 1, 1)


def market(
    symbol: str, side: str, amount: str, cid: str | None = None, reduce_only: bool = False
) -> OrderRequest:
    return OrderRequest(cid or new_cid(), symbol, side, "market", amount, reduce_only=reduce_only)


def limit(
    symbol: str,
    side: str,
    amount: str,
    price: str,
    cid: str | None = None,
    time_in_force: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        cid or new_cid(), symbol, side, "limit", amount, price, time_in_force=time_in_force
    )


@dataclass(frozen=True)
class ExchangeUnderTest:
    name: str
    broker: BrokerConfig
    symbol: str  # unified symbol to trade
    admin_url: str | None  # simulator admin endpoint; None on a live exchange

    @property
    def has_admin(self) -> bool:
        return self.admin_url is not None
