"""The hedger's ledger in Postgres (DESIGN §7).

Temporal is the source of truth for *progress*; these tables are the queryable record that the
API, the validator and operators read. Only activities write them, with idempotent upserts keyed
by the same deterministic identities the workflows use (quote id, client order id, tx hash,
event key). Money and sizes are NUMERIC(38, 18) mapped to `Decimal`, never float.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from ledger.columns import _amount, _ts


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class QuoteRecord(SQLModel, table=True):
    """One SYMMIO quote (intent) as the hedger saw it, and where its hedge stands."""

    __tablename__ = "quotes"

    chain_id: int = Field(primary_key=True)
    quote_id: int = Field(primary_key=True, sa_type=BigInteger)
    party_a: str = Field(index=True, max_length=42)
    party_b: str | None = Field(default=None, max_length=42)
    symbol_id: int
    symbol: str | None = Field(default=None, max_length=32)
    position_type: int
    order_type: int
    quantity: Decimal | None = _amount()
    requested_open_price: Decimal | None = _amount()
    market_price: Decimal | None = _amount()
    cva: Decimal | None = _amount()
    lf: Decimal | None = _amount()
    party_amm: Decimal | None = _amount()
    party_bmm: Decimal | None = _amount()
    trading_fee: Decimal | None = _amount()
    deadline: int = Field(sa_type=BigInteger)
    parent_id: int | None = Field(default=None, sa_type=BigInteger)
    chain_status: str = Field(max_length=24)
    hedge_status: str = Field(index=True, max_length=16)
    filled_amount: Decimal | None = _amount()
    opened_price: Decimal | None = _amount()
    closed_amount: Decimal | None = _amount()
    avg_closed_price: Decimal | None = _amount()
    last_error: str | None = None
    created_at: datetime = _ts()
    # Order of the write (the workflow that made it, then its own count): an older write never
    # overwrites a newer one. 0 = unordered.
    ledger_seq: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = _ts()


class QuoteDecision(SQLModel, table=True):
    """Why the policy accepted or rejected a quote (one row per decision taken)."""

    __tablename__ = "quote_decisions"

    id: int | None = Field(default=None, primary_key=True)
    chain_id: int
    quote_id: int = Field(sa_type=BigInteger, index=True)
    accepted: bool
    code: int | None = None
    reason: str
    created_at: datetime = _ts()


class BrokerOrder(SQLModel, table=True):
    """A broker order, recorded before it is sent, keyed by its deterministic client order id."""

    __tablename__ = "broker_orders"

    client_order_id: str = Field(primary_key=True, max_length=36)
    chain_id: int
    quote_id: int = Field(sa_type=BigInteger, index=True)
    close_id: int | None = Field(default=None, sa_type=BigInteger)
    symbol: str = Field(max_length=32)
    side: str = Field(max_length=4)
    order_type: str = Field(max_length=16)
    amount: Decimal | None = _amount(nullable=False)
    price: Decimal | None = _amount()
    reduce_only: bool = False
    status: str = Field(max_length=16)
    exchange_order_id: str | None = Field(default=None, max_length=64)
    filled: Decimal | None = _amount()
    average_price: Decimal | None = _amount()
    last_error: str | None = None
    created_at: datetime = _ts()
    # Order of the write (the workflow that made it, then its own count): an older write never
    # overwrites a newer one. 0 = unordered.
    ledger_seq: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = _ts()


class BrokerFill(SQLModel, table=True):
    __tablename__ = "broker_fills"

    trade_id: str = Field(primary_key=True, max_length=64)
    client_order_id: str = Field(index=True, max_length=36)
    price: Decimal | None = _amount(nullable=False)
    amount: Decimal | None = _amount(nullable=False)
    fee: Decimal | None = _amount()
    fee_asset: str | None = Field(default=None, max_length=16)
    filled_at: datetime = _ts()


class ChainTransaction(SQLModel, table=True):
    """A chain transaction: the Postgres mirror of the chain worker's local journal, where it was
    recorded (signer, nonce, hash) before its broadcast. A send the gas-estimate pre-flight
    refused is a row too: status `reverted_preflight`, no nonce, `tx_hash` = `preflight:<uuid>`."""

    __tablename__ = "chain_transactions"
    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash"),
        Index("ix_chain_transactions_signer_nonce", "chain_id", "signer", "nonce"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chain_id: int
    signer: str = Field(max_length=42)
    nonce: int | None = Field(default=None, sa_type=BigInteger)
    tx_hash: str = Field(max_length=66)
    action: str = Field(max_length=48)
    quote_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    # pending | mined | reverted | replaced | dropped | reverted_preflight
    status: str = Field(max_length=24)
    revert_reason: str | None = None
    gas_used: int | None = Field(default=None, sa_type=BigInteger)
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    # the local journal's order of this row's latest change: an older one never overwrites it
    journal_seq: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class PositionRecord(SQLModel, table=True):
    """An opened quote: what is open on chain and what hedges it on the broker."""

    __tablename__ = "positions"

    chain_id: int = Field(primary_key=True)
    quote_id: int = Field(primary_key=True, sa_type=BigInteger)
    party_a: str = Field(index=True, max_length=42)
    symbol: str = Field(max_length=32)
    position_type: int
    open_quantity: Decimal | None = _amount(nullable=False)
    opened_price: Decimal | None = _amount(nullable=False)
    broker_quantity: Decimal | None = _amount(nullable=False)
    chain_status: str = Field(max_length=24)
    hedge_status: str = Field(max_length=16)
    # Order of the write (the workflow that made it, then its own count): an older write never
    # overwrites a newer one. 0 = unordered.
    ledger_seq: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = _ts()


class ChainEvent(SQLModel, table=True):
    """Every SYMMIO event applied, keyed by (chain, block, tx, log index): the dedupe record."""

    __tablename__ = "chain_events"

    chain_id: int = Field(primary_key=True)
    block_number: int = Field(primary_key=True, sa_type=BigInteger)
    tx_hash: str = Field(primary_key=True, max_length=66)
    log_index: int = Field(primary_key=True)
    name: str = Field(max_length=48)
    quote_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    source: str = Field(max_length=16)  # ws | poll | subgraph
    payload: dict[str, Any] = _json()
    seen_at: datetime = _ts()


class ListenerCursor(SQLModel, table=True):
    __tablename__ = "listener_cursors"

    name: str = Field(primary_key=True, max_length=64)
    chain_id: int
    block_number: int = Field(sa_type=BigInteger)
    updated_at: datetime = _ts()


class ValidatorFinding(SQLModel, table=True):
    """A difference the position validator found between chain, broker and ledger
    (`domain.reconcile`). One row per occurrence: `finding_key` names the difference (kind and
    symbol, client order id or quote id) and is unique among open rows; a row is updated on
    every run that still sees it and gets `resolved_at` on the first run that does not."""

    __tablename__ = "validator_findings"
    __table_args__ = (
        Index(
            "uq_validator_findings_open_key",
            "finding_key",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    finding_key: str = Field(max_length=200)
    run_id: str = Field(max_length=64, index=True)  # the last validator run that saw it
    kind: str = Field(max_length=48)
    severity: str = Field(max_length=16)
    message: str = ""
    symbol: str | None = Field(default=None, max_length=64)
    quote_id: int | None = Field(default=None, sa_type=BigInteger)  # the first of `quote_ids`
    quote_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    detail: dict[str, Any] = _json()
    seen_runs: int = 1
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()
    alerted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = _ts()
    resolved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=48, index=True)
    severity: str = Field(max_length=16)
    message: str
    context: dict[str, Any] = _json()
    # The same condition raised again (a retried activity, a workflow replay) is one alert.
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    created_at: datetime = _ts()
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )


class Notification(SQLModel, table=True):
    """What the front-end's `/position-state` and `position-state-ws3` report (SYMMIO.md §5.1)."""

    __tablename__ = "notifications"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    quote_id: int = Field(sa_type=BigInteger, index=True)
    temp_quote_id: int | None = Field(default=None, sa_type=BigInteger)
    counterparty_address: str = Field(max_length=42, index=True)
    filled_amount_open: Decimal | None = _amount()
    filled_amount_close: Decimal | None = _amount()
    avg_price_open: Decimal | None = _amount()
    avg_price_close: Decimal | None = _amount()
    last_seen_action: str | None = Field(default=None, max_length=48)
    action_status: str = Field(max_length=8)  # seen | success | failed
    failure_type: str | None = Field(default=None, max_length=48)
    failure_message: str | None = None
    error_code: int | None = None
    state_type: str = Field(max_length=8)  # alert | report
    order_type: int | None = None
    create_time: int = Field(sa_type=BigInteger)
    modify_time: int = Field(sa_type=BigInteger)
    # the writing workflow's ledger order: one quote's notices of the same second stay in order
    ledger_seq: int = Field(default=0, sa_type=BigInteger)


class TradingStateRecord(SQLModel, table=True):
    """History of the global trading state (ACTIVE / REDUCE_ONLY / HALTED); the newest row rules."""

    __tablename__ = "trading_state"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=16)
    reason: str
    changed_by: str = Field(max_length=64)
    changed_at: datetime = _ts()
