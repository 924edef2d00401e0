"""The dated facts `/stats` counts, materialised per case at projection time.

Flow statistics (shared/domain.md) are defined by replaying a case's history: a lodging is a
first-time or subsequent application, a decision's processing time runs from the last lodging
and belongs to the procedure assigned by then, an appeal's final outcome depends on the decision
it is about, and `correct_event` moves the date a fact is counted on. None of that depends on the
statistics' window or jurisdiction, which only select facts by their date and case. So the replay
runs once per change of a case (`refresh_facts`, from `write_projection`) and stores what it
finds in `case_stat_facts`; `/stats` then counts rows in SQL instead of replaying every case's
events on every request (db/stats.py).

`case_facts` is the replay itself (pure: events in, facts out); `db.stats.figures` tallies its
facts in Python and is the reference the SQL aggregation is tested against.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, SQLModel, col, delete, select

from db.engine import upsert_into
from db.tables import (
    CaseEventRecord,
    CaseRecord,
    CaseStatCountRecord,
    CaseStatDaysRecord,
    CaseStatFactRecord,
)
from models.enums import DECISION_OUTCOMES, AppealResult, Outcome, Procedure

COUNTED = (
    "lodge",
    "decide",
    "decide_admissibility",
    "decide_appeal",
    # Tracks around a decision (issue 20): a court's decision on a further appeal is the final
    # one, and lodging it means the appeal decision before was not.
    "decide_further_appeal",
    "discontinue",
    "review_abandonment",
    "withdraw",
    # Responsibility procedure (issue 20): outgoing requests and transfers.
    "request_take_charge",
    "request_take_back",
    "record_transfer",
)
"""Actions whose date a figure is counted on (the `from`/`to` window applies to these)."""

CONTEXT = (
    "make_application",
    "record_risk_assessment",
    "assign_procedure",
    "correct_event",
    "lodge_further_appeal",
)
"""Actions the replay needs besides: whether an application was made, the procedure, fixes."""

REPLAYED = frozenset(COUNTED + CONTEXT)
"""Every action the replay reads; events of other actions can change no fact."""

# Fact kinds; each `key` is what the figure is broken down by.
APPLICATION = "application"
"""A lodging on `on`; key `first_time` or `subsequent`."""
DECISION = "decision"
"""A first-instance decision; key the outcome, `days` from the lodging, `procedure` by then."""
APPEAL = "appeal"
"""An appeal decision; key its result (dismissed, quashed_remanded, substituted)."""
APPEAL_OUTCOME = "appeal_outcome"
"""The final outcome an appeal decision leaves (dismissed or substituted), or a further appeal's
decision where one was lodged (issue 20); key that outcome."""
CLOSED = "closed"
"""An application otherwise closed; key `discontinued` or `withdrawn`."""
RESPONSIBILITY = "responsibility"
"""An outgoing responsibility (Dublin/AMMR) act; key `take_charge_request`,
`take_back_request` or `transfer`."""
_RESPONSIBILITY_KEYS = {
    "request_take_charge": "take_charge_request",
    "request_take_back": "take_back_request",
    "record_transfer": "transfer",
}


@dataclass(frozen=True, slots=True)
class EventRow:
    """What the statistics read of one `case_events` row: its columns and a few data fields."""

    case_id: str
    seq: int
    action: str
    event: str | None
    on: date
    outcome: str | None = None
    """`decide`: the outcome; `decide_appeal`: the substituted outcome."""
    subsequent: bool | None = None
    """`lodge`: a subsequent application."""
    admissible: bool | None = None
    """`decide_admissibility`: false is an inadmissibility decision."""
    procedure: str | None = None
    """`assign_procedure`: the procedure from then on."""
    result: str | None = None
    """`decide_appeal`: dismissed, quashed_remanded or substituted."""
    corrects: str | None = None
    """`correct_event`: the legal event whose date it fixes."""
    corrected_to: date | None = None
    """`correct_event`: the right date."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One counted thing of one case, on the (corrected) day it legally happened."""

    seq: int
    """The event it comes from (with `kind`, unique within the case)."""
    kind: str
    key: str
    on: date
    days: int | None = None
    """`decision`: days from the lodging (none without one)."""
    procedure: str | None = None
    """`decision`: the procedure the case was in."""


_WITH_DATA = frozenset(
    {
        "lodge",
        "decide",
        "decide_admissibility",
        "decide_appeal",
        "decide_further_appeal",
        "assign_procedure",
        "correct_event",
    }
)


def event_row(
    case_id: str, seq: int, action: str, event: str | None, on: date, data: dict[str, Any] | None
) -> EventRow:
    """An `EventRow` from a `case_events` row's columns (`data` decoded)."""
    if action not in _WITH_DATA or not data:
        return EventRow(case_id, seq, action, event, on)
    fixed_to = data.get("date") if action == "correct_event" else None
    return EventRow(
        case_id,
        seq,
        action,
        event,
        on,
        outcome=data.get("outcome"),
        subsequent=data.get("subsequent"),
        admissible=data.get("admissible"),
        procedure=data.get("procedure"),
        result=data.get("result"),
        corrects=data.get("event") if action == "correct_event" else None,
        corrected_to=date.fromisoformat(fixed_to) if isinstance(fixed_to, str) else None,
    )


# ---------------------------------------------------------------------------------------------
# The replay (mirrors models/lifecycle.py)


_DECISION_VALUES = frozenset(o.value for o in DECISION_OUTCOMES)
_WITHDRAWN = Outcome.IMPLICITLY_WITHDRAWN.value


def _first_instance(row: EventRow) -> bool:
    """A first-instance decision: `decide`, or an admissibility decision finding inadmissible."""
    return row.action == "decide" or (
        row.action == "decide_admissibility" and row.admissible is False
    )


def _corrections(rows: list[EventRow]) -> dict[tuple[int, str], date]:
    """(seq, legal event) → corrected date: `correct_event` fixes the last one before it."""
    latest: dict[str, int] = {}
    fixed: dict[tuple[int, str], date] = {}
    for row in rows:
        if row.corrects is not None and row.corrected_to is not None:
            if row.corrects in latest:
                fixed[(latest[row.corrects], row.corrects)] = row.corrected_to
            continue
        if row.event:
            latest[row.event] = row.seq
        if row.action == "decide_admissibility" and row.admissible is False:
            # The workflow records an inadmissibility decision as a `decided` occurrence too.
            latest["decided"] = row.seq
    return fixed


def case_facts(rows: list[EventRow]) -> list[Fact]:
    """Every fact of one case, from its events in `seq` order (other actions are ignored)."""
    rows = [r for r in rows if r.action in REPLAYED]
    fixed = _corrections(rows) if any(r.action == "correct_event" for r in rows) else {}
    facts: list[Fact] = []
    made, lodgings = False, 0
    lodged_on: date | None = None
    procedure: str = Procedure.REGULAR.value
    outcome: str | None = None
    appeal_seq = -1  # the latest appeal decision that left a final outcome
    for row in rows:
        action = row.action
        if row.event == "made":
            made = True
        if action == "lodge":
            day = fixed.get((row.seq, "lodged"), row.on)
            # A second lodging in the same case (back from return at risk) is subsequent too.
            kind = "subsequent" if row.subsequent or lodgings else "first_time"
            lodgings, lodged_on = lodgings + 1, day
            facts.append(Fact(row.seq, APPLICATION, kind, day))
        elif action == "assign_procedure":
            procedure = row.procedure or procedure
        elif _first_instance(row):
            outcome = row.outcome if action == "decide" else Outcome.INADMISSIBLE.value
            day = fixed.get((row.seq, "decided"), row.on)
            if outcome:
                days = (day - lodged_on).days if lodged_on is not None else None
                facts.append(Fact(row.seq, DECISION, outcome, day, days, procedure))
        elif action == "decide_appeal":
            final: str | None = None
            if row.result == AppealResult.DISMISSED.value:
                final = outcome
            elif row.result == AppealResult.SUBSTITUTED.value and outcome != _WITHDRAWN:
                final = outcome = row.outcome
            else:
                # Remanded (a successful appeal against a discontinuation too): first instance.
                outcome = None
            day = fixed.get((row.seq, "appeal_decided"), row.on)
            if row.result:
                facts.append(Fact(row.seq, APPEAL, row.result, day))
                if final in _DECISION_VALUES:
                    assert final is not None  # for mypy: the set holds strings only
                    facts.append(Fact(row.seq, APPEAL_OUTCOME, final, day))
                    appeal_seq = row.seq
        elif action == "lodge_further_appeal":
            # The appeal decision is before a court: it was no final decision after all.
            facts = [f for f in facts if not (f.kind == APPEAL_OUTCOME and f.seq == appeal_seq)]
        elif action == "decide_further_appeal" and row.result:
            further: str | None = None
            if row.result == AppealResult.DISMISSED.value:
                further = outcome  # the appeal decision stands
            elif row.result == AppealResult.SUBSTITUTED.value:
                further = outcome = row.outcome
            # Remanded: the appeal body decides again (its decision is counted then).
            day = fixed.get((row.seq, "further_appeal_decided"), row.on)
            if further in _DECISION_VALUES:
                assert further is not None  # for mypy: the set holds strings only
                facts.append(Fact(row.seq, APPEAL_OUTCOME, further, day))
        elif action in _RESPONSIBILITY_KEYS:
            facts.append(Fact(row.seq, RESPONSIBILITY, _RESPONSIBILITY_KEYS[action], row.on))
        elif row.event in ("discontinued", "withdrawn"):
            assert row.event is not None  # for mypy: checked on the line above
            if row.event == "discontinued":
                outcome = _WITHDRAWN
            day = fixed.get((row.seq, row.event), row.on)
            # A person who never applied (withdrawn at the border) is no closed application.
            if made:
                facts.append(Fact(row.seq, CLOSED, row.event, day))
    return facts


