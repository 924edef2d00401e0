"""Registry tables: written by the API, never projected from workflows.

The only place where personal data lives.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel


class PersonRecord(SQLModel, table=True):
    """The person behind a case. Personal data: never leaves SQL, never in a workflow or log."""

    __tablename__ = "persons"
    __table_args__ = (Index("ix_persons_dob", "date_of_birth"),)

    case_id: str = Field(primary_key=True, max_length=64)
    given_name: str = Field(max_length=200)
    family_name: str = Field(max_length=200)
    name_key: str = Field(max_length=400, description="Transliterated, lower-cased full name")
    date_of_birth: date | None = None
    nationality: str | None = Field(default=None, max_length=3)
    sex: str = Field(max_length=8)
    biometric_ref: str | None = Field(default=None, index=True, max_length=128)
    identified_at: str = Field(max_length=8)
    vulnerabilities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(index=True, max_length=100)
    created_at: datetime


class IdempotencyRecord(SQLModel, table=True):
    """A create request already answered: same key and body → the same case."""

    __tablename__ = "idempotency_keys"

    user_name: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=200)
    body_hash: str = Field(max_length=64)
    case_id: str = Field(max_length=64)
    created_at: datetime


class ReferenceCounterRecord(SQLModel, table=True):
    """The last case reference number handed out per family and year (never goes back)."""

    __tablename__ = "reference_counters"

    family: str = Field(primary_key=True, max_length=16)
    year: int = Field(primary_key=True)
    last: int = 0


class CaseReferenceRecord(SQLModel, table=True):
    """The readable reference given to a case when it was opened (`RS-2026-000123`).

    Written with the person, before the workflow starts, so a retried creation starts the
    workflow with the same reference; and the fallback for cases begun before references.
    """

    __tablename__ = "case_references"

    case_id: str = Field(primary_key=True, max_length=64)
    reference: str = Field(unique=True, index=True, max_length=32)


class DuplicateRecord(SQLModel, table=True):
    """A likely duplicate registration awaiting a supervisor's decision (never auto-merged)."""

    __tablename__ = "duplicates"
    __table_args__ = (Index("ix_duplicates_status", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=64)
    other_case_id: str = Field(index=True, max_length=64)
    score: float
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = None
    created_at: datetime
