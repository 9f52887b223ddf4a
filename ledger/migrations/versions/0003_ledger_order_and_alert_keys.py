"""ledger write order (ledger_seq) and alert dedupe keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ORDERED_TABLES = ("quotes", "broker_orders", "positions")


def upgrade() -> None:
    for table in ORDERED_TABLES:
        op.add_column(
            table, sa.Column("ledger_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.add_column("alerts", sa.Column("dedupe_key", sa.String(length=200), nullable=True))
    op.create_unique_constraint("uq_alerts_dedupe_key", "alerts", ["dedupe_key"])


def downgrade() -> None:
    op.drop_constraint("uq_alerts_dedupe_key", "alerts", type_="unique")
    op.drop_column("alerts", "dedupe_key")
    for table in ORDERED_TABLES:
        op.drop_column(table, "ledger_seq")
