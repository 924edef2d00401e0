"""Legal aid queries over the read model: an org's deadlines, its calendar feed, its webhooks.

Every function takes the organisation explicitly and filters on it in SQL: nothing here can
return another organisation's cases, webhooks or deliveries.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from icalendar import Alarm, Calendar, Event
from sqlalchemy import Select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.cursor import InvalidCursor, decode_cursor, encode_cursor
from db.tables import (
    CaseRecord,
    DeadlineRecord,
    DeliveryRecord,
    FeedSecretRecord,
    PersonRecord,
    UserRecord,
    WebhookRecord,
)
from db.tables.cases import OPEN_DEADLINE_STATUSES, open_due
from db.users import hash_token

OPEN_STATUSES = OPEN_DEADLINE_STATUSES
"""Deadline statuses a provider still has to watch (paused clocks run again on resumption)."""

LAPSED_STATUSES = ("expired", "missed")
"""Deadlines that passed without the act: still doable (`expired`) or a breach on record."""

LAPSED_DAYS = 30
"""How far back `lapsed_deadlines` looks: deadlines due in the last 30 days."""


class OrgDeadline(NamedTuple):
    """One deadline of one of the org's cases, with what the routes show of its case.

    Plain columns rather than the ORM's `DeadlineRecord` and the whole `CaseRecord`: building
    those objects took 63-66 ms of client CPU for a big organisation's 1,446 pairs at 1,000,000
    cases (18 ms as rows), and 1.7 s for its 18,479 over 400 days (0.25 s as rows;
    bench/RESULTS.md, issue 18, session 8).
    """

    case_id: str
    clock: str
    due: date
    status: str
    actor: str
    rule: str
    pack: str
    provenance: dict[str, Any]
    reference: str | None
    """The case's readable reference (the diary shows it)."""
    updated_at: datetime
    """When the case's row was last written (the feed's `LAST-MODIFIED`)."""


def _org_rows(org: str, due: sa.ColumnElement[Any] | None = None) -> Select[Any]:
    """The columns of `OrgDeadline` for the org's cases' deadlines, in due order.

    Filtered on the deadline's own organisation (migration 0018, kept equal to its case's by
    triggers), not the case's: the org's deadlines are then one index range of exactly its rows,
    and the case is read for the rows returned only, by its primary key. Filtered on the case's,
    every open deadline in the window, of every organisation, cost a probe of its case (issue 18,
    session 8). The join still keeps out a deadline whose case row is gone, as before.
    `due` orders the rows (the due date unless given: `org_deadline_page` gives `open_due()`).
    """
    return (
        sa.select(
            col(DeadlineRecord.case_id),
            col(DeadlineRecord.clock),
            col(DeadlineRecord.due),
            col(DeadlineRecord.status),
            col(DeadlineRecord.actor),
            col(DeadlineRecord.rule),
            col(DeadlineRecord.pack),
            col(DeadlineRecord.provenance),
            col(CaseRecord.reference),
            col(CaseRecord.updated_at),
        )
        .join(CaseRecord, col(CaseRecord.id) == col(DeadlineRecord.case_id))
        .where(col(DeadlineRecord.legal_aid_org) == org)
        .order_by(
            col(DeadlineRecord.due) if due is None else due,
            col(DeadlineRecord.case_id),
            col(DeadlineRecord.clock),
        )
    )


_DUE: sa.ColumnElement[Any] = DeadlineRecord.__table__.c.due  # type: ignore[attr-defined]


