"""Supervision queries over the read model: overdue, stuck, abandoned, entitled-but-blocked.

Plain functions taking an Engine, so the routes and the benchmark (`bench/supervision.py`) run
exactly the same SQL. Every list is ordered by the day its condition began (`since`, oldest
first) and then by case id, and is paged with a keyset cursor on that pair: a page costs the same
however deep into the list it is, and cases that enter or leave the list between two pages never
make another case be skipped or shown twice.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache, reduce
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, func, or_, tuple_, union_all
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from db import list_order
from db.cursor import InvalidCursor, decode_cursor, encode_cursor
from db.stuck_arms import stuck_arms
from db.stuck_arms import total as stuck_total
from db.tables import CaseEventRecord, CaseRecord, DeadlineRecord
from models.enums import Stage
from models.rules import RulePack, all_packs
from models.service_levels import DEFAULT_SERVICE_LEVELS
from models.stages import TERMINAL_STAGES

TERMINAL = tuple(sorted(s.value for s in TERMINAL_STAGES))
"""`TERMINAL_STAGES` as the read model stores them: a case there is never stuck or overdue."""


@dataclass(frozen=True)
class Filters:
    """The list filters every supervision route shares with `GET /cases`."""

    jurisdiction: str | None = None
    procedure: str | None = None
    stage: str | None = None
    assignee: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions on `cases` for the filters given."""
        found: list[ColumnElement[bool]] = []
        if self.jurisdiction:
            found.append(col(CaseRecord.jurisdiction) == self.jurisdiction)
        if self.procedure:
            found.append(col(CaseRecord.procedure) == self.procedure)
        if self.stage:
            found.append(col(CaseRecord.stage) == self.stage)
        if self.assignee:
            found.append(col(CaseRecord.assignee) == self.assignee)
        return found


@dataclass(frozen=True)
class Listing:
    """One page of a supervision list."""

    items: list[dict[str, Any]]
    total: int
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        """The response body: `{"items", "total", "next_cursor"}`."""
        return {"items": self.items, "total": self.total, "next_cursor": self.next_cursor}


# ---------------------------------------------------------------------------------------------
# Cursors


def _cursor_after(since: date, case_id: str) -> str:
    return encode_cursor(since.isoformat(), case_id)


def _cursor_position(cursor: str) -> tuple[date, str]:
    """The (since, case id) a cursor points after; InvalidCursor if it is not ours."""
    since, case_id = decode_cursor(cursor, 2)
    try:
        return date.fromisoformat(since), case_id
    except ValueError:
        raise InvalidCursor from None


# ---------------------------------------------------------------------------------------------
# Shared paging


def _base(row: CaseRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "reference": row.reference,
        "stage": row.stage,
        "stage_since": row.stage_since.isoformat(),
        "jurisdiction": row.jurisdiction,
        "procedure": row.procedure,
        "assignee": row.assignee,
        "legal_aid_org": row.legal_aid_org,
    }


def _page(
    engine: Engine,
    where: list[ColumnElement[bool]],
    since: Any,
    cursor: str | None,
    limit: int,
    sort: str = "since",
    total: ColumnElement[int] | None = None,
) -> tuple[list[CaseRecord], int, str | None]:
    """Rows matching `where` in the order `sort` after `cursor`, the total, the next cursor.

    The total is counted from `cases` unless the caller gives an expression for it.
    """
    where = [*where, since.is_not(None)]
    query = select(CaseRecord).where(*where)
    order = list_order.keys(sort, since)
    if cursor and sort == "since":
        after, after_id = _cursor_position(cursor)
        query = query.where(or_(since > after, and_(since == after, col(CaseRecord.id) > after_id)))
    elif cursor:
        query = query.where(list_order.after(sort, cursor, order))
    with Session(engine) as session:
        rows = list(session.exec(query.order_by(*order).limit(limit + 1)).all())
        counted = (
            sa.select(func.count()).select_from(CaseRecord).where(*where)
            if total is None
            else sa.select(total)
        )
        found = session.connection().execute(counted).scalar_one()
    more = len(rows) > limit
    rows = rows[:limit]
    following = None
    if more:
        last = rows[-1]
        if sort == "since":
            following = _cursor_after(getattr(last, since.key), last.id)
        else:
            following = list_order.cursor_after(sort, last, since.key)
    return rows, int(found), following


_AFTER_SINCE = sa.bindparam("after_since", type_=sa.Date())
_AFTER_ID = sa.bindparam("after_id", type_=sa.String())


@dataclass(frozen=True)
class _ArmsQuery:
    """The statements of a page of disjoint arms; a cursor's position is given as parameters."""

    rows: Any
    """The page's rows (`limit + 1` of them) with the total (`Select[tuple[CaseRecord, int]]`)."""
    total: ColumnElement[int]
    """The total alone, for an empty page."""
    limit: int
    paged: bool
    """Whether the statements read after a cursor (`_AFTER_SINCE`, `_AFTER_ID`)."""


def _arms_query(
    arms: tuple[ColumnElement[bool], ...],
    where: tuple[ColumnElement[bool], ...],
    paged: bool,
    limit: int,
    total: ColumnElement[int] | None = None,
) -> _ArmsQuery:
    """As `_page`'s query on `stage_since`, for a condition that is a disjunction of `arms`.

    One `OR` of range conditions on different stages makes both engines collect every match
    and sort it to find the first page (SQLite: a multi-index OR; PostgreSQL: a bitmap OR), so
    a page cost as much as the whole list (75 ms at 100,000 cases, most of them stuck). Each
    arm on its own is one ordered range of the (stage, stage_since, id) index: the first
    `limit + 1` keys of every arm are read in order, the page is the first of their union, and
    only its rows are read from the table. The total is the sum of the arms' counts, which the
    same index answers alone, unless the caller gives one (`db.stuck_arms.total`).
    """
    c = SQLModel.metadata.tables[CaseRecord.__tablename__].c
    conditions = [*where, c.stage_since.is_not(None)]
    if paged:
        # A row-value comparison, which both engines turn into one index range (an OR of
        # `since > a` and `since = a AND id > b` is not).
        conditions.append(tuple_(c.stage_since, c.id) > tuple_(_AFTER_SINCE, _AFTER_ID))
    # Core statements on the table's columns: an ORM entity aliased over the union costs
    # tens of milliseconds to build per request, more than the query.
    firsts = [
        sa.select(c.stage_since, c.id)
        .where(arm, *conditions)
        .order_by(c.stage_since, c.id)
        .limit(limit + 1)
        .subquery()
        for arm in arms
    ]
    union = union_all(*(sa.select(first.c.stage_since, first.c.id) for first in firsts)).subquery()
    page = (
        sa.select(union.c.stage_since, union.c.id)
        .order_by(union.c.stage_since, union.c.id)
        .limit(limit + 1)
        .subquery()
    )
    # One sum of scalar subqueries rather than a UNION ALL of counts: PostgreSQL runs the
    # latter as a parallel append, whose worker start-up (~10 ms on two busy cores) costs
    # more than the counting.
    if total is None:
        counted = [sa.select(func.count()).where(arm, *where).scalar_subquery() for arm in arms]
        total = reduce(operator.add, counted)
    # The page's rows and the total in one round trip (the total is computed once).
    rows = (
        select(CaseRecord, total)
        .join(page, col(CaseRecord.id) == page.c.id)
        .order_by(page.c.stage_since, page.c.id)
    )
    return _ArmsQuery(rows, total, limit, paged)


def _page_of_arms(
    engine: Engine, query: _ArmsQuery, cursor: str | None
) -> tuple[list[CaseRecord], int, str | None]:
    """One page of `query` after `cursor` (given exactly when the query is `paged`)."""
    params: dict[str, Any] = {}
    if cursor:
        after_since, after_id = _cursor_position(cursor)
        params = {_AFTER_SINCE.key: after_since, _AFTER_ID.key: after_id}
    with Session(engine) as session:
        found = session.exec(query.rows, params=params).all()
        rows = [row for row, _ in found]
        # An empty page (a cursor past the end) still answers the total.
        count = (
            found[0][1]
            if found
            else session.connection().execute(sa.select(query.total)).scalar_one()
        )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    following = _cursor_after(rows[-1].stage_since, rows[-1].id) if more else None
    return rows, int(count), following


