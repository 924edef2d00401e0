"""UI sign-in tickets in the database, so any API process can redeem one another issued.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ui_tickets",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.String(length=400), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_ui_tickets_expires_at", "ui_tickets", ["expires_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_ui_tickets_expires_at", table_name="ui_tickets")
    op.drop_table("ui_tickets")
