"""notifications carry their workflow's write order (ledger_seq)

One quote's notifications written within the same second (seen, locked, hedged, opened on a
fast chain) are served to the front-end in the order the workflow wrote them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("notifications", "ledger_seq")
