"""Deadlines carry their case's legal aid organisation, kept by triggers, indexed with it.

At 1,000,000 cases a big organisation's deadline list cost ~117 ms of CPU per request at 14 days
(bench/RESULTS.md, "Issue 18, session 8"): the deadlines did not say whose they were, so every
open deadline in the window, of every organisation, cost a probe of its case to find out. Now
`deadlines.legal_aid_org` holds the case's organisation and the list is one range of an index
on it (`db.legal_aid.org_deadlines`), exactly the organisation's rows; the case is read only
for the rows returned (its reference and `updated_at`).

Triggers keep the column equal to `cases.legal_aid_org` in the transaction of every write,
whoever writes (the projection, an import, a rebuild, a repair), as 0016's do for the tallies:
a deadline inserted without an organisation takes its case's (writers leave the column out;
the benchmark's seeder fills it itself, which skips the trigger's lookup); a case whose
organisation changes (`assign_legal_aid`) rewrites its deadlines'. Every writer writes the case
row before its deadlines (the projection upserts it first; the seeder copies cases first), so a
deadline always finds its case. (A trigger on inserted cases for deadlines written before them
was tried and dropped: one statement per inserted case made the seeder 1.5-3 times slower for
rows no writer makes.) Concurrent writers: the writer of a case's deadlines has written, and
so locked, the case row in its transaction before them (the projection's upsert), so a change of
the organisation in another transaction either came first (the lookup sees it) or waits for the
new deadlines and rewrites them. The lookup takes no lock of its own: `FOR SHARE` made the
seeder twice as slow (a lock written on each case row) for writers that do not exist.

The indexes: PostgreSQL `(legal_aid_org, open_due)` (`db.tables.cases.open_due`, statistics on
the expression as 0017's); SQLite `(legal_aid_org, status, due)`, which serves the open and the
lapsed lists (it keeps no statistics on an expression). 0017's `ix_deadlines_open_due` is
dropped: nothing else filters on the expression without an organisation, the new index keeps
the expression's statistics, and it would cost 17 MB and a write per deadline at 1,000,000
cases for nothing.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Exactly the expression the model's index and the query compile to (as in 0017).
_OPEN_DUE = "(CASE WHEN (status IN ('running', 'paused')) THEN due END)"

_PG_FILL = """
CREATE FUNCTION deadlines_org_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT legal_aid_org INTO NEW.legal_aid_org FROM cases WHERE id = NEW.case_id;
    RETURN NEW;
END
$$
"""

_PG_FOLLOW = """
CREATE FUNCTION deadlines_org_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- EXECUTE: planned for each call, with the table as it is. A static statement gets a
    -- cached generic plan per session; made while `deadlines` was small (a new database), it
    -- kept scanning the whole table for every case as the table grew (seen when this ran for
    -- each seeded case: 7,616 sequential scans for 20,000 cases).
    EXECUTE 'UPDATE deadlines SET legal_aid_org = $1 '
        'WHERE case_id = $2 AND legal_aid_org IS DISTINCT FROM $1'
        USING NEW.legal_aid_org, NEW.id;
    RETURN NULL;
END
$$
"""

_PG_TRIGGERS = (
    # WHEN in the trigger, not in the function: PostgreSQL tests it without calling PL/pgSQL,
    # so rows that come with their organisation (the seeder's COPY) cost nothing more.
    "CREATE TRIGGER deadlines_org_fill BEFORE INSERT ON deadlines FOR EACH ROW "
    "WHEN (NEW.legal_aid_org IS NULL) EXECUTE FUNCTION deadlines_org_fill()",
    "CREATE TRIGGER deadlines_org_follow AFTER UPDATE OF legal_aid_org ON cases FOR EACH ROW "
    "WHEN (OLD.legal_aid_org IS DISTINCT FROM NEW.legal_aid_org) "
    "EXECUTE FUNCTION deadlines_org_follow()",
)

_SQLITE_TRIGGERS = (
    # SQLite cannot change NEW: the inserted row is updated after, and only when its case has
    # an organisation (most deadlines of cases without one need no second write).
    "CREATE TRIGGER deadlines_org_fill AFTER INSERT ON deadlines "
    "WHEN NEW.legal_aid_org IS NULL AND EXISTS "
    "(SELECT 1 FROM cases WHERE id = NEW.case_id AND legal_aid_org IS NOT NULL) BEGIN "
    "UPDATE deadlines SET legal_aid_org = (SELECT legal_aid_org FROM cases WHERE id = NEW.case_id)"
    " WHERE case_id = NEW.case_id AND clock = NEW.clock; END",
    "CREATE TRIGGER deadlines_org_follow AFTER UPDATE OF legal_aid_org ON cases "
    "WHEN OLD.legal_aid_org IS NOT NEW.legal_aid_org BEGIN "
    "UPDATE deadlines SET legal_aid_org = NEW.legal_aid_org WHERE case_id = NEW.id; END",
)


def upgrade() -> None:
    """Apply this revision."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("deadlines", sa.Column("legal_aid_org", sa.String(length=100), nullable=True))
    # Filled from the cases as they stand, then kept: both in this migration's transaction, so
    # no write falls between the copy and the triggers. Only the deadlines of cases with an
    # organisation are written (the others stay null, as they should).
    if postgresql:
        op.execute(
            "UPDATE deadlines AS d SET legal_aid_org = c.legal_aid_org FROM cases AS c "
            "WHERE c.id = d.case_id AND c.legal_aid_org IS NOT NULL"
        )
        for statement in (_PG_FILL, _PG_FOLLOW, *_PG_TRIGGERS):
            op.execute(statement)
        # Built after the copy: one sort instead of an index entry per updated row.
        op.create_index(
            "ix_deadlines_org_open_due",
            "deadlines",
            [sa.text("legal_aid_org"), sa.text(_OPEN_DUE)],
            unique=False,
        )
        op.drop_index("ix_deadlines_open_due", table_name="deadlines")
        # The expression's statistics come with the table's next ANALYZE; until then the
        # planner would guess a third of the deadlines for it.
        op.execute("ANALYZE deadlines")
    else:
        op.execute(
            "UPDATE deadlines SET legal_aid_org = "
            "(SELECT legal_aid_org FROM cases WHERE cases.id = deadlines.case_id) "
            "WHERE case_id IN (SELECT id FROM cases WHERE legal_aid_org IS NOT NULL)"
        )
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
        op.create_index(
            "ix_deadlines_org_status_due",
            "deadlines",
            ["legal_aid_org", "status", "due"],
            unique=False,
        )


def downgrade() -> None:
    """Revert this revision."""
    for name, table in (
        ("deadlines_org_fill", "deadlines"),
        ("deadlines_org_follow", "cases"),
    ):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {name} ON {table}")
        else:
            op.execute(f"DROP TRIGGER {name}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION deadlines_org_fill()")
        op.execute("DROP FUNCTION deadlines_org_follow()")
        op.drop_index("ix_deadlines_org_open_due", table_name="deadlines")
        op.create_index("ix_deadlines_open_due", "deadlines", [sa.text(_OPEN_DUE)], unique=False)
        op.drop_column("deadlines", "legal_aid_org")
        op.execute("ANALYZE deadlines")
    else:
        op.drop_index("ix_deadlines_org_status_due", table_name="deadlines")
        op.drop_column("deadlines", "legal_aid_org")
