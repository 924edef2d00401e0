"""Projection intents: changes the API sent and has not yet written to the read model.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "projection_intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("projection_intents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_projection_intents_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_projection_intents_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("projection_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projection_intents_created_at"))
        batch_op.drop_index(batch_op.f("ix_projection_intents_case_id"))
    op.drop_table("projection_intents")
