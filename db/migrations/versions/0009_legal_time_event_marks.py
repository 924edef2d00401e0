"""Legal time: history entries marked derived (by the engine) and retracted (by a later act).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DERIVED = (
    "deadline_expired",
    "entitlement_reached",
    "decision_final",
    "presumed_abandoned",
    "abandonment_lifted",
    "closed",
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("case_events") as batch:
        batch.add_column(
            sa.Column("derived", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("retracted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("retracted_by", sa.Integer(), nullable=True))
    # Entries projected before this revision: the engine's conclusions are recorded by `system`.
    events = sa.table(
        "case_events",
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("derived", sa.Boolean),
    )
    op.execute(
        events.update()
        .where(events.c.actor == "system", events.c.action.in_(_DERIVED))
        .values(derived=True)
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("case_events") as batch:
        batch.drop_column("retracted_by")
        batch.drop_column("retracted")
        batch.drop_column("derived")
