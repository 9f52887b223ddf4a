"""Every ledger table in one `metadata` (what the migrations describe)."""

from __future__ import annotations

from sqlmodel import SQLModel

from ledger import market_tables as _market_tables  # noqa: F401  (symbols, whitelist)
from ledger import models as _models  # noqa: F401  (quotes, orders, positions, ...)

metadata = SQLModel.metadata
