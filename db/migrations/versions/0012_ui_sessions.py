"""Dashboard sessions in the database: the cookie holds a random session id, not the token.

Any API process serves a session another one started; idle and absolute expiry are checked
against `last_seen_at` and `created_at`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ui_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_ui_sessions_user_id", "ui_sessions", ["user_id"], unique=False)
    op.create_index("ix_ui_sessions_last_seen_at", "ui_sessions", ["last_seen_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_ui_sessions_last_seen_at", table_name="ui_sessions")
    op.drop_index("ix_ui_sessions_user_id", table_name="ui_sessions")
    op.drop_table("ui_sessions")
