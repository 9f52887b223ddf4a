"""validator_findings as the position validator records them

A finding is tracked across runs by `finding_key` (unique among open rows), with its quote ids,
symbol, message, first/last seen, how many consecutive runs saw it, and when it alerted. The
table was never written before this revision: its old rows (none) are dropped.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "validator_findings"


def upgrade() -> None:
    op.execute(f"DELETE FROM {TABLE}")
    string = sqlmodel.sql.sqltypes.AutoString
    op.add_column(TABLE, sa.Column("finding_key", string(length=200), nullable=False))
    op.add_column(TABLE, sa.Column("message", string(), nullable=False))
    op.add_column(TABLE, sa.Column("symbol", string(length=64), nullable=True))
    op.add_column(TABLE, sa.Column("quote_ids", sa.JSON(), nullable=False))
    op.add_column(TABLE, sa.Column("seen_runs", sa.Integer(), nullable=False))
    op.add_column(TABLE, sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False))
    op.add_column(TABLE, sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False))
    op.add_column(TABLE, sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "uq_validator_findings_open_key",
        TABLE,
        ["finding_key"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_validator_findings_open_key", table_name=TABLE)
    for column in (
        "alerted_at", "last_seen", "first_seen", "seen_runs", "quote_ids", "symbol", "message",
        "finding_key",
    ):  # fmt: skip
        op.drop_column(TABLE, column)
