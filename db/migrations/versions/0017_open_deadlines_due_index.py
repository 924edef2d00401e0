"""An index on the open deadlines' due date, as one expression, for the legal-aid deadline list.

`ix_deadlines_open_due` indexes `CASE WHEN status IN ('running', 'paused') THEN due END`, and
`db.legal_aid.org_deadlines` filters with that very expression (`db.tables.cases.open_due`).
PostgreSQL keeps statistics on an expression index, so it estimates the open deadlines due by a
day from them; from the two columns' statistics it multiplied the selectivities as if
independent (open clocks are the future ones, most deadlines are due in the past), expected ten
times the rows at 1,000,000 cases, and hashed every case of a big organisation
(bench/RESULTS.md, "Issue 18, session 8"). Deadlines of other statuses are null in the index.
PostgreSQL only, as the model declares it: SQLite keeps no histogram for the expression and
planned the list worse with it, so it keeps filtering on the status and the due date.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Exactly the expression the model's index and the query compile to: PostgreSQL matches a
# query to an expression index (and to its statistics) by the expression's parsed form.
_OPEN_DUE = "(CASE WHEN (status IN ('running', 'paused')) THEN due END)"


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index("ix_deadlines_open_due", "deadlines", [sa.text(_OPEN_DUE)], unique=False)
    # The expression's statistics come with the table's next ANALYZE; until then the planner
    # would guess a third of all deadlines, worse than before the index.
    op.execute("ANALYZE deadlines")


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_deadlines_open_due", table_name="deadlines")
