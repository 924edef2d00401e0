"""Registry: persons, users, idempotency keys, duplicates, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:07:45.364236
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_case", ["case_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_user_name"), ["user_name"], unique=False)

    op.create_table(
        "duplicates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("other_case_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("duplicates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duplicates_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_duplicates_other_case_id"), ["other_case_id"], unique=False
        )
        batch_op.create_index("ix_duplicates_status", ["status", "created_at"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_name", "key"),
    )
    op.create_table(
        "persons",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=400), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=True),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("biometric_ref", sa.String(length=128), nullable=True),
        sa.Column("identified_at", sa.String(length=8), nullable=False),
        sa.Column("vulnerabilities", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_persons_biometric_ref"), ["biometric_ref"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_persons_created_by"), ["created_by"], unique=False)
        batch_op.create_index("ix_persons_dob", ["date_of_birth"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("users")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index("ix_persons_dob")
        batch_op.drop_index(batch_op.f("ix_persons_created_by"))
        batch_op.drop_index(batch_op.f("ix_persons_biometric_ref"))

    op.drop_table("persons")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("duplicates", schema=None) as batch_op:
        batch_op.drop_index("ix_duplicates_status")
        batch_op.drop_index(batch_op.f("ix_duplicates_other_case_id"))
        batch_op.drop_index(batch_op.f("ix_duplicates_case_id"))

    op.drop_table("duplicates")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_user_name"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index("ix_audit_case")

    op.drop_table("audit_log")
