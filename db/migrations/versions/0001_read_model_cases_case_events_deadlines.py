"""Read model: cases, case events, deadlines.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 17:54:23.222862
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "case_events",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_action"), ["action"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("stage_since", sa.Date(), nullable=False),
        sa.Column("procedure", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("pack_id", sa.String(length=32), nullable=False),
        sa.Column("pack_version", sa.String(length=16), nullable=False),
        sa.Column("pack_pinned", sa.Boolean(), nullable=False),
        sa.Column("unaccompanied_child", sa.Boolean(), nullable=False),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        sa.Column("legal_aid_org", sa.String(length=100), nullable=True),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("presumed_abandoned", sa.Boolean(), nullable=False),
        sa.Column("abandoned_since", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("overdue_since", sa.Date(), nullable=True),
        sa.Column("overdue_clock", sa.String(length=32), nullable=True),
        sa.Column("entitled_blocked", sa.Boolean(), nullable=False),
        sa.Column("labour_market_reached_on", sa.Date(), nullable=True),
        sa.Column("personal_id_issued", sa.Boolean(), nullable=False),
        sa.Column("next_deadline_due", sa.Date(), nullable=True),
        sa.Column("next_deadline_clock", sa.String(length=32), nullable=True),
        sa.Column("last_action_on", sa.Date(), nullable=False),
        sa.Column("last_contact_on", sa.Date(), nullable=False),
        sa.Column("identified_on", sa.Date(), nullable=False),
        sa.Column("lodged_on", sa.Date(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("subsequent", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_abandoned", ["presumed_abandoned", "abandoned_since"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cases_assignee"), ["assignee"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_decided_on"), ["decided_on"], unique=False)
        batch_op.create_index(
            "ix_cases_entitled_blocked",
            ["entitled_blocked", "labour_market_reached_on"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_cases_jurisdiction"), ["jurisdiction"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_lodged_on"), ["lodged_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cases_next_deadline_due"), ["next_deadline_due"], unique=False
        )
        batch_op.create_index(
            "ix_cases_org_next_due", ["legal_aid_org", "next_deadline_due"], unique=False
        )
        batch_op.create_index("ix_cases_overdue", ["overdue", "overdue_since"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_procedure"), ["procedure"], unique=False)
        batch_op.create_index("ix_cases_stage_since", ["stage", "stage_since"], unique=False)

    op.create_table(
        "deadlines",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("clock", sa.String(length=32), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("pack", sa.String(length=32), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "clock"),
    )
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.create_index("ix_deadlines_status_due", ["status", "due"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_deadlines_status_due")

    op.drop_table("deadlines")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_stage_since")
        batch_op.drop_index(batch_op.f("ix_cases_procedure"))
        batch_op.drop_index("ix_cases_overdue")
        batch_op.drop_index("ix_cases_org_next_due")
        batch_op.drop_index(batch_op.f("ix_cases_next_deadline_due"))
        batch_op.drop_index(batch_op.f("ix_cases_lodged_on"))
        batch_op.drop_index(batch_op.f("ix_cases_jurisdiction"))
        batch_op.drop_index("ix_cases_entitled_blocked")
        batch_op.drop_index(batch_op.f("ix_cases_decided_on"))
        batch_op.drop_index(batch_op.f("ix_cases_assignee"))
        batch_op.drop_index("ix_cases_abandoned")

    op.drop_table("cases")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_action"))

    op.drop_table("case_events")
