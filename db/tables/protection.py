"""Protection tables (issue #19): the interpreter pool, and the detail of protection acts.

The detail is special-category data and never enters a workflow.

`ProtectionDetailRecord.detail` holds what the act's `detail` field said (a referral's
medical reason, an age assessment's method and findings, a vulnerability's description),
sealed with `core/sealed.py` where a key is set; the workflow only has the act's flags.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel


class InterpreterRecord(SQLModel, table=True):
    """An interpreter of the pool: the languages they interpret and whether they are available."""

    __tablename__ = "interpreters"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    available: bool = True
    created_by: str = Field(max_length=100)
    created_at: datetime


class ProtectionDetailRecord(SQLModel, table=True):
    """The sealed detail of one protection act of a case (none is kept without detail)."""

    __tablename__ = "protection_details"
    __table_args__ = (Index("ix_protection_details_case", "case_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=64)
    seq: int | None = Field(default=None, description="The act's seq in the case's history")
    action: str = Field(max_length=64)
    referral: int | None = Field(default=None, description="The referral it answers, if any")
    detail: str = Field(sa_column=Column(Text, nullable=False))
    """Sealed (`sealed:v1:...`) where ASYLUMFLOW_ENCRYPTION_KEY is set, else as given."""
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime
