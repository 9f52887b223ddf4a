"""What the front-end API serves that the ledger proper lacks: symbols and the PartyA whitelist.

`symbols` holds, per SYMMIO symbol, the contract's values (`getSymbol`, decimals removed), the
hedger's policy for it (precisions, broker market, notional limits, fees, locked-parameter
percentages per leverage tier) and the latest market data (mark price, 24 h change and volume,
next funding). A market-data job or an operator keeps it current; the API only reads it.
Money, sizes, rates and percentages are NUMERIC(38, 18) mapped to `Decimal`, never float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Numeric
from sqlmodel import Field, SQLModel

from ledger.columns import _amount, _ts


def _required_amount(default: Decimal) -> Decimal:
    return Field(  # type: ignore[no-any-return]
        default=default, sa_column=Column(Numeric(38, 18), nullable=False)
    )


class SymbolRecord(SQLModel, table=True):
    """One SYMMIO symbol: contract values, hedger policy and latest market data."""

    __tablename__ = "symbols"

    symbol_id: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    name: str = Field(max_length=32, unique=True, index=True)  # e.g. "BTCUSDT"
    symbol: str = Field(max_length=16)  # base, e.g. "BTC"
    asset: str = Field(max_length=16)  # quote/settle, e.g. "USDT"
    # --- contract values (getSymbol, decimals removed) ---
    is_valid: bool = True
    min_acceptable_quote_value: Decimal = _required_amount(Decimal(0))
    min_acceptable_portion_lf: Decimal = _required_amount(Decimal(0))
    trading_fee: Decimal = _required_amount(Decimal(0))
    max_leverage: int = 1
    funding_rate_epoch_duration: int = Field(default=0, sa_type=BigInteger)  # seconds
    funding_rate_window_time: int = Field(default=0, sa_type=BigInteger)  # seconds
    # --- hedger policy ---
    price_precision: int = 2
    quantity_precision: int = 3
    broker_market: str | None = Field(default=None, max_length=32)  # ccxt symbol
    max_notional_value: Decimal = _required_amount(Decimal(0))  # notional cap for the symbol
    min_notional_value: Decimal = _required_amount(Decimal(0))
    max_quantity: Decimal | None = _amount()
    lot_size: Decimal = _required_amount(Decimal(0))
    max_funding_rate: Decimal = _required_amount(Decimal(0))
    hedger_fee_open: Decimal = _required_amount(Decimal(0))
    hedger_fee_close: Decimal = _required_amount(Decimal(0))
    rfq_allowed: bool = True
    # --- latest market data ---
    mark_price: Decimal | None = _amount()
    price_change_percent: Decimal | None = _amount()
    trade_volume: Decimal | None = _amount()
    next_funding_time: int | None = Field(default=None, sa_type=BigInteger)  # ms
    next_funding_rate_long: Decimal | None = _amount()
    next_funding_rate_short: Decimal | None = _amount()
    updated_at: datetime = _ts()


class SymbolLockedParams(SQLModel, table=True):
    """`/get_locked_params` percentages for leverages up to `max_leverage` (a tier).

    For a requested leverage L the tier with the smallest `max_leverage >= L` applies; no tier
    means L is not offered. The front-end computes `x = notional × pct / (100 × L)` for cva, lf
    and partyAmm, and `partyBmm = notional × pct / 100`.
    """

    __tablename__ = "symbol_locked_params"

    symbol_id: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    max_leverage: Decimal = Field(sa_column=Column(Numeric(38, 18), primary_key=True))
    cva_pct: Decimal = _required_amount(Decimal(0))
    lf_pct: Decimal = _required_amount(Decimal(0))
    party_amm_pct: Decimal = _required_amount(Decimal(0))
    party_bmm_pct: Decimal = _required_amount(Decimal(0))
    updated_at: datetime = _ts()


class WhitelistEntry(SQLModel, table=True):
    """A sub-account (PartyA) of a MultiAccount that the hedger will quote for (lower-case hex)."""

    __tablename__ = "whitelist"

    sub_account: str = Field(primary_key=True, max_length=42)
    multi_account: str = Field(primary_key=True, max_length=42)
    created_at: datetime = _ts()
