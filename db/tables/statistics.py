"""Statistics: the dated facts `/stats` counts, and their rollup by day and month."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class CaseStatFactRecord(SQLModel, table=True):
    """One dated fact `/stats` counts (an application, a decision...), replayed from the events.

    Derived from `case_events` by `db.stat_facts.refresh_facts` whenever a case's
    replayed events change, so the statistics aggregate rows in SQL instead of replaying every
    case per request. `jurisdiction` is the case's (a case never changes jurisdiction).
    """

    __tablename__ = "case_stat_facts"
    # Indexes in the order `/stats` groups by (db/stats.py `flows`): counts by kind and key,
    # and processing days by procedure, each with and without a jurisdiction. The rows arrive
    # grouped, so no engine sorts them, and the date window is checked in the index (SQLite
    # skip-scans the few kinds and keys to a date range). Each holds every column the queries
    # read: a planner that picks another index than intended for a window (SQLite does,
    # after ANALYZE) still never reads the table.
    __table_args__ = (
        Index("ix_case_stat_facts_key", "kind", "key", "on", "jurisdiction", "procedure", "days"),
        Index("ix_case_stat_facts_days", "kind", "procedure", "days", "on", "jurisdiction"),
        Index(
            "ix_case_stat_facts_jurisdiction_key",
            "jurisdiction",
            "kind",
            "key",
            "on",
            "procedure",
            "days",
        ),
        Index(
            "ix_case_stat_facts_jurisdiction_days",
            "jurisdiction",
            "kind",
            "procedure",
            "days",
            "on",
        ),
    )

    case_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=16)
    jurisdiction: str | None = Field(default=None, max_length=16)
    key: str = Field(max_length=32)
    on: date
    days: int | None = None
    procedure: str | None = Field(default=None, max_length=16)


class CaseStatCountRecord(SQLModel, table=True):
    """`case_stat_facts` counted per jurisdiction, kind and key, by day and by month.

    `span` "d": `on` is the day; "m": `on` is the month's first day; `n` the facts counted.

    `/stats` reads the whole months of its window from the "m" rows and the days at its edges
    from the "d" rows: about a thousand rows at 100,000 cases, where the facts are 180,000.
    `db.stat_facts.refresh_facts` adds each case's change to them in the transaction
    that rewrites its facts; `jurisdiction` is "" for a case without a row. The primary key
    (span and date first) serves windows over every jurisdiction, the index one jurisdiction's.
    """

    __tablename__ = "case_stat_counts"
    __table_args__ = (
        Index("ix_case_stat_counts_jurisdiction", "jurisdiction", "span", "on", "kind", "key", "n"),
    )

    span: str = Field(primary_key=True, max_length=1)
    on: date = Field(primary_key=True)
    jurisdiction: str = Field(primary_key=True, max_length=16)
    kind: str = Field(primary_key=True, max_length=16)
    key: str = Field(primary_key=True, max_length=32)
    n: int


class CaseStatDaysRecord(SQLModel, table=True):
    """Decisions counted per jurisdiction, procedure and processing days, by day, month, ever.

    `span` "d": `on` is the day; "m": the month's first day; "a": of all time (`on` 0001-01-01).
    The histogram `/stats` reads its processing-time percentiles from, summed from the facts.
    The "a" rows answer `/stats` without a window (a few thousand rows: procedure by days);
    a window reads its whole months and edge days. Kept by `refresh_facts` like the counts.
    """

    __tablename__ = "case_stat_days"
    __table_args__ = (
        Index(
            "ix_case_stat_days_jurisdiction", "jurisdiction", "span", "on", "procedure", "days", "n"
        ),
    )

    span: str = Field(primary_key=True, max_length=1)
    on: date = Field(primary_key=True)
    jurisdiction: str = Field(primary_key=True, max_length=16)
    procedure: str = Field(primary_key=True, max_length=16)
    days: int = Field(primary_key=True)
    n: int