# ---------------------------------------------------------------------------------------------
# Overdue


def overdue(
    engine: Engine,
    filters: Filters,
    *,
    today: date,
    cursor: str | None = None,
    limit: int = 50,
    sort: str = "since",
) -> Listing:
    """Open cases with an authority clock that expired without its act, longest overdue first.

    `since` is the first day the earliest such clock was overdue (the day after it was due), so
    `sort=due` (by the missed due date) is the order of `since`.
    """
    sort = "since" if sort == "due" else sort
    since = col(CaseRecord.overdue_since)
    where = [
        col(CaseRecord.overdue) == True,  # noqa: E712  (SQL, not a Python comparison)
        col(CaseRecord.stage).not_in(TERMINAL),
        *filters.conditions(),
    ]
    rows, total, following = _page(engine, where, since, cursor, limit, sort)
    expired = _expired_authority_clocks(engine, [r.id for r in rows])
    items = []
    for row in rows:
        assert row.overdue_since is not None  # the page only holds rows that have it
        clocks = expired.get(row.id, [])
        first = next((d for d in clocks if d.clock == row.overdue_clock), None)
        due = first.due if first else row.overdue_since - timedelta(days=1)
        clock = row.overdue_clock or (first.clock if first else "deadline")
        citation = (first.provenance.get("citation") if first else None) or ""
        items.append(
            {
                **_base(row),
                "reason": f"{clock.replace('_', ' ')} was due by {due.isoformat()}"
                + (f" ({citation})" if citation else "")
                + f"; {(today - due).days} days overdue",
                "reason_code": "deadline_expired",
                "since": row.overdue_since.isoformat(),
                "clock": clock,
                "due": due.isoformat(),
                "rule": first.rule if first else None,
                "days_overdue": (today - due).days,
                "expired_clocks": [d.clock for d in clocks],
            }
        )
    return Listing(items, total, following)


def _expired_authority_clocks(
    engine: Engine, case_ids: list[str]
) -> dict[str, list[DeadlineRecord]]:
    if not case_ids:
        return {}
    found: dict[str, list[DeadlineRecord]] = defaultdict(list)
    with Session(engine) as session:
        for d in session.exec(
            select(DeadlineRecord)
            .where(
                col(DeadlineRecord.case_id).in_(case_ids),
                DeadlineRecord.status == "expired",
                DeadlineRecord.actor == "authority",
            )
            .order_by(col(DeadlineRecord.due), col(DeadlineRecord.clock))
        ):
            found[d.case_id].append(d)
    return found


# ---------------------------------------------------------------------------------------------
# Stuck


def service_levels(
    pack: RulePack | None, configured: Mapping[Stage, int] | None = None
) -> dict[Stage, int]:
    """Days each open stage may last: built-in defaults, then settings, then the pack's own."""
    return {**DEFAULT_SERVICE_LEVELS, **(configured or {}), **(pack.service_levels if pack else {})}


_Levels = tuple[
    tuple[tuple[Stage, int], ...], tuple[tuple[str, tuple[tuple[Stage, int], ...]], ...]
]
"""The default service levels and each pack's, as items: a key for the caches below."""


@lru_cache(maxsize=64)
def _stuck_conditions(
    today: date, levels: _Levels, filters: Filters
) -> tuple[tuple[ColumnElement[bool], ...], ColumnElement[int] | None]:
    """The stuck arms as conditions on `cases`, and their total (None: count the arms).

    SQL expressions that depend on the day, the levels and the filters alone, so they are built
    once and reused (statements are immutable): building the 22 arms and their total from the
    tallies took ~10 ms of CPU per request, more than the database's work for the page. The
    total comes from the tallies (`db.stuck_arms`) unless the list is one assignee's, whose
    cases the index counts quickly and the tallies do not know.
    """
    default = dict(levels[0])
    by_pack = {pack: dict(items) for pack, items in levels[1]}
    stages = [s for s in DEFAULT_SERVICE_LEVELS if not filters.stage or s.value == filters.stage]
    parts = stuck_arms(today, stages, default, by_pack)
    counted: ColumnElement[int] | None = None
    if parts and not filters.assignee:
        counted = stuck_total(parts, today, filters.jurisdiction, filters.procedure)
    return tuple(arm.on_cases() for arm in parts), counted


