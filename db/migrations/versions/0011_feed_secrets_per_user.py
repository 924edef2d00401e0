"""Calendar feed secrets per user, not per organisation.

One secret per org outlived a revoked member, and any member's rotation cut off every
colleague's calendar. A secret now belongs to one legal aid user: revoking the user revokes
the feed, and rotating it leaves colleagues' feeds alone. The org-wide secrets are dropped
(their holders cannot be known): each member makes a new one with `POST /legal-aid/feed-secret`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "user_feed_secrets",
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_name"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.drop_table("feed_secrets")


def downgrade() -> None:
    """Revert this revision (the per-user secrets are lost: org secrets start empty)."""
    op.create_table(
        "feed_secrets",
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.drop_table("user_feed_secrets")
