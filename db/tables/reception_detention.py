"""Reception and detention tables (issue #19): written by the API, never projected.

Reception centres are reference data (an admin or a supervisor keeps them); a detention order's
ground is special-category data, sealed (`core.sealed`) where a key is set, and never reaches a
workflow. Occupancy and the detained list come from the `cases` row (projected from the
workflows), not from here.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel


class ReceptionCentreRecord(SQLModel, table=True):
    """A reception centre and its capacity (places)."""

    __tablename__ = "reception_centres"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    jurisdiction: str = Field(index=True, max_length=16)
    capacity: int = Field(ge=0)
    updated_by: str = Field(max_length=100)
    updated_at: datetime


class DetentionOrderRecord(SQLModel, table=True):
    """A detention order's ground, kept out of the workflow: sealed where a key is set."""

    __tablename__ = "detention_orders"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=64)
    ordered_on: date
    alternative: bool = False
    ground: str = Field(description="`core.sealed.seal(ground, 'detention_orders.ground')`")
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime
