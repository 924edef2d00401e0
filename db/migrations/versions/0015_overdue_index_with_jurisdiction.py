"""The overdue index carries the jurisdiction: `/stats?jurisdiction=` counts overdue cases from it.

At 1,000,000 cases PostgreSQL counted a jurisdiction's overdue cases by reading every overdue
case's row for its jurisdiction (a bitmap heap scan over the whole `cases` table, 20,000 pages);
with the jurisdiction in the index the count is an index-only scan (bench/RESULTS.md, "Read
model at 1,000,000 cases"). The supervision overdue list filtered by jurisdiction gains the same.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 03:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ["overdue", "overdue_since", "stage"]
_AFTER = [*_BEFORE, "jurisdiction"]


def _overdue_index(columns: list[str]) -> None:
    # Plain DROP/CREATE INDEX: batch mode would copy the whole table on SQLite for nothing.
    op.drop_index("ix_cases_overdue", table_name="cases")
    op.create_index("ix_cases_overdue", "cases", columns, unique=False)


def upgrade() -> None:
    """Apply this revision."""
    _overdue_index(_AFTER)


def downgrade() -> None:
    """Revert this revision."""
    _overdue_index(_BEFORE)
