"""chain_transactions becomes the mirror of the chain worker's local journal

`journal_seq` orders the mirror's upserts (an older status never overwrites a newer one);
`nonce` is nullable (a pre-flight revert consumes none); `status` widens for
`reverted_preflight`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chain_transactions", sa.Column("journal_seq", sa.BigInteger(), nullable=True))
    op.alter_column("chain_transactions", "nonce", existing_type=sa.BigInteger(), nullable=True)
    op.alter_column(
        "chain_transactions",
        "status",
        existing_type=sqlmodel.sql.sqltypes.AutoString(length=16),
        type_=sqlmodel.sql.sqltypes.AutoString(length=24),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.execute("DELETE FROM chain_transactions WHERE nonce IS NULL")
    op.alter_column(
        "chain_transactions",
        "status",
        existing_type=sqlmodel.sql.sqltypes.AutoString(length=24),
        type_=sqlmodel.sql.sqltypes.AutoString(length=16),
        existing_nullable=False,
    )
    op.alter_column("chain_transactions", "nonce", existing_type=sa.BigInteger(), nullable=False)
    op.drop_column("chain_transactions", "journal_seq")