@lru_cache(maxsize=128)
def _stuck_query(
    today: date, levels: _Levels, filters: Filters, paged: bool, limit: int
) -> _ArmsQuery | None:
    """A stuck page's statements in `since` order, built once per key (None: no arms)."""
    arms, counted = _stuck_conditions(today, levels, filters)
    if not arms:
        return None
    return _arms_query(arms, tuple(filters.conditions()), paged, limit, counted)


def stuck(
    engine: Engine,
    filters: Filters,
    *,
    today: date,
    configured: Mapping[Stage, int] | None = None,
    cursor: str | None = None,
    limit: int = 50,
    sort: str = "since",
) -> Listing:
    """Open cases with no transition for longer than their stage's service level.

    Also, whatever the level, cases whose interview waits for an interpreter (reason code
    `waiting_for_interpreter`, issue #19).

    A case is stuck when it has been in its stage for *more* days than the level. `since` is
    the day it entered the stage (no transition since then), so the longest stuck come first.
    Another `sort` reads the arms as one condition (the per-arm ranges serve `since` only).
    """
    default = service_levels(None, configured)
    by_pack = {p.id: service_levels(p, configured) for p in all_packs()}
    levels = (tuple(default.items()), tuple((p, tuple(lv.items())) for p, lv in by_pack.items()))
    rows: list[CaseRecord]
    if sort == "since":
        query = _stuck_query(today, levels, filters, bool(cursor), limit)
        rows, total, following = _page_of_arms(engine, query, cursor) if query else ([], 0, None)
    else:
        arms, counted = _stuck_conditions(today, levels, filters)
        if arms:
            where = [or_(*arms), *filters.conditions()]
            since = col(CaseRecord.stage_since)
            rows, total, following = _page(engine, where, since, cursor, limit, sort, counted)
        else:
            rows, total, following = [], 0, None
    items = []
    for row in rows:
        level = by_pack.get(row.pack_id, default)[Stage(row.stage)]
        days = (today - row.stage_since).days
        if row.waiting_for_interpreter and row.stage == Stage.INTERVIEW_SCHEDULED.value:
            items.append(
                {
                    **_base(row),
                    "reason": "interview scheduled in a language with no interpreter assigned "
                    "(none available in the pool)",
                    "reason_code": "waiting_for_interpreter",
                    "since": row.stage_since.isoformat(),
                    "days_in_stage": days,
                    "pack": row.pack_id,
                }
            )
            continue
        items.append(
            {
                **_base(row),
                "reason": f"in stage {row.stage} for {days} days; service level {level} days",
                "reason_code": "service_level_exceeded",
                "since": row.stage_since.isoformat(),
                "days_in_stage": days,
                "service_level_days": level,
                "exceeded_on": (row.stage_since + timedelta(days=level + 1)).isoformat(),
                "pack": row.pack_id,
            }
        )
    return Listing(items, total, following)


# ---------------------------------------------------------------------------------------------
# Presumed abandoned


_ABANDONMENT_CAUSES = ("presumed_abandoned", "report_absconded", "deadline_expired")


