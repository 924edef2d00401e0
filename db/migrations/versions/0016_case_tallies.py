"""Case tallies: cases counted by the columns lists and `/stats` count by, kept by triggers.

At 1,000,000 cases the stuck list's total and `/stats`' backlog counted 400,000 to 900,000 index
entries per request (bench/RESULTS.md, "Read model at 1,000,000 cases"). `case_tallies` holds
how many cases share each (jurisdiction, stage, procedure, pack, waiting for an interpreter,
overdue, month they entered the stage in); triggers on `cases` keep it in the transaction of
every insert, update and delete of a case row, whoever writes it, so a count becomes a sum over
a few thousand rows (plus, for a cutoff inside a month, that month's cases from the index).

On PostgreSQL the trigger touches the old combination and the new one in one order (the
smaller first): two cases moving between the same two combinations in opposite directions
never lock the two rows crosswise. A change that moves no case between combinations (most
writes: a clock settled, a contact) returns at once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CASE_KEY = ("jurisdiction", "stage", "procedure", "pack_id", "waiting_for_interpreter", "overdue")
_KEY = (*_CASE_KEY, "since_month")
# The primary key's order: a stage's months before a cutoff are one range of it.
_PRIMARY = (
    *("stage", "since_month", "jurisdiction", "procedure", "pack_id"),
    *("overdue", "waiting_for_interpreter"),
)
_COLUMNS = ", ".join(_KEY)
_PG_MONTH = "date_trunc('month', {}.stage_since)::date"
_SQLITE_MONTH = "date({}.stage_since, 'start of month')"


def _values(row: str, n: int, month: str = _PG_MONTH) -> str:
    return ", ".join([*(f"{row}.{c}" for c in _CASE_KEY), month.format(row), str(n)])


_PG_ADD = f"""
CREATE FUNCTION case_tallies_add(
    j varchar, s varchar, p varchar, k varchar, w boolean, o boolean, m date, d integer
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO case_tallies AS t ({_COLUMNS}, n) VALUES (j, s, p, k, w, o, m, d)
    ON CONFLICT ({_COLUMNS}) DO UPDATE SET n = t.n + excluded.n
$$
"""

_PG_FOLLOW = f"""
CREATE FUNCTION case_tallies_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM case_tallies_add({_values("NEW", 1)});
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM case_tallies_add({_values("OLD", -1)});
    ELSIF ({_values("OLD", 0)}) = ({_values("NEW", 0)}) THEN
        RETURN NULL;
    ELSIF ({_values("OLD", 0)}) < ({_values("NEW", 0)}) THEN
        PERFORM case_tallies_add({_values("OLD", -1)});
        PERFORM case_tallies_add({_values("NEW", 1)});
    ELSE
        PERFORM case_tallies_add({_values("NEW", 1)});
        PERFORM case_tallies_add({_values("OLD", -1)});
    END IF;
    RETURN NULL;
END
$$
"""

_PG_TRIGGER = """
CREATE TRIGGER case_tallies_follow AFTER INSERT OR UPDATE OR DELETE ON cases
FOR EACH ROW EXECUTE FUNCTION case_tallies_follow()
"""


def _sqlite_upsert(row: str, n: int) -> str:
    return (
        f"INSERT INTO case_tallies ({_COLUMNS}, n) VALUES ({_values(row, n, _SQLITE_MONTH)}) "
        f"ON CONFLICT ({_COLUMNS}) DO UPDATE SET n = n + excluded.n;"
    )


_SQLITE_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in (*_CASE_KEY, "stage_since"))

_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER case_tallies_insert AFTER INSERT ON cases BEGIN "
    f"{_sqlite_upsert('NEW', 1)} END",
    f"CREATE TRIGGER case_tallies_delete AFTER DELETE ON cases BEGIN "
    f"{_sqlite_upsert('OLD', -1)} END",
    f"CREATE TRIGGER case_tallies_update AFTER UPDATE ON cases WHEN {_SQLITE_CHANGED} BEGIN "
    f"{_sqlite_upsert('OLD', -1)} {_sqlite_upsert('NEW', 1)} END",
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "case_tallies",
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("procedure", sa.String(length=16), nullable=False),
        sa.Column("pack_id", sa.String(length=32), nullable=False),
        sa.Column("waiting_for_interpreter", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("since_month", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_PRIMARY),
    )
    # Filled from the cases as they stand, then kept: both in this migration's transaction,
    # so no write falls between the count and the triggers.
    postgresql = op.get_bind().dialect.name == "postgresql"
    month = (_PG_MONTH if postgresql else _SQLITE_MONTH).format("cases")
    key = ", ".join([*_CASE_KEY, month])
    op.execute(
        f"INSERT INTO case_tallies ({_COLUMNS}, n) SELECT {key}, count(*) FROM cases GROUP BY {key}"
    )
    # The stuck list's interpreter arm (issue #19) pages the few interviews waiting for an
    # interpreter; without an index of its own it read every scheduled interview's row to find
    # them (80,000 rows, 0.6 s at 1,000,000 cases).
    op.create_index(
        "ix_cases_waiting_for_interpreter",
        "cases",
        ["waiting_for_interpreter", "stage", "stage_since", "id"],
        unique=False,
    )
    if postgresql:
        for statement in (_PG_ADD, _PG_FOLLOW, _PG_TRIGGER):
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER case_tallies_follow ON cases")
        op.execute("DROP FUNCTION case_tallies_follow()")
        op.execute(
            "DROP FUNCTION case_tallies_add(varchar, varchar, varchar, varchar, boolean, "
            "boolean, date, integer)"
        )
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER case_tallies_{name}")
    op.drop_index("ix_cases_waiting_for_interpreter", table_name="cases")
    op.drop_table("case_tallies")
