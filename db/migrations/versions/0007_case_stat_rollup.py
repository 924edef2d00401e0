"""Statistics rollup: the facts summed by day and month, so `/stats` reads a few thousand rows.

Creates `case_stat_counts` (facts per jurisdiction, kind and key, by day and by month) and
`case_stat_days` (decisions per jurisdiction, procedure and processing days, by day, by month
and of all time), and fills both from the `case_stat_facts` already stored. From here on
`db.stat_facts.refresh_facts` adds each case's change to them as it rewrites its facts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "case_stat_counts",
        sa.Column("span", sa.String(length=1), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("span", "on", "jurisdiction", "kind", "key"),
    )
    op.create_table(
        "case_stat_days",
        sa.Column("span", sa.String(length=1), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("procedure", sa.String(length=16), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("span", "on", "jurisdiction", "procedure", "days"),
    )
    # Summed by the application's code (the month of a date has no portable SQL), from the
    # stored facts; filled before the secondary indexes exist, which are then built once.
    from db.stat_facts import rebuild_rollup

    rebuild_rollup(op.get_bind())
    op.create_index(
        "ix_case_stat_counts_jurisdiction",
        "case_stat_counts",
        ["jurisdiction", "span", "on", "kind", "key", "n"],
        unique=False,
    )
    op.create_index(
        "ix_case_stat_days_jurisdiction",
        "case_stat_days",
        ["jurisdiction", "span", "on", "procedure", "days", "n"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_case_stat_days_jurisdiction", table_name="case_stat_days")
    op.drop_index("ix_case_stat_counts_jurisdiction", table_name="case_stat_counts")
    op.drop_table("case_stat_days")
    op.drop_table("case_stat_counts")
