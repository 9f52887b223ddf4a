"""Column helpers every ledger table uses: exact amounts, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Numeric
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def _amount(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Numeric(38, 18), nullable=nullable))


def _ts() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