def _open_window(
    engine: Engine, until: date | None
) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[Any]]:
    """The filter for the running and paused deadlines due by `until`, and its due key.

    On PostgreSQL both are `open_due()`, the expression indexed after the organisation
    (`ix_deadlines_org_open_due`), rather than the status and the due date apart: the org's
    window is one range of the index, and the planner estimates it from the index's statistics
    (see `db.tables.cases.open_due`); null for every other status, so the filter keeps exactly
    the running and paused ones, and on each of them it is the due date. SQLite has no such
    index (it planned worse with an expression) and keeps the two conditions, which its (org,
    status, due) index serves.
    """
    if engine.dialect.name == "postgresql":
        due = open_due()
        return (due.is_not(None) if until is None else due <= until), due
    window = col(DeadlineRecord.status).in_(OPEN_STATUSES)
    return (window if until is None else sa.and_(window, col(DeadlineRecord.due) <= until)), _DUE


def _lapsed_rows(org: str, today: date) -> Select[Any]:
    return _org_rows(org).where(
        col(DeadlineRecord.status).in_(LAPSED_STATUSES),
        col(DeadlineRecord.due) >= today - timedelta(days=LAPSED_DAYS),
        col(DeadlineRecord.due) <= today,
    )


def _fetch(engine: Engine, query: Select[Any]) -> list[OrgDeadline]:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One backend, no parallel workers: the list is an index range and a primary-key
            # probe per row, and two workers' start-up cost more CPU than they spare (a big
            # organisation's 14 days at 1,000,000 cases: ~23 ms of database CPU with them, ~13
            # without; bench/RESULTS.md, issue 18, session 9). LOCAL: this transaction only,
            # which ends with the connection's return to the pool.
            conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        return [OrgDeadline(*row) for row in conn.execute(query)]


def _of_cases(query: Select[Any], case_ids: Collection[str] | None) -> Select[Any]:
    """`query` kept to `case_ids` (all of the org's cases if None)."""
    if case_ids is None:
        return query
    return query.where(col(DeadlineRecord.case_id).in_(sorted(case_ids)))


def org_deadlines(
    engine: Engine,
    org: str,
    *,
    until: date | None = None,
    case_ids: Collection[str] | None = None,
) -> list[OrgDeadline]:
    """The running and paused deadlines of the org's cases (due by `until`), sorted by due.

    Filtered as `_open_window` says for each database; only `case_ids`' if given (the diary's
    clients found by a search: the database keeps to them, not the caller after reading all).
    """
    window, _ = _open_window(engine, until)
    return _fetch(engine, _of_cases(_org_rows(org).where(window), case_ids))


class DeadlinePage(NamedTuple):
    """A page of an org's deadline list, and the cursor of the next (None after the last)."""

    rows: list[OrgDeadline]
    next_cursor: str | None


def position(cursor: str) -> tuple[date, str, str]:
    """The (due, case id, clock) a cursor of `_cursor_after` points after.

    Raises:
        InvalidCursor: `cursor` is not one a page of these lists handed out.
    """
    due, case_id, clock = decode_cursor(cursor, 3)
    try:
        return date.fromisoformat(due), case_id, clock
    except ValueError:
        raise InvalidCursor from None


def _cursor_after(row: OrgDeadline) -> str:
    return encode_cursor(row.due.isoformat(), row.case_id, row.clock)


def org_deadline_page(
    engine: Engine,
    org: str,
    *,
    until: date | None = None,
    today: date | None = None,
    cursor: str | None = None,
    limit: int,
) -> DeadlinePage:
    """At most `limit` of `org_deadlines` (or, given `today`, `lapsed_deadlines`) after `cursor`.

    The lists' own order (due date, case id, clock) is the keyset: a page reads its rows and no
    others on PostgreSQL, wherever it starts, so a big organisation's next deadlines cost the same
    at any horizon (issue 18: at 1,000,000 cases the whole 30 days of one with a quarter of the
    cases were ~3,000 rows and 0.1-0.2 s). There the running and paused ones are ordered by
    `open_due()`, equal to the due date on every row the window keeps, so that the index's own
    order serves the page and only its rows probe their case. SQLite (no index gives the order
    of two statuses' ranges) sorts the rest of the window for each page: small read models.

    Raises:
        InvalidCursor: `cursor` is not one a page of this list handed out.
    """
    if today is not None:
        query, due = _lapsed_rows(org, today), _DUE
    else:
        window, due = _open_window(engine, until)
        query = _org_rows(org, due).where(window)
    if cursor:  # an empty one is the first page, as in the supervision lists
        after = position(cursor)
        key = sa.tuple_(due, col(DeadlineRecord.case_id), col(DeadlineRecord.clock))
        # The first condition alone bounds the index range; the tuple breaks the ties.
        query = query.where(due >= after[0], key > sa.tuple_(*map(sa.literal, after)))
    rows = _fetch(engine, query.limit(limit + 1))
    following = _cursor_after(rows[limit - 1]) if len(rows) > limit else None
    return DeadlinePage(rows[:limit], following)


