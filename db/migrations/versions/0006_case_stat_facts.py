"""Statistics facts, and indexes the supervision and statistics queries read alone.

Creates `case_stat_facts` (what `/stats` counts, replayed per case at projection time) with
covering indexes in the order the statistics group by, and fills it for the cases already in
the read model from their `case_events`.

Extends seven `cases` indexes. Stuck cases are paged per stage through (stage, stage_since,
id), alone or after the jurisdiction, assignee or procedure a list is filtered on; the
jurisdiction's also ends with `overdue`, for `/stats?jurisdiction=`'s overdue count. The
overdue, abandoned and entitled-but-blocked totals (and `/stats`' overdue count) check the
stage in their index. None of these queries visits the table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACT_INDEXES = {
    "ix_case_stat_facts_key": ["kind", "key", "on", "jurisdiction", "procedure", "days"],
    "ix_case_stat_facts_days": ["kind", "procedure", "days", "on", "jurisdiction"],
    "ix_case_stat_facts_jurisdiction_key": [
        "jurisdiction",
        "kind",
        "key",
        "on",
        "procedure",
        "days",
    ],
    "ix_case_stat_facts_jurisdiction_days": ["jurisdiction", "kind", "procedure", "days", "on"],
}

CASE_INDEXES = {
    # name: (columns before, columns after)
    "ix_cases_stage_since": (["stage", "stage_since"], ["stage", "stage_since", "id"]),
    "ix_cases_overdue": (["overdue", "overdue_since"], ["overdue", "overdue_since", "stage"]),
    "ix_cases_abandoned": (
        ["presumed_abandoned", "abandoned_since"],
        ["presumed_abandoned", "abandoned_since", "stage"],
    ),
    "ix_cases_entitled_blocked": (
        ["entitled_blocked", "labour_market_reached_on"],
        ["entitled_blocked", "labour_market_reached_on", "stage"],
    ),
    "ix_cases_jurisdiction_stage": (
        ["jurisdiction", "stage"],
        ["jurisdiction", "stage", "stage_since", "id", "overdue"],
    ),
    "ix_cases_assignee": (["assignee"], ["assignee", "stage", "stage_since", "id"]),
    "ix_cases_procedure": (["procedure"], ["procedure", "stage", "stage_since", "id"]),
}


def _case_indexes(which: int) -> None:
    # Plain DROP/CREATE INDEX: batch mode would copy the whole table on SQLite for nothing.
    for name, columns in CASE_INDEXES.items():
        op.drop_index(name, table_name="cases")
        op.create_index(name, "cases", columns[which], unique=False)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "case_stat_facts",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=True),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("procedure", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("case_id", "seq", "kind"),
    )
    # The replay is the application's (a migration cannot express it in SQL); the facts are a
    # cache of it, so a later change to the replay recomputes them with `backfill` again.
    # Filled before the indexes exist: one index build is cheaper than index upkeep per row.
    from db.stat_facts import backfill

    backfill(op.get_bind())
    for name, columns in FACT_INDEXES.items():
        op.create_index(name, "case_stat_facts", columns, unique=False)
    _case_indexes(1)


def downgrade() -> None:
    """Revert this revision."""
    _case_indexes(0)
    for name in FACT_INDEXES:
        op.drop_index(name, table_name="case_stat_facts")
    op.drop_table("case_stat_facts")