def facts_by_case(events: Iterable[EventRow]) -> Iterator[tuple[str, list[Fact]]]:
    """(case id, its facts) for events of any number of cases, in any order."""
    ordered = sorted(events, key=lambda e: (e.case_id, e.seq))
    for case_id, rows in groupby(ordered, key=lambda e: e.case_id):
        yield case_id, case_facts(list(rows))


def fact_rows(
    case_id: str, jurisdiction: str | None, facts: Iterable[Fact]
) -> list[dict[str, Any]]:
    """`case_stat_facts` rows for a core (executemany) insert."""
    return [
        {
            "case_id": case_id,
            "seq": f.seq,
            "kind": f.kind,
            "jurisdiction": jurisdiction,
            "key": f.key,
            "on": f.on,
            "days": f.days,
            "procedure": f.procedure,
        }
        for f in facts
    ]


# ---------------------------------------------------------------------------------------------
# The rollup: the facts summed by day and month (readmodel.py `CaseStatCountRecord`)

DAY, MONTH, ALL_TIME = "d", "m", "a"
"""`span` of a rollup row: its `on` is the day, the month's first day, or `EVER` (any time)."""

EVER = date.min
"""The `on` of the all-time ("a") processing-days rows."""

CountKey = tuple[str, date, str, str, str]
"""A `case_stat_counts` row's key: (span, on, jurisdiction, kind, key)."""

DaysKey = tuple[str, date, str, str, int]
"""A `case_stat_days` row's key: (span, on, jurisdiction, procedure, days)."""


@dataclass
class Rollup:
    """How many facts each rollup row counts, or (with negative numbers) a change of those."""

    counts: Counter[CountKey] = field(default_factory=Counter)
    days: Counter[DaysKey] = field(default_factory=Counter)

    def add(self, row: Mapping[Any, Any], sign: int = 1) -> None:
        """Count one `case_stat_facts` row (`fact_rows`' shape) in every row it is summed into.

        Every fact is counted on its day and in its month; a decision with a processing time
        also in the days histogram on its day, in its month and of all time.
        """
        on: date = row["on"]
        month = on.replace(day=1)
        jurisdiction = row["jurisdiction"] or ""
        kind, key = row["kind"], row["key"]
        self.counts[(DAY, on, jurisdiction, kind, key)] += sign
        self.counts[(MONTH, month, jurisdiction, kind, key)] += sign
        procedure, days = row["procedure"], row["days"]
        if kind == DECISION and procedure is not None and days is not None:
            for span, when in ((DAY, on), (MONTH, month), (ALL_TIME, EVER)):
                self.days[(span, when, jurisdiction, procedure, days)] += sign

    def changes(self) -> Rollup:
        """This without its zeros: the rows a change must touch."""
        return Rollup(
            Counter({k: n for k, n in self.counts.items() if n}),
            Counter({k: n for k, n in self.days.items() if n}),
        )