def lapsed_deadlines(
    engine: Engine, org: str, *, today: date, case_ids: Collection[str] | None = None
) -> list[OrgDeadline]:
    """The org's lapsed deadlines (`expired` or `missed`) due in the last `LAPSED_DAYS` days.

    Sorted by due date; only `case_ids`' if given.
    """
    return _fetch(engine, _of_cases(_lapsed_rows(org, today), case_ids))


def client_names(engine: Engine, org: str, case_ids: Sequence[str]) -> dict[str, str]:
    """The full name of the person of each of the org's cases among `case_ids`.

    Legal aid may read its own clients' persons; the org filter keeps every other case out.
    """
    if not case_ids:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(PersonRecord)
            .join(CaseRecord, col(CaseRecord.id) == col(PersonRecord.case_id))
            .where(CaseRecord.legal_aid_org == org, col(PersonRecord.case_id).in_(set(case_ids)))
        ).all()
    return {p.case_id: f"{p.given_name} {p.family_name}" for p in rows}


def deadline_item(record: OrgDeadline) -> dict[str, Any]:
    """`{"case_id", …deadline object}` from the projected provenance and the row's status."""
    return {
        "case_id": record.case_id,
        **record.provenance,
        "clock": record.clock,
        "due": record.due.isoformat(),
        "status": record.status,
    }


def _summary(record: OrgDeadline) -> str:
    # The clock and the case reference only: a calendar lands on phones and shared calendars,
    # so it must not name the person.
    return f"{record.clock} - case {record.case_id}"


def _description(record: OrgDeadline) -> str:
    p = record.provenance
    lines = [
        f"Clock: {record.clock} ({record.status})",
        f"Due: {record.due.isoformat()}; to act: {record.actor}",
        f"Period: {p.get('period')} from {p.get('trigger')} on {p.get('trigger_date')}",
        f"Rule: {record.rule} (pack {record.pack}, version {p.get('rule_version')})",
        f"Citation: {p.get('citation')}",
    ]
    if p.get("pause_days"):
        lines.append(f"Paused for {p['pause_days']} day(s)")
    return "\n".join(lines)


def calendar_ics(
    org: str,
    rows: Sequence[OrgDeadline],
    *,
    alarm_days: Sequence[int],
    now: datetime,
) -> bytes:
    """An iCalendar feed: one all-day event per deadline, alarms `alarm_days` before each.

    The UID is stable per case and clock, so a calendar app moves the event when the due date
    changes instead of adding a second one.
    """
    cal = Calendar()
    cal.add("prodid", "-//asylumflow//legal aid deadlines//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Deadlines - {org}")
    for record in rows:
        summary = _summary(record)
        event = Event()
        event.add("uid", f"{record.case_id}-{record.clock}@asylumflow")
        event.add("dtstamp", now)
        event.add("last-modified", record.updated_at)
        event.add("dtstart", record.due)
        event.add("dtend", record.due + timedelta(days=1))
        event.add("summary", summary)
        event.add("description", _description(record))
        event.add("transp", "TRANSPARENT")
        for days in sorted(set(alarm_days), reverse=True):
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", summary)
            alarm.add("trigger", timedelta(days=-days))
            event.add_component(alarm)
        cal.add_component(event)
    ical: bytes = cal.to_ical()
    return ical