def _abandonment_causes(
    engine: Engine, rows: list[CaseRecord]
) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Why each case is presumed abandoned: (reason_code, reason, extras), from its history.

    The presumption is raised by the no-contact watch (a system `presumed_abandoned` event), by
    `report_absconded`, or by an applicant's lodging deadline passing; each is recorded on the
    day the presumption starts, so the latest such event on `abandoned_since` is the cause.
    """
    if not rows:
        return {}
    with Session(engine) as session:
        events = session.exec(
            select(CaseEventRecord)
            .where(
                col(CaseEventRecord.case_id).in_([r.id for r in rows]),
                col(CaseEventRecord.action).in_(_ABANDONMENT_CAUSES),
                sa.not_(col(CaseEventRecord.retracted)),
            )
            .order_by(col(CaseEventRecord.case_id), col(CaseEventRecord.seq))
        ).all()
    by_case: dict[str, list[CaseEventRecord]] = defaultdict(list)
    for e in events:
        if e.action != "deadline_expired" or e.data.get("clock") == "lodging":
            by_case[e.case_id].append(e)
    causes: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for row in rows:
        candidates = by_case.get(row.id, [])
        on_day = [e for e in candidates if e.on == row.abandoned_since] or candidates
        cause = on_day[-1] if on_day else None
        if cause is None:
            causes[row.id] = ("presumed_abandoned", "presumed abandoned", {})
        elif cause.action == "report_absconded":
            causes[row.id] = ("absconded", f"reported absconded on {cause.on.isoformat()}", {})
        elif cause.action == "deadline_expired":
            due = cause.data.get("due", "")
            causes[row.id] = (
                "lodging_missed",
                f"the application was not lodged by {due}",
                {"due": due},
            )
        else:
            days = int(cause.data.get("days_without_contact", 0))
            causes[row.id] = (
                "no_contact",
                f"no contact for {days} days since {row.last_contact_on.isoformat()}",
                {"days_without_contact": days},
            )
    return causes


def abandoned(
    engine: Engine,
    filters: Filters,
    *,
    today: date,
    cursor: str | None = None,
    limit: int = 50,
    sort: str = "since",
) -> Listing:
    """Cases presumed abandoned and awaiting a supervisor's `review_abandonment`.

    `since` is the day the presumption began.
    """
    where = [
        col(CaseRecord.presumed_abandoned) == True,  # noqa: E712  (SQL, not a Python comparison)
        col(CaseRecord.stage).not_in(TERMINAL),
        *filters.conditions(),
    ]
    since = col(CaseRecord.abandoned_since)
    rows, total, following = _page(engine, where, since, cursor, limit, sort)
    causes = _abandonment_causes(engine, rows)
    items = []
    for row in rows:
        assert row.abandoned_since is not None  # the page only holds rows that have it
        code, reason, extras = causes[row.id]
        items.append(
            {
                **_base(row),
                "reason": reason,
                "reason_code": code,
                "since": row.abandoned_since.isoformat(),
                "last_contact_on": row.last_contact_on.isoformat(),
                "days_presumed": (today - row.abandoned_since).days,
                "review": "review_abandonment",
                **extras,
            }
        )
    return Listing(items, total, following)


# ---------------------------------------------------------------------------------------------
# Entitled but blocked


def entitled_blocked(
    engine: Engine,
    filters: Filters,
    *,
    today: date,
    cursor: str | None = None,
    limit: int = 50,
    sort: str = "since",
) -> Listing:
    """Cases whose labour-market access was reached but which have no personal ID number.

    `since` is the day access was reached: the applicant may work from then, but cannot get a
    work permit without the number (domain.md, "The nine-month rule in practice").
    """
    where = [
        col(CaseRecord.entitled_blocked) == True,  # noqa: E712  (SQL, not a Python comparison)
        col(CaseRecord.stage).not_in(TERMINAL),
        *filters.conditions(),
    ]
    rows, total, following = _page(
        engine, where, col(CaseRecord.labour_market_reached_on), cursor, limit, sort
    )
    items = []
    for row in rows:
        reached = row.labour_market_reached_on
        assert reached is not None  # the page only holds rows that have it
        items.append(
            {
                **_base(row),
                "reason": f"labour-market access reached on {reached.isoformat()}; "
                "no personal ID number issued",
                "reason_code": "no_personal_id",
                "since": reached.isoformat(),
                "days_blocked": (today - reached).days,
            }
        )
    return Listing(items, total, following)


QUERIES: dict[str, Callable[..., Listing]] = {
    "overdue": overdue,
    "stuck": stuck,
    "abandoned": abandoned,
    "entitled-blocked": entitled_blocked,
}
"""Each supervision list by its route name (the benchmark times them all)."""


# ---------------------------------------------------------------------------------------------
# Reassignment


def assigned_open_cases(engine: Engine, user: str) -> list[str]:
    """Ids of the open cases assigned to `user` in the read model, in id order."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(CaseRecord.id)
                .where(CaseRecord.assignee == user, col(CaseRecord.stage).not_in(TERMINAL))
                .order_by(col(CaseRecord.id))
            ).all()
        )