_COUNT_KEY = ("span", "on", "jurisdiction", "kind", "key")
_DAYS_KEY = ("span", "on", "jurisdiction", "procedure", "days")


def _upsert(
    conn: Connection, table: sa.Table, names: tuple[str, ...], change: Counter[Any]
) -> None:
    """Add `change` (key → how many) to `table`'s `n`, inserting rows it does not have yet."""
    if not change:
        return
    insert = upsert_into(conn.dialect.name, table)
    # `n = n + excluded.n` adds to what another transaction committed meanwhile, so writers of
    # different cases never lose each other's counts. Rows go in key order: two writers lock
    # the rows they share in the same order, so they wait for each other, never deadlock.
    statement = insert.on_conflict_do_update(
        index_elements=list(names), set_={"n": table.c.n + insert.excluded.n}
    )
    conn.execute(
        statement,
        [dict(zip(names, key, strict=True)) | {"n": n} for key, n in sorted(change.items())],
    )
    # A row taken down to nothing goes: a rebuild (`rebuild_rollup`) has no zero rows, and the
    # read model must come out the same whichever way it was written.
    lowered = sorted(key for key, n in change.items() if n < 0)
    if lowered:
        conn.execute(
            sa.delete(table).where(
                sa.tuple_(*(table.c[name] for name in names)).in_(lowered), table.c.n == 0
            )
        )


def apply_rollup(conn: Connection, change: Rollup) -> None:
    """Add a change (`Rollup.changes`) to `case_stat_counts` and `case_stat_days`."""
    tables = SQLModel.metadata.tables
    _upsert(conn, tables[CaseStatCountRecord.__tablename__], _COUNT_KEY, change.counts)
    _upsert(conn, tables[CaseStatDaysRecord.__tablename__], _DAYS_KEY, change.days)


# ---------------------------------------------------------------------------------------------
# SQL

_FACT_COLUMNS = ("seq", "kind", "jurisdiction", "key", "on", "days", "procedure")