def rotate_feed_secret(engine: Engine, user_name: str, now: datetime) -> str:
    """A new feed secret for one user; only its hash is stored, and it replaces the user's old one.

    Colleagues' secrets are untouched.
    """
    secret = secrets.token_urlsafe(32)
    with Session(engine) as session:
        record = session.get(FeedSecretRecord, user_name)
        if record is None:
            record = FeedSecretRecord(
                user_name=user_name, secret_hash=hash_token(secret), created_at=now
            )
        else:
            record.secret_hash, record.created_at = hash_token(secret), now
        session.add(record)
        session.commit()
    return secret


def user_for_feed_secret(engine: Engine, secret: str) -> UserRecord | None:
    """The active legal aid user whose current feed secret this is (None once revoked)."""
    with Session(engine) as session:
        user = session.exec(
            select(UserRecord)
            .join(FeedSecretRecord, col(FeedSecretRecord.user_name) == col(UserRecord.name))
            .where(FeedSecretRecord.secret_hash == hash_token(secret))
        ).first()
    if user is None or user.revoked_at is not None or user.role != "legal_aid" or not user.org:
        return None
    return user


def create_webhook(engine: Engine, org: str, url: str, now: datetime) -> WebhookRecord:
    """Register a webhook with a fresh signing secret (returned once, to the caller)."""
    record = WebhookRecord(org=org, url=url, secret=secrets.token_hex(32), created_at=now)
    with Session(engine) as session:
        session.add(record)
        session.commit()
        session.refresh(record)
    return record


def org_webhooks(engine: Engine, org: str) -> list[WebhookRecord]:
    """The org's webhooks, active or not."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(WebhookRecord)
                .where(WebhookRecord.org == org)
                .order_by(col(WebhookRecord.id))
            ).all()
        )


def org_webhook(engine: Engine, org: str, webhook_id: int) -> WebhookRecord | None:
    """One of the org's webhooks (None for another org's: the caller answers 404)."""
    with Session(engine) as session:
        record = session.get(WebhookRecord, webhook_id)
    return record if record is not None and record.org == org else None


def deactivate_webhook(engine: Engine, org: str, webhook_id: int) -> bool:
    """Stop sending to one of the org's webhooks (its delivery log stays). False if unknown."""
    with Session(engine) as session:
        record = session.get(WebhookRecord, webhook_id)
        if record is None or record.org != org:
            return False
        record.active = False
        session.add(record)
        session.commit()
    return True


def deliveries(
    engine: Engine, org: str, webhook_id: int, *, after: int | None, limit: int
) -> list[DeliveryRecord]:
    """Delivery attempts of one webhook in the order they were made (by id, after `after`).

    Only those for cases that are still `org`'s: once a case moves to another organisation,
    the rows naming it leave the old one's view with the case itself.
    """
    query = (
        select(DeliveryRecord)
        .join(CaseRecord, col(CaseRecord.id) == col(DeliveryRecord.case_id))
        .where(DeliveryRecord.webhook_id == webhook_id, CaseRecord.legal_aid_org == org)
    )
    if after is not None:
        query = query.where(col(DeliveryRecord.id) > after)
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(DeliveryRecord.id)).limit(limit)).all())


def latest_deliveries(
    engine: Engine, org: str, webhook_id: int, *, limit: int
) -> list[DeliveryRecord]:
    """The `limit` most recent delivery attempts of one of the org's webhooks, newest first."""
    query = (
        select(DeliveryRecord)
        .join(CaseRecord, col(CaseRecord.id) == col(DeliveryRecord.case_id))
        .where(DeliveryRecord.webhook_id == webhook_id, CaseRecord.legal_aid_org == org)
        .order_by(col(DeliveryRecord.id).desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return list(session.exec(query).all())
