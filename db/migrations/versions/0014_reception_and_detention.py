"""Reception centres, detention orders (grounds sealed) and the case row's reception and detention.

Issue #19 (protection track b). The lead re-chains migrations from parallel branches on merge.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "reception_centres",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_reception_centres_jurisdiction", "reception_centres", ["jurisdiction"], unique=False
    )
    op.create_table(
        "detention_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("ordered_on", sa.Date(), nullable=False),
        sa.Column("alternative", sa.Boolean(), nullable=False),
        sa.Column("ground", sa.String(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_detention_orders_case_id", "detention_orders", ["case_id"], unique=False)
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("accommodation_centre", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("accommodated_since", sa.Date(), nullable=True))
        batch.add_column(sa.Column("detention", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("detention_since", sa.Date(), nullable=True))
        batch.create_index("ix_cases_accommodation_centre", ["accommodation_centre"])
        batch.create_index("ix_cases_detention", ["detention"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_detention")
        batch.drop_index("ix_cases_accommodation_centre")
        batch.drop_column("detention_since")
        batch.drop_column("detention")
        batch.drop_column("accommodated_since")
        batch.drop_column("accommodation_centre")
    op.drop_index("ix_detention_orders_case_id", table_name="detention_orders")
    op.drop_table("detention_orders")
    op.drop_index("ix_reception_centres_jurisdiction", table_name="reception_centres")
    op.drop_table("reception_centres")
