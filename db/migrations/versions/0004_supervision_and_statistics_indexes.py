"""Supervision and statistics indexes.

`/stats?from=&to=` finds the cases with a counted event in the window through (action, on);
the backlog per stage within a jurisdiction is answered from (jurisdiction, stage) alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:38:52.138972
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_action_on", ["action", "on"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_jurisdiction_stage", ["jurisdiction", "stage"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_jurisdiction_stage")

    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index("ix_case_events_action_on")
