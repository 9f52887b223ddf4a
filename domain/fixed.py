"""Exact conversions between `Decimal` and SYMMIO's 18-decimal fixed point, and step rounding.

Every amount on chain (quantities, prices, locked values, fees) is a uint256 scaled by 1e18.
These helpers never go through float and never round silently: a value with more than 18
decimals is a `ValueError`, not a truncation. Rounding is always explicit (`round_down_to_step`,
`round_up_to_step`, `to_chain_precision`).

All arithmetic is done on the integer digits of the Decimal (via `as_tuple()`), so the result
does not depend on the ambient `decimal` context precision (28 digits by default, which a
uint256 with 18 decimals can exceed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalTuple,
    localcontext,
)
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

DECIMALS = 18
WAD = 10**DECIMALS
UINT256_MAX = 2**256 - 1
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1
CHAIN_QUANTUM = Decimal((0, (1,), -DECIMALS))  # 1e-18, the smallest on-chain step


# 160 significant digits: sums, differences and products of 18-decimal uint256 values (at most
# 78 digits each) are exact; only true divisions round, far below the 18th decimal.
EXACT_CONTEXT = Context(prec=160, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)


def exact(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `fn` under `EXACT_CONTEXT`, whatever the caller's decimal context.

    Python's default context keeps 28 significant digits, so `a - b` on two 18-decimal values
    with more than 10 integer digits would silently round. Every domain function that does
    Decimal arithmetic on money or sizes is wrapped with this.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with localcontext(EXACT_CONTEXT):
            return fn(*args, **kwargs)

    return wrapper


def _require_decimal(value: object, name: str = "value") -> Decimal:
    # bool is an int subclass and float is inexact: both are rejected on purpose.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal or int, not {type(value).__name__}")
    dec = Decimal(value) if isinstance(value, int) else value
    if not dec.is_finite():
        raise ValueError(f"{name} must be finite, got {dec}")
    return dec


def _scaled_int(value: Decimal, decimals: int) -> int:
    """`value * 10**decimals` as an exact int; ValueError if that is not an integer."""
    t: DecimalTuple = value.as_tuple()
    assert isinstance(t.exponent, int)  # finite checked by the caller
    digits = int("".join(map(str, t.digits))) if t.digits else 0
    shift = t.exponent + decimals
    if shift >= 0:
        result: int = digits * pow(10, shift)
    else:
        div: int = pow(10, -shift)
        if digits % div:
            raise ValueError(
                f"{value} has more than {decimals} decimals and cannot be represented exactly"
            )
        result = digits // div
    return -result if t.sign else result


def to_wei18(value: Decimal | int, *, signed: bool = False) -> int:
    """Decimal → 18-decimal fixed-point integer, exactly.

    `signed=False` (default) checks the uint256 range (quantities, prices, locked values);
    `signed=True` checks the int256 range (uPnL, funding rates).
    Raises ValueError if the value has more than 18 decimals or is out of range, and TypeError
    for floats/bools.
    """
    dec = _require_decimal(value)
    wei = _scaled_int(dec, DECIMALS)
    if signed:
        if not INT256_MIN <= wei <= INT256_MAX:
            raise ValueError(f"{value} is outside the int256 range once scaled by 1e18")
    elif not 0 <= wei <= UINT256_MAX:
        raise ValueError(f"{value} is outside the uint256 range once scaled by 1e18")
    return wei


def from_wei18(wei: int) -> Decimal:
    """18-decimal fixed-point integer → Decimal, exactly, with trailing zeros stripped.

    `from_wei18(10**18) == Decimal("1")` and `str()` gives `"1"`, not `"1.000000000000000000"`.
    """
    if isinstance(wei, bool) or not isinstance(wei, int):
        raise TypeError(f"wei must be an int, not {type(wei).__name__}")
    if wei == 0:
        return Decimal(0)
    sign = 1 if wei < 0 else 0
    digits = str(abs(wei))
    exponent = -DECIMALS
    while exponent < 0 and digits.endswith("0"):
        digits = digits[:-1]
        exponent += 1
    return Decimal((sign, tuple(int(c) for c in digits), exponent))


def is_chain_exact(value: Decimal) -> bool:
    """True if `value` has at most 18 decimals (representable on chain without rounding)."""
    try:
        _scaled_int(_require_decimal(value), DECIMALS)
    except ValueError:
        return False
    return True


def _check_step(step: Decimal) -> Decimal:
    step = _require_decimal(step, "step")
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    return step


def _steps_floor(value: Decimal, step: Decimal) -> int:
    """floor(value / step) computed exactly on integers."""
    exp = max(_decimals_of(value), _decimals_of(step))
    v = _scaled_int(value, exp)
    s = _scaled_int(step, exp)
    return v // s  # Python floor division: exact, floors toward -inf


def _decimals_of(value: Decimal) -> int:
    t = value.as_tuple()
    assert isinstance(t.exponent, int)
    return max(0, -t.exponent)


def _times(n: int, step: Decimal) -> Decimal:
    """n * step exactly (independent of the decimal context)."""
    t = step.as_tuple()
    assert isinstance(t.exponent, int)
    digits = int("".join(map(str, t.digits))) * n
    sign = 1 if digits < 0 else 0
    return Decimal((sign, tuple(int(c) for c in str(abs(digits))), t.exponent))


def round_down_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of `step` that is <= `value` (floor), exact."""
    value = _require_decimal(value)
    step = _check_step(step)
    return _times(_steps_floor(value, step), step)


def round_up_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of `step` that is >= `value` (ceiling), exact."""
    value = _require_decimal(value)
    step = _check_step(step)
    return _times(-_steps_floor(value.copy_negate(), step), step)


def is_multiple_of_step(value: Decimal, step: Decimal) -> bool:
    return round_down_to_step(value, step) == value


def to_chain_precision(value: Decimal, *, round_up: bool = False) -> Decimal:
    """Round to 18 decimals (down by default), so the result converts with `to_wei18`."""
    if round_up:
        return round_up_to_step(value, CHAIN_QUANTUM)
    return round_down_to_step(value, CHAIN_QUANTUM)


def mul_div_down(a: Decimal, b: Decimal, c: Decimal) -> Decimal:
    """`a * b / c` rounded down to 18 decimals, as Solidity's `a * b / c` on 1e18 ints does.

    Exact for non-negative inputs: computed on the wei integers.
    """
    wa, wb, wc = to_wei18(a, signed=True), to_wei18(b, signed=True), to_wei18(c, signed=True)
    if wc == 0:
        raise ZeroDivisionError("mul_div_down by zero")
    num = wa * wb
    q = num // wc
    return from_wei18(q)
