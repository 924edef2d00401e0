"""The SQL read model: cases, their events and their deadlines (projected from the workflows).

Schema changes go through alembic (`activities/migrations`); `migrate()` brings a database to the
newest revision. SQLite by default, PostgreSQL when `DATABASE_URL` says so.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Index, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlmodel import Field, SQLModel, create_engine

from activities.private_files import ensure_private_sqlite

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


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
        # only) and `/stats`' overdue count are read from the index alone.
        Index("ix_cases_overdue", "overdue", "overdue_since", "stage"),
        Index("ix_cases_abandoned", "presumed_abandoned", "abandoned_since", "stage"),
        Index("ix_cases_entitled_blocked", "entitled_blocked", "labour_market_reached_on", "stage"),
        Index("ix_cases_org_next_due", "legal_aid_org", "next_deadline_due"),
        # The same within a jurisdiction; with `overdue`, the backlog within it and its overdue
        # count (`/stats?jurisdiction=`) from the index alone.
        Index(
            "ix_cases_jurisdiction_stage", "jurisdiction", "stage", "stage_since", "id", "overdue"
        ),
    )

    id: str = Field(primary_key=True, max_length=64)
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
    last_seq: int = 0
    updated_at: datetime


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


class CaseStatFactRecord(SQLModel, table=True):
    """One dated fact `/stats` counts (an application, a decision...), replayed from the events.

    Derived from `case_events` by `activities.stat_facts.refresh_facts` whenever a case's
    replayed events change, so the statistics aggregate rows in SQL instead of replaying every
    case per request. `jurisdiction` is the case's (a case never changes jurisdiction).
    """

    __tablename__ = "case_stat_facts"
    # Indexes in the order `/stats` groups by (api/stats.py `flows`): counts by kind and key,
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


def upsert_into(dialect: str, table: Table) -> Any:
    """`INSERT` for `table` with `ON CONFLICT` clauses, in the read model's dialect.

    The read model runs on SQLite and PostgreSQL; both take `on_conflict_do_nothing` and
    `on_conflict_do_update` with the same arguments.
    """
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the read model runs on SQLite or PostgreSQL, not {dialect}")


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        ensure_private_sqlite(url)


def make_engine(url: str) -> Engine:
    """An engine for the read model; SQLite gets WAL and a busy timeout for concurrent writers."""
    _ensure_sqlite_dir(url)
    if url.startswith("sqlite:///"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL stays consistent after a crash (the last commits may be lost, and the
            # projection re-applies them idempotently); FULL costs a sync per audit record.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    """The migrations' alembic configuration for the database at `url`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate(url: str) -> None:
    """Upgrade the database at `url` to the newest schema revision."""
    from alembic import command

    _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), "head")


def inserted_id(result: Result[Any]) -> int:
    """The primary key of the one row an `INSERT` statement's `result` added."""
    assert isinstance(result, CursorResult)  # an INSERT's result
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


# ---------------------------------------------------------------------------------------------
# Registry tables: written by the API, never projected from workflows. The only place where
# personal data lives.


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


class UserRecord(SQLModel, table=True):
    """A user of the API; only a hash of the bearer token is stored."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    role: str = Field(max_length=32)
    org: str | None = Field(default=None, max_length=100)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None


class IdempotencyRecord(SQLModel, table=True):
    """A create request already answered: same key and body → the same case."""

    __tablename__ = "idempotency_keys"

    user_name: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=200)
    body_hash: str = Field(max_length=64)
    case_id: str = Field(max_length=64)
    created_at: datetime


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


class AuditRecord(SQLModel, table=True):
    """Who read or changed what, when (case ids only, no personal data)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_case", "case_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    user_name: str = Field(index=True, max_length=100)
    role: str = Field(max_length=32)
    kind: str = Field(max_length=8, description="read or change")
    method: str = Field(max_length=8)
    route: str = Field(max_length=200)
    case_id: str | None = Field(default=None, max_length=64)
    status: int
    request_id: str | None = Field(default=None, max_length=64)


# ---------------------------------------------------------------------------------------------
# Legal aid: calendar feeds and reminder webhooks.


class FeedSecretRecord(SQLModel, table=True):
    """A legal aid user's calendar feed secret (hashed); a new one replaces the old.

    Per user, not per org: it dies with the user's revocation, and a rotation leaves the
    colleagues' feeds alone. The feed shows the user's organisation's deadlines.
    """

    __tablename__ = "user_feed_secrets"

    user_name: str = Field(primary_key=True, max_length=100)
    secret_hash: str = Field(unique=True, max_length=64)
    created_at: datetime


class WebhookRecord(SQLModel, table=True):
    """Where an organisation wants deadline reminders POSTed, and the key that signs them."""

    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True)
    org: str = Field(index=True, max_length=100)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=128, description="HMAC key; shown once at registration")
    created_at: datetime
    active: bool = True


class DeliveryRecord(SQLModel, table=True):
    """One attempt to deliver one reminder to one webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_deliveries_webhook", "webhook_id", "attempted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int
    case_id: str = Field(max_length=64)
    clock: str = Field(max_length=32)
    due: date
    days_left: int
    reminder_key: str = Field(index=True, max_length=200)
    attempt: int
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    ok: bool = False
    attempted_at: datetime


# ---------------------------------------------------------------------------------------------
# Dashboard sign-in: one-time tickets every API process can redeem.


class UiTicketRecord(SQLModel, table=True):
    """A one-time dashboard sign-in ticket (`api.ui_tickets`), valid in every API process.

    Keyed by a hash of the ticket. The bearer token it stands for is sealed with a key derived
    from the ticket, which is stored nowhere: the table alone yields no token.
    """

    __tablename__ = "ui_tickets"

    id_hash: str = Field(primary_key=True, max_length=64)
    sealed: str = Field(max_length=400)
    expires_at: datetime = Field(index=True)


# ---------------------------------------------------------------------------------------------
# Projection hand-over: what the API is about to write.


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


# ---------------------------------------------------------------------------------------------
# Statistics rollup: `case_stat_facts` summed, kept in step by `refresh_facts`.


class CaseStatCountRecord(SQLModel, table=True):
    """`case_stat_facts` counted per jurisdiction, kind and key, by day and by month.

    `span` "d": `on` is the day; "m": `on` is the month's first day; `n` the facts counted.

    `/stats` reads the whole months of its window from the "m" rows and the days at its edges
    from the "d" rows: about a thousand rows at 100,000 cases, where the facts are 180,000.
    `activities.stat_facts.refresh_facts` adds each case's change to them in the transaction
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
