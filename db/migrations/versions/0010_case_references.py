"""Readable case references (`RS-2026-000123`) and the kind of each webhook delivery.

Existing cases get theirs in a fixed order: by family, year of identification, identification
date and case id, numbered from 1 in each family and year; the counters continue from there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "reference_counters",
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("family", "year"),
    )
    op.create_table(
        "case_references",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("case_references") as batch:
        batch.create_index("ix_case_references_reference", ["reference"], unique=True)
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=32), nullable=True))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=32), nullable=False, server_default="reminder")
        )
    _backfill()
    with op.batch_alter_table("cases") as batch:
        batch.create_index("ix_cases_reference", ["reference"], unique=True)


def _backfill() -> None:
    """Number the existing cases deterministically and record the counters' last numbers."""
    cases = sa.table(
        "cases",
        sa.column("id", sa.String),
        sa.column("jurisdiction", sa.String),
        sa.column("identified_on", sa.Date),
        sa.column("reference", sa.String),
    )
    references = sa.table(
        "case_references", sa.column("case_id", sa.String), sa.column("reference", sa.String)
    )
    counters = sa.table(
        "reference_counters",
        sa.column("family", sa.String),
        sa.column("year", sa.Integer),
        sa.column("last", sa.Integer),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(cases.c.id, cases.c.jurisdiction, cases.c.identified_on)).all()
    last: dict[tuple[str, int], int] = {}
    assigned: list[dict[str, str]] = []
    for case_id, family, identified_on in sorted(rows, key=lambda r: (r[1], r[2].year, r[2], r[0])):
        key = (family, identified_on.year)
        last[key] = last.get(key, 0) + 1
        reference = f"{family.upper()}-{identified_on.year:04d}-{last[key]:06d}"
        assigned.append({"case_id": case_id, "reference": reference})
    if assigned:
        bind.execute(sa.insert(references), assigned)
        bind.execute(
            sa.update(cases)
            .where(cases.c.id == sa.bindparam("b_id"))
            .values(reference=sa.bindparam("b_reference")),
            [{"b_id": a["case_id"], "b_reference": a["reference"]} for a in assigned],
        )
    if last:
        bind.execute(
            sa.insert(counters),
            [{"family": f, "year": y, "last": n} for (f, y), n in sorted(last.items())],
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_reference")
        batch.drop_column("reference")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("case_references") as batch:
        batch.drop_index("ix_case_references_reference")
    op.drop_table("case_references")
    op.drop_table("reference_counters")
