"""The read model's case tables: cases, their events and deadlines, and projection intents.

Projected from the case workflows (`db.projection`); intents are written by the API (`db.intents`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel, col


class CaseRecord(SQLModel, table=True):
    """One row per case: what lists and supervision queries filter and sort on."""

    __tablename__ = "cases"
    __table_args__ = (
        # Stuck: each stage's page is one ordered range, ties by id included (api/supervision),
        # also within one of the list filters.
        Index("ix_cases_stage_since", "stage", "stage_since", "id"),
        Index("ix_cases_assignee", "assignee", "stage", "stage_since", "id"),
        Index("ix_cases_procedure", "procedure", "stage", "stage_since", "id"),
        # The supervision lists page by (flag, since); with the stage, their totals (open cases
        # only) and `/stats`' overdue count are read from the index alone (the overdue count
        # within a jurisdiction too: issue 18, 1,000,000 cases).
        Index("ix_cases_overdue", "overdue", "overdue_since", "stage", "jurisdiction"),
        Index("ix_cases_abandoned", "presumed_abandoned", "abandoned_since", "stage"),
        Index("ix_cases_entitled_blocked", "entitled_blocked", "labour_market_reached_on", "stage"),
        Index("ix_cases_org_next_due", "legal_aid_org", "next_deadline_due"),
        # The same within a jurisdiction; with `overdue`, the backlog within it and its overdue
        # count (`/stats?jurisdiction=`) from the index alone.
        Index(
            "ix_cases_jurisdiction_stage", "jurisdiction", "stage", "stage_since", "id", "overdue"
        ),
        # The stuck list's interpreter arm (issue #19): the few waiting interviews, in order.
        Index(
            "ix_cases_waiting_for_interpreter",
            "waiting_for_interpreter",
            "stage",
            "stage_since",
            "id",
        ),
    )

    id: str = Field(primary_key=True, max_length=64)
    reference: str | None = Field(default=None, unique=True, index=True, max_length=32)
    """Readable and never reused (`RS-2026-000123`); null only for a case begun before
    references whose row was rebuilt without its registry entry."""
    jurisdiction: str = Field(index=True, max_length=16)
    stage: str = Field(max_length=32)
    stage_since: date
    procedure: str = Field(max_length=16)
    outcome: str | None = Field(default=None, max_length=32)
    final: bool = False
    pack_id: str = Field(max_length=32)
    pack_version: str = Field(max_length=16)
    pack_pinned: bool = False
    unaccompanied_child: bool = False
    vulnerable: bool = False
    legal_aid_org: str | None = Field(default=None, max_length=100)
    assignee: str | None = Field(default=None, max_length=100)
    presumed_abandoned: bool = False
    abandoned_since: date | None = None
    overdue: bool = False
    overdue_since: date | None = None
    overdue_clock: str | None = Field(default=None, max_length=32)
    entitled_blocked: bool = False
    labour_market_reached_on: date | None = None
    personal_id_issued: bool = False
    next_deadline_due: date | None = Field(default=None, index=True)
    next_deadline_clock: str | None = Field(default=None, max_length=32)
    last_action_on: date
    last_contact_on: date
    identified_on: date
    lodged_on: date | None = Field(default=None, index=True)
    decided_on: date | None = Field(default=None, index=True)
    subsequent: bool = False
    # Protection track (issue #19): an interview scheduled in a language with no interpreter
    # (a stuck reason of its own; the dev server's Bool search attributes are all used).
    waiting_for_interpreter: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )
    last_seq: int = 0
    updated_at: datetime
    # Issue #19 (protection track b): reception and detention, as the workflow knows them
    # (a centre id and a kind of detention; the ground stays in `detention_orders`).
    accommodation_centre: str | None = Field(default=None, index=True, max_length=64)
    accommodated_since: date | None = None
    detention: str | None = Field(default=None, index=True, max_length=16)
    detention_since: date | None = None


class CaseTallyRecord(SQLModel, table=True):
    """How many cases share one combination of the columns lists and `/stats` count by.

    With the month they entered their stage in: the stuck list's cutoffs are days.

    Kept by triggers on `cases` (migration 0016), in the transaction of every write of a case
    row, whoever writes it (projection, import, rebuild, a repair): a count of open cases by
    stage, or of a list's total, becomes a sum over a few thousand rows instead of a count of
    hundreds of thousands of index entries (issue 18, 1,000,000 cases). A combination no case
    has any more keeps its row at 0 (one statement fewer per change; there are few).
    """

    __tablename__ = "case_tallies"

    # The primary key's order: a stage's months before a cutoff are one range of it.
    stage: str = Field(primary_key=True, max_length=32)
    since_month: date = Field(primary_key=True)
    """The first day of the month of `stage_since`: a cutoff day splits one month's cases only."""
    jurisdiction: str = Field(primary_key=True, max_length=16)
    procedure: str = Field(primary_key=True, max_length=16)
    pack_id: str = Field(primary_key=True, max_length=32)
    overdue: bool = Field(primary_key=True)
    waiting_for_interpreter: bool = Field(primary_key=True)
    n: int = 0