def _stored(row: Mapping[Any, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in _FACT_COLUMNS)


def refresh_facts(session: Session, case_id: str, *, actions: Iterable[str] | None = None) -> None:
    """Recompute one case's facts from its `case_events` rows in `session`, and the rollup.

    With `actions` (those of the events just written), nothing is done unless one of them is
    replayed: events of other actions change no fact, and most changes (contacts, interviews,
    clock settlements) are of those. Facts that come out as stored are left alone; otherwise
    they are replaced (delete + insert) and the rollup gets the difference: the stored facts'
    contribution taken off, the new ones' added. The caller commits.
    """
    if actions is not None and REPLAYED.isdisjoint(actions):
        return
    # Events added in this session must be visible to the select below.
    session.flush()
    # Lock the case row (PostgreSQL; SQLite serialises writers anyway) so that two writers of
    # the same case refresh one after the other, each reading the events the other committed:
    # otherwise the later commit could store facts computed without the earlier one's events,
    # or take the same stored facts off the rollup twice.
    jurisdiction = session.exec(
        select(CaseRecord.jurisdiction).where(CaseRecord.id == case_id).with_for_update()
    ).first()
    conn = session.connection()
    e = SQLModel.metadata.tables[CaseEventRecord.__tablename__].c
    rows = conn.execute(
        sa.select(e.seq, e.action, e.event, e.on, e.data)
        # A retracted entry counts nowhere (api.md): not in the statistics either.
        .where(e.case_id == case_id, e.action.in_(REPLAYED), sa.not_(e.retracted))
        .order_by(e.seq)
    )
    new = fact_rows(case_id, jurisdiction, case_facts([event_row(case_id, *r) for r in rows]))
    f = SQLModel.metadata.tables[CaseStatFactRecord.__tablename__]
    old: list[Mapping[Any, Any]] = [
        r._mapping
        for r in conn.execute(
            sa.select(*(f.c[n] for n in _FACT_COLUMNS)).where(f.c.case_id == case_id)
        )
    ]
    # Sets: (seq, kind) is the facts' key, so none repeats within a case.
    if set(map(_stored, old)) == set(map(_stored, new)):
        return  # a replayed event that changed no fact (a repeated batch, an unused context)
    session.exec(delete(CaseStatFactRecord).where(col(CaseStatFactRecord.case_id) == case_id))
    if new:
        conn.execute(sa.insert(f), new)
    change = Rollup()
    for row in old:
        change.add(row, -1)
    for row in new:
        change.add(row)
    apply_rollup(conn, change.changes())


def _fact_table() -> sa.TableClause:
    """`case_stat_facts` as the migrations see it (not the model, which may move on)."""
    return sa.table(
        "case_stat_facts",
        sa.column("case_id", sa.String),
        sa.column("seq", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("jurisdiction", sa.String),
        sa.column("key", sa.String),
        sa.column("on", sa.Date),
        sa.column("days", sa.Integer),
        sa.column("procedure", sa.String),
    )


def rebuild_rollup(conn: Connection, *, chunk: int = 5000) -> int:
    """Recompute the rollup from every stored fact (migrations, `backfill`); its row count.

    Reads the facts once (streamed) and replaces every `case_stat_counts` and `case_stat_days`
    row, so it is exact whatever the rollup held before.
    """
    counts = sa.table(
        "case_stat_counts", *(sa.column(n) for n in _COUNT_KEY), sa.column("n", sa.Integer)
    )
    days = sa.table(
        "case_stat_days", *(sa.column(n) for n in _DAYS_KEY), sa.column("n", sa.Integer)
    )
    f = _fact_table()
    total = Rollup()
    rows = conn.execute(
        sa.select(
            f.c.kind, f.c.jurisdiction, f.c.key, f.c.on, f.c.days, f.c.procedure
        ).execution_options(stream_results=True, yield_per=5000)
    )
    for row in rows:
        total.add(row._mapping)
    total = total.changes()
    conn.execute(sa.delete(counts))
    conn.execute(sa.delete(days))
    for table, names, counter in (
        (counts, _COUNT_KEY, total.counts),
        (days, _DAYS_KEY, total.days),
    ):
        items = [dict(zip(names, key, strict=True)) | {"n": n} for key, n in counter.items()]
        for start in range(0, len(items), chunk):
            conn.execute(sa.insert(table), items[start : start + chunk])
    return len(total.counts) + len(total.days)


def backfill(conn: Connection, *, chunk: int = 5000) -> int:
    """Recompute every case's facts from `case_events` (migrations); the number of facts.

    Streams the replayed events in (case, seq) order, the primary key's, and inserts in chunks,
    so memory stays flat however many cases there are. Existing facts are replaced, and the
    rollup is rebuilt from them once it exists (migration 0006 runs this before 0007 adds it).
    """
    e = sa.table(
        "case_events",
        sa.column("case_id", sa.String),
        sa.column("seq", sa.Integer),
        sa.column("action", sa.String),
        sa.column("event", sa.String),
        sa.column("on", sa.Date),
        sa.column("data", sa.JSON),
    )
    c = sa.table("cases", sa.column("id", sa.String), sa.column("jurisdiction", sa.String))
    facts_table = _fact_table()
    conn.execute(sa.delete(facts_table))
    query = (
        sa.select(e.c.case_id, e.c.seq, e.c.action, e.c.event, e.c.on, e.c.data, c.c.jurisdiction)
        .select_from(e.outerjoin(c, c.c.id == e.c.case_id))
        .where(e.c.action.in_(sorted(REPLAYED)))
        .order_by(e.c.case_id, e.c.seq)
    )
    pending: list[dict[str, Any]] = []
    total = 0
    # Options on the statement, not the connection (which would keep them for the inserts:
    # psycopg cannot executemany on the server-side cursor streaming needs).
    rows = conn.execute(query.execution_options(stream_results=True, yield_per=2000))
    for case_id, group in groupby(rows, key=lambda r: str(r[0])):
        events = list(group)
        facts = case_facts([event_row(*r[:6]) for r in events])
        pending += fact_rows(case_id, events[0][6], facts)
        if len(pending) >= chunk:
            conn.execute(sa.insert(facts_table), pending)
            total, pending = total + len(pending), []
    if pending:
        conn.execute(sa.insert(facts_table), pending)
        total += len(pending)
    if sa.inspect(conn).has_table("case_stat_counts"):
        rebuild_rollup(conn)
    return total
