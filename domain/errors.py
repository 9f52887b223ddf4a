"""Solver error codes served by the front-end API (`GET /error_codes`, SYMMIO.md §5.1).

Codes 4000–4105 follow the SYMMIO reference solver's published table (docs.symm.io "Solver
Error Codes"; SYMMIO.md §5.1) so existing front-ends show the expected text. The published table
is only partly known to us; the messages here are ours.

Codes 4200–4299 are **this hedger's own**, for policy reasons the published table has no code
for (unsupported symbol, not whitelisted, deadline too close, ...). They are stable: never
renumber a code, only add new ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType


class SolverErrorCode(IntEnum):
    # --- published SYMMIO solver codes ---
    PARTY_A_SOLVENCY_MARKET = 4000
    PARTY_B_SOLVENCY_OR_MAX_OPEN_INTEREST = 4001
    PARTY_A_SOLVENCY_QUOTE_LEFT = 4002
    PARTY_B_SOLVENCY_QUOTE_LEFT = 4003
    CLOSE_REJECTED_PARTY_A_SOLVENCY = 4004
    CLOSE_REJECTED_PARTY_B_SOLVENCY = 4005
    MARKET_ORDER_PLACEMENT_FAILED = 4006
    UNKNOWN_FAILURE = 4007
    ORDER_FAILED = 4008
    INSOLVENCY = 4011
    OVER_MAX_CAPACITY = 4012
    UNKNOWN_REJECT = 4101
    FORCE_CLOSE_BEFORE_CLOSE_REQUEST = 4103
    MARKET_MOVEMENT = 4104
    LOCKED_VALUES_OUT_OF_BOUNDS = 4105
    # --- this hedger's own codes ---
    SYMBOL_NOT_SUPPORTED = 4201
    NOT_WHITELISTED = 4202
    DEADLINE_TOO_CLOSE = 4203
    TRADING_NOT_ACTIVE = 4204
    INVALID_QUANTITY = 4205
    LEVERAGE_TOO_HIGH = 4206
    ORDER_TYPE_NOT_ACCEPTED = 4207
    INVALID_QUOTE_STATE = 4208
    NO_MARK_PRICE = 4209


_MESSAGES: dict[SolverErrorCode, str] = {
    SolverErrorCode.PARTY_A_SOLVENCY_MARKET: "Market order rejected: PartyA would not be solvent.",
    SolverErrorCode.PARTY_B_SOLVENCY_OR_MAX_OPEN_INTEREST: (
        "Quote rejected: hedger solvency or maximum open interest reached."
    ),
    SolverErrorCode.PARTY_A_SOLVENCY_QUOTE_LEFT: (
        "Hedger will not accept this quote (PartyA solvency); it is left for other hedgers."
    ),
    SolverErrorCode.PARTY_B_SOLVENCY_QUOTE_LEFT: (
        "Hedger will not accept this quote (hedger solvency); it is left for other hedgers."
    ),
    SolverErrorCode.CLOSE_REJECTED_PARTY_A_SOLVENCY: "Close request rejected: PartyA solvency.",
    SolverErrorCode.CLOSE_REJECTED_PARTY_B_SOLVENCY: "Close request rejected: hedger solvency.",
    SolverErrorCode.MARKET_ORDER_PLACEMENT_FAILED: "Placing the market order on the broker failed.",
    SolverErrorCode.UNKNOWN_FAILURE: "Unknown failure.",
    SolverErrorCode.ORDER_FAILED: "The hedge order failed.",
    SolverErrorCode.INSOLVENCY: "Rejected: insolvency.",
    SolverErrorCode.OVER_MAX_CAPACITY: "Rejected: over the hedger's maximum capacity for this symbol.",
    SolverErrorCode.UNKNOWN_REJECT: "Hedger will not accept this quote (unknown reason).",
    SolverErrorCode.FORCE_CLOSE_BEFORE_CLOSE_REQUEST: (
        "A force close happened before the close request was processed."
    ),
    SolverErrorCode.MARKET_MOVEMENT: "Rejected: the market moved beyond the requested price.",
    SolverErrorCode.LOCKED_VALUES_OUT_OF_BOUNDS: (
        "Rejected: locked values (cva, lf, mm) are outside the hedger's bounds."
    ),
    SolverErrorCode.SYMBOL_NOT_SUPPORTED: "Rejected: symbol not supported by this hedger.",
    SolverErrorCode.NOT_WHITELISTED: "Rejected: this hedger is not in the quote's PartyB whitelist.",
    SolverErrorCode.DEADLINE_TOO_CLOSE: "Rejected: the deadline leaves too little time to hedge.",
    SolverErrorCode.TRADING_NOT_ACTIVE: "Rejected: the hedger is not accepting new positions now.",
    SolverErrorCode.INVALID_QUANTITY: (
        "Rejected: quantity is below the minimum notional or not a multiple of the lot size."
    ),
    SolverErrorCode.LEVERAGE_TOO_HIGH: "Rejected: leverage above the hedger's maximum.",
    SolverErrorCode.ORDER_TYPE_NOT_ACCEPTED: "Rejected: order type not accepted for this symbol.",
    SolverErrorCode.INVALID_QUOTE_STATE: "Rejected: the quote is not in a state this action needs.",
    SolverErrorCode.NO_MARK_PRICE: "Rejected: no reliable market price is available now.",
}

assert set(_MESSAGES) == set(SolverErrorCode), "every code needs a message"

ERROR_CODES: Mapping[int, str] = MappingProxyType({int(c): _MESSAGES[c] for c in SolverErrorCode})


def message_for(code: int) -> str:
    """The stable message for a code; KeyError for an unknown code."""
    return ERROR_CODES[int(code)]


def error_codes_response() -> dict[str, str]:
    """Body of `GET /error_codes`: `{"<code>": "<message>", ...}` (keys are strings in JSON)."""
    return {str(code): msg for code, msg in sorted(ERROR_CODES.items())}


def error_code_response(code: int) -> dict[str, str] | None:
    """Body of `GET /error_codes/{code}`, or None (→ 404) for an unknown code."""
    msg = ERROR_CODES.get(int(code))
    return None if msg is None else {str(int(code)): msg}