class CaseEventRecord(SQLModel, table=True):
    """One accepted event of a case; (case_id, seq) makes replays and retries harmless."""

    __tablename__ = "case_events"
    # `/stats?from=&to=` finds the cases with a counted event in the window by action and date.
    __table_args__ = (Index("ix_case_events_action_on", "action", "on"),)

    case_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    actor: str = Field(max_length=100)
    action: str = Field(index=True, max_length=64)
    event: str | None = Field(default=None, max_length=32)
    on: date
    recorded_at: datetime
    note: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    derived: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    retracted: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    """Shown to be false by a later-recorded act: kept in the history, counted nowhere."""
    retracted_by: int | None = None


class DeadlineRecord(SQLModel, table=True):
    """The current instance of one clock of a case, with its provenance."""

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_status_due", "status", "due"),)

    case_id: str = Field(primary_key=True, max_length=64)
    clock: str = Field(primary_key=True, max_length=32)
    due: date
    status: str = Field(max_length=16)
    actor: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    fires_at: datetime
    rule: str = Field(max_length=100)
    pack: str = Field(max_length=32)
    provenance: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    legal_aid_org: str | None = Field(default=None, max_length=100)
    """The case's legal aid organisation, copied here so that an organisation's deadlines are
    one index range of exactly its rows (issue 18, session 9). Kept equal to
    `cases.legal_aid_org` by triggers (migration 0018), whoever writes: a deadline inserted
    without it takes its case's (so the case row is written first, as every writer does), and a
    case whose organisation changes rewrites its deadlines'. Writers leave it out; the
    benchmark's seeder sets it, to spare the trigger its lookup."""


OPEN_DEADLINE_STATUSES = ("running", "paused")
"""Deadline statuses a provider still has to watch (paused clocks run again on resumption)."""


def open_due() -> sa.ColumnElement[date | None]:
    """`deadlines.due` of a running or paused clock, null for any other (indexed, with the org).

    On PostgreSQL a query filters the open deadlines due by a day with `open_due() <= day`,
    this very expression, so that the planner estimates it from the index's own statistics.
    Written as two conditions, `status IN (running, paused) AND due <= day`, it multiplies
    their selectivities as if independent, but open clocks are the future ones while most
    deadlines are due in the past: at 1,000,000 cases it expected ten times the rows and hashed
    every case of a big legal-aid organisation (bench/RESULTS.md, issue 18, session 8). The
    statuses are SQL literals, not parameters, so the query's expression is the index's
    whatever the driver binds.
    """
    statuses: list[sa.ColumnElement[str]] = [
        sa.literal_column(f"'{status}'", sa.String()) for status in OPEN_DEADLINE_STATUSES
    ]
    due: sa.ColumnElement[date | None] = sa.case(
        (col(DeadlineRecord.status).in_(statuses), col(DeadlineRecord.due))
    )
    return due


# An organisation's open deadlines due by a day: one range of this index, exactly its rows
# (`db.legal_aid.org_deadlines`). In parentheses: PostgreSQL takes an expression in CREATE INDEX
# only as `((CASE ...))`; it keeps statistics on the expression, so it estimates the window
# from the open clocks alone (bench/RESULTS.md, issue 18, sessions 8 and 9).
# PostgreSQL only: SQLite keeps no histogram for the expression (without STAT4) and planned
# worse with it, so it filters on the plain columns, which its own index below serves.
Index(
    "ix_deadlines_org_open_due", col(DeadlineRecord.legal_aid_org), sa.Grouping(open_due())
).ddl_if(dialect="postgresql")
# SQLite: the org's open (or lapsed) deadlines are one range per status of this index.
Index(
    "ix_deadlines_org_status_due",
    col(DeadlineRecord.legal_aid_org),
    col(DeadlineRecord.status),
    col(DeadlineRecord.due),
).ddl_if(dialect="sqlite")


class ProjectionIntentRecord(SQLModel, table=True):
    """A change the API sent to a case workflow and has not yet written to the read model.

    Inserted before the update is sent and deleted in the transaction that writes the batch
    the update hands back. One left behind (the API died in between, or its write failed) is
    found by the worker's repair loop, which projects the case from its workflow.
    """

    __tablename__ = "projection_intents"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=64)
    created_at: datetime = Field(index=True)
