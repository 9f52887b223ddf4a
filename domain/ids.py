"""Readable, deterministic identities (DESIGN §3): workflow ids and broker client order ids.

Everything that could be retried derives its identity from here so that a retry finds what the
first attempt did instead of doing it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CLIENT_ORDER_ID_LEN = 36  # Binance newClientOrderId limit

_OPEN_RE = re.compile(r"^h(?P<quote>\d+)o(?P<n>\d+)$")
_CLOSE_RE = re.compile(r"^h(?P<quote>\d+)c(?P<close>\d+)n(?P<n>\d+)$")


def intent_workflow_id(chain_id: int, quote_id: int) -> str:
    return f"intent-{chain_id}-{quote_id}"


def position_workflow_id(chain_id: int, quote_id: int) -> str:
    return f"position-{chain_id}-{quote_id}"


def open_order_client_id(quote_id: int, attempt: int) -> str:
    """Client order id of the `attempt`-th broker order that hedges the opening of `quote_id`."""
    return _checked(f"h{quote_id}o{attempt}")


def close_order_client_id(quote_id: int, close_id: int, attempt: int) -> str:
    """Client order id of the `attempt`-th broker order for close request `close_id` of `quote_id`."""
    return _checked(f"h{quote_id}c{close_id}n{attempt}")


@dataclass(frozen=True, slots=True)
class ParsedClientOrderId:
    quote_id: int
    attempt: int
    close_id: int | None  # None for an opening order

    @property
    def is_close(self) -> bool:
        return self.close_id is not None

    def workflow_id(self, chain_id: int) -> str:
        if self.close_id is None:
            return intent_workflow_id(chain_id, self.quote_id)
        return position_workflow_id(chain_id, self.quote_id)


def parse_client_order_id(client_order_id: str) -> ParsedClientOrderId | None:
    """Parse an id made by this module; None for anything else (orders placed by hand, other bots)."""
    if m := _OPEN_RE.match(client_order_id):
        return ParsedClientOrderId(int(m["quote"]), int(m["n"]), None)
    if m := _CLOSE_RE.match(client_order_id):
        return ParsedClientOrderId(int(m["quote"]), int(m["n"]), int(m["close"]))
    return None


def _checked(client_order_id: str) -> str:
    if len(client_order_id) > MAX_CLIENT_ORDER_ID_LEN:
        raise ValueError(
            f"client order id {client_order_id!r} is longer than {MAX_CLIENT_ORDER_ID_LEN}"
        )
    return client_order_id
