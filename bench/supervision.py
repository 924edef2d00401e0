"""Benchmark: the supervision lists, `/stats` and legal aid deadlines on a synthetic read model.

    .venv/bin/python -m bench.supervision [--cases 10000 | --sizes 1000,10000,100000]
        [--database-url URL] [--repeat 30] [--budget 20] [--json-out PATH]

Seeds cases, their events and deadlines straight into the read-model tables (no workflows),
then times the same query functions the routes call and prints p50/p95 per route, with a
baseline measured in the same run (`SELECT count(*) FROM cases`) and each route's ratio to it,
so results compare across machines. `--sizes` sweeps several caseloads in one database: it
seeds up to the first size, measures, adds cases up to the next, and so on, so the 100,000-case
figures cost one 100,000-case seeding. Without `--database-url` it uses a throwaway SQLite file;
a given database must be migrated-or-empty and hold no cases (the script never deletes).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from api.routes.legal_aid import DEFAULT_WITHIN_DAYS
from api.schemas import LegalAidDeadlines
from db import legal_aid, stats, supervision
from db.engine import make_engine, migrate
from db.stat_facts import Rollup, apply_rollup, case_facts, event_row, fact_rows
from db.stuck_arms import stuck_arms
from db.stuck_arms import total as stuck_total
from db.tables import CaseEventRecord, CaseRecord, CaseStatFactRecord, DeadlineRecord
from models.actions import parse_input
from models.case_state import new_case
from models.effects import apply
from models.enums import Action, IdentifiedAt, Outcome, Procedure, Stage
from models.rules import all_packs
from models.service_levels import DEFAULT_SERVICE_LEVELS
from models.stages import OPEN_STAGES

_JURISDICTIONS = [("rs", "rs-2023"), ("rs", "rs-2023"), ("eu", "eu-2013"), ("pl", "pl-2015")]
_STAGE_WEIGHTS = {
    Stage.IDENTIFIED: 2,
    Stage.SCREENING: 1,
    Stage.REFERRED: 1,
    Stage.APPLICATION_MADE: 2,
    Stage.REGISTERED: 4,
    Stage.LODGED: 14,
    Stage.ADMISSIBILITY: 2,
    Stage.INTERVIEW_SCHEDULED: 8,
    Stage.INTERVIEWED: 6,
    Stage.DECIDED: 3,
    Stage.NOTIFIED: 3,
    Stage.APPEAL_LODGED: 6,
    Stage.INTEGRATION: 12,
    Stage.RETURN: 8,
    Stage.DISCONTINUED: 5,
    Stage.WITHDRAWN: 4,
    Stage.CLOSED: 19,
}
_ORDER = list(_STAGE_WEIGHTS)
_LODGED_FROM = _ORDER.index(Stage.LODGED)
_DECIDED_FROM = _ORDER.index(Stage.DECIDED)
_WATCHED = {
    Stage.APPLICATION_MADE,
    Stage.REGISTERED,
    Stage.LODGED,
    Stage.ADMISSIBILITY,
    Stage.INTERVIEW_SCHEDULED,
    Stage.INTERVIEWED,
    Stage.NOTIFIED,
    Stage.APPEAL_LODGED,
}
_OUTCOMES = [o for o in Outcome if o is not Outcome.IMPLICITLY_WITHDRAWN]


# ---------------------------------------------------------------------------------------------
# Synthetic read model


def _case(i: int, rng: random.Random, today: date, now: datetime) -> dict[str, Any]:
    """One case row, with everything `case_events` and `deadlines` are derived from."""
    family, pack = rng.choice(_JURISDICTIONS)
    stage = rng.choices(_ORDER, weights=list(_STAGE_WEIGHTS.values()))[0]
    identified = today - timedelta(days=rng.randint(0, 720))
    rank = _ORDER.index(stage)
    lodged = identified + timedelta(days=rng.randint(1, 20)) if rank >= _LODGED_FROM else None
    lodged = min(lodged, today) if lodged else None
    decided = None
    if rank >= _DECIDED_FROM and stage is not Stage.DISCONTINUED and lodged is not None:
        decided = min(lodged + timedelta(days=rng.randint(15, 300)), today)
    start = decided or lodged or identified
    stage_since = start + timedelta(days=rng.randint(0, max(0, (today - start).days)))
    open_ = stage not in (Stage.WITHDRAWN, Stage.CLOSED)
    in_procedure = stage in _WATCHED or stage is Stage.DECIDED
    overdue = open_ and in_procedure and rng.random() < 0.25
    abandoned = open_ and stage in _WATCHED and rng.random() < 0.1
    blocked = open_ and lodged is not None and decided is None and rng.random() < 0.15
    days_open = max(1, (today - start).days)
    return {
        "id": f"bench{i:07d}",
        "jurisdiction": family,
        "stage": stage.value,
        "stage_since": stage_since,
        "procedure": rng.choices(list(Procedure), weights=[70, 15, 5, 10])[0].value,
        "outcome": rng.choice(_OUTCOMES).value if decided else None,
        "final": stage in (Stage.INTEGRATION, Stage.RETURN),
        "pack_id": pack,
        "pack_version": "1",
        "pack_pinned": lodged is not None,
        "unaccompanied_child": rng.random() < 0.05,
        "vulnerable": rng.random() < 0.2,
        "legal_aid_org": rng.choice([None, None, "org-a", "org-b"]),
        "assignee": f"cw-{rng.randint(0, 49)}",
        "presumed_abandoned": abandoned,
        "abandoned_since": today - timedelta(days=rng.randint(0, days_open)) if abandoned else None,
        "overdue": overdue,
        "overdue_since": today - timedelta(days=rng.randint(0, days_open)) if overdue else None,
        "overdue_clock": "decision" if overdue else None,
        "entitled_blocked": blocked,
        "labour_market_reached_on": today - timedelta(days=rng.randint(0, days_open))
        if blocked
        else None,
        "personal_id_issued": stage is Stage.INTEGRATION,
        "next_deadline_due": today + timedelta(days=rng.randint(1, 90)) if open_ else None,
        "next_deadline_clock": "decision" if open_ else None,
        "last_action_on": stage_since,
        "last_contact_on": stage_since,
        "identified_on": identified,
        "lodged_on": lodged,
        "decided_on": decided,
        "subsequent": rng.random() < 0.08,
        "last_seq": 0,
        "updated_at": now,
    }


def _events(case: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The history a case like this would have recorded (the actions the statistics read)."""
    found: list[tuple[str, str | None, date, dict[str, Any]]] = [
        ("identify", "identified", case["identified_on"], {"identified_at": "border"}),
    ]
    if case["lodged_on"]:
        found += [
            ("make_application", "made", case["identified_on"], {}),
            ("register", "registered", case["identified_on"], {}),
            ("lodge", "lodged", case["lodged_on"], {"subsequent": case["subsequent"]}),
        ]
        if case["procedure"] != "regular":
            found.append(
                (
                    "assign_procedure",
                    "procedure_assigned",
                    case["lodged_on"],
                    {"procedure": case["procedure"]},
                )
            )
    if case["overdue"]:
        found.append(("deadline_expired", None, case["overdue_since"], {"clock": "decision"}))
    if case["decided_on"]:
        found.append(("decide", "decided", case["decided_on"], {"outcome": case["outcome"]}))
        found.append(("notify_decision", "notified", case["decided_on"], {}))
    stage, since = case["stage"], case["stage_since"]
    if stage == Stage.APPEAL_LODGED.value:
        found.append(("lodge_appeal", "appeal_lodged", since, {}))
    if stage in (Stage.INTEGRATION.value, Stage.RETURN.value) and case["procedure"] == "regular":
        found.append(("decide_appeal", "appeal_decided", since, {"result": "dismissed"}))
    if stage == Stage.DISCONTINUED.value:
        found.append(("discontinue", "discontinued", since, {}))
    if stage == Stage.WITHDRAWN.value:
        found.append(("withdraw", "withdrawn", since, {}))
    if case["presumed_abandoned"]:
        found.append(
            ("presumed_abandoned", None, case["abandoned_since"], {"days_without_contact": 30})
        )
    case["last_seq"] = len(found)
    return [
        {
            "case_id": case["id"],
            "seq": seq,
            "actor": "bench",
            "action": action,
            "event": event,
            "on": on,
            "recorded_at": now,
            "note": None,
            "data": data,
        }
        for seq, (action, event, on, data) in enumerate(found, start=1)
    ]


@functools.cache
def _provenance_templates(family: str) -> dict[str, dict[str, Any]]:
    """A real deadline's provenance per clock, as the projection stores it, for `family`'s pack.

    From the domain itself (a case identified, registered and lodged under the pack in force),
    so each seeded row carries the ~25 keys and ~700 bytes of JSON a projected one does, which
    the lists decode and answer row by row; a stand-in of two keys made them look cheaper.
    """
    now = datetime(2026, 1, 5, 12, tzinfo=UTC)
    state = new_case(
        case_id="template",
        family=family,
        identified_on=date(2026, 1, 1),
        identified_at=IdentifiedAt.INLAND,
        unaccompanied_child=False,
        vulnerable=False,
        legal_aid_org=None,
        actor="bench",
        recorded_at=now,
    )
    for action, on in (
        (Action.MAKE_APPLICATION, "2026-01-02"),
        (Action.REGISTER, "2026-01-02"),
        (Action.LODGE, "2026-01-05"),
    ):
        state = apply(
            state,
            action,
            parse_input(action, {"on": on}),
            actor="bench",
            recorded_at=now,
            today=now.date(),
        ).state
    return {d.clock.value: d.model_dump(mode="json") for d in state.deadlines(now.date(), now)}


def _provenance(case: dict[str, Any], clock: str, due: date, status: str) -> dict[str, Any]:
    templates = _provenance_templates(case["jurisdiction"])
    # A pack without the clock (eu and pl have no lodging clock) borrows the first pack's,
    # renamed; the status-dependent keys (completed_on, late...) stay the template's: what is
    # measured is the size and shape of the JSON, not its truth.
    template = templates.get(clock) or _provenance_templates(_JURISDICTIONS[0][0])[clock]
    return {
        **template,
        "clock": clock,
        "due": due.isoformat(),
        "status": status,
        "trigger_date": (case["lodged_on"] or due).isoformat(),
        "rule": f"{case['pack_id']}/{clock}",
        "pack": case["pack_id"],
    }


def _deadlines(case: dict[str, Any], today: date, now: datetime) -> list[dict[str, Any]]:
    if not case["lodged_on"]:
        return []
    lodged: date = case["lodged_on"]

    def row(clock: str, due: date, status: str, kind: str = "act") -> dict[str, Any]:
        return {
            "case_id": case["id"],
            "clock": clock,
            "due": due,
            "status": status,
            "actor": "authority",
            "kind": kind,
            "fires_at": now,
            "rule": f"{case['pack_id']}/{clock}",
            "pack": case["pack_id"],
            "provenance": _provenance(case, clock, due, status),
            # What the triggers of migration 0018 would copy from the case, given here so that
            # they skip their lookup: 2,700,000 of them at 1,000,000 cases.
            "legal_aid_org": case["legal_aid_org"],
        }

    decision_status = "expired" if case["overdue"] else ("met" if case["decided_on"] else "running")
    decision_due = (
        case["overdue_since"] - timedelta(days=1)
        if case["overdue"]
        else lodged + timedelta(days=182)
    )
    if decision_status == "running" and decision_due < today:
        # The workflow expires a clock on its due day: none is still running after it. Left
        # running, years of past-due clocks would make every legal aid deadline list huge.
        decision_status = "expired"
    labour_status = "reached" if case["entitled_blocked"] else "cancelled"
    return [
        row("lodging", lodged, "met"),
        row("decision", decision_due, decision_status),
        row("labour_market_access", lodged + timedelta(days=182), labour_status, "entitlement"),
    ]


def _copy(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: `rows` into `table` by `COPY ... FROM STDIN`, one round trip.

    A core executemany on psycopg sends one INSERT per row (pipelined): at 1,000,000 cases
    (about 11 million rows) that was most of the seeding time. Columns the rows leave out get
    their Python scalar default, or the server's. JSON values go in as JSON text.
    """
    if not rows:
        return
    given = rows[0].keys()
    columns = [
        c
        for c in table.columns
        if c.key in given or (c.default is not None and getattr(c.default, "is_scalar", False))
    ]
    defaults = {c.key: getattr(c.default, "arg", None) for c in columns if c.key not in given}
    as_json = {c.key for c in columns if isinstance(c.type, sa.JSON)}
    names = ", ".join(f'"{c.name}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c.key])
                    if c.key in as_json
                    else (row[c.key] if c.key in row else defaults[c.key])
                    for c in columns
                ]
            )


def seed(
    engine: Engine, n: int, *, today: date, rng: random.Random, start: int = 0
) -> dict[str, int]:
    """Insert synthetic cases `start`..`n - 1` and what they project to; the row counts.

    Each case comes with its events, deadlines and statistics facts.

    Rows go in 10,000 cases at a time: on PostgreSQL by `COPY` (`_copy`), elsewhere as core
    multi-row inserts (executemany), never ORM objects. The facts come from the same replay
    the projection runs (`refresh_facts`), on the events just generated, and are added up in
    one statistics rollup written at the end through the same upsert the projection uses (an
    upsert after every chunk was an eighth of the seeding time).
    """
    now = datetime.now(UTC)
    tables = SQLModel.metadata.tables
    counts = {"cases": 0, "case_events": 0, "deadlines": 0, "case_stat_facts": 0}
    rollup = Rollup()
    chunk = 10_000
    for offset in range(start, n, chunk):
        cases = [_case(i, rng, today, now) for i in range(offset, min(n, offset + chunk))]
        events: list[dict[str, Any]] = []
        facts: list[dict[str, Any]] = []
        for case in cases:
            history = _events(case, now)
            events += history
            rows = [
                event_row(e["case_id"], e["seq"], e["action"], e["event"], e["on"], e["data"])
                for e in history
            ]
            facts += fact_rows(case["id"], case["jurisdiction"], case_facts(rows))
        deadlines = [d for c in cases for d in _deadlines(c, today, now)]
        for fact in facts:
            rollup.add(fact)
        batches = [
            (CaseRecord.__tablename__, cases),
            (CaseEventRecord.__tablename__, events),
            (DeadlineRecord.__tablename__, deadlines),
            (CaseStatFactRecord.__tablename__, facts),
        ]
        with engine.begin() as conn:
            for name, rows_ in batches:
                table = tables[str(name)]
                if not rows_:
                    continue
                if conn.dialect.name == "postgresql":
                    _copy(conn, table, rows_)
                else:
                    conn.execute(table.insert(), rows_)
        counts["cases"] += len(cases)
        counts["case_events"] += len(events)
        counts["deadlines"] += len(deadlines)
        counts["case_stat_facts"] += len(facts)
    with engine.begin() as conn:
        apply_rollup(conn, rollup.changes())
    return counts


# ---------------------------------------------------------------------------------------------
# Timing


def percentile(samples: list[float], percent: int) -> float:
    """Nearest-rank percentile, as the statistics use."""
    ordered = sorted(samples)
    return ordered[max(1, -(-percent * len(ordered) // 100)) - 1]


def measure(
    call: Callable[[], object], repeat: int, warmup: int = 2, budget: float | None = None
) -> list[float]:
    """Wall-clock milliseconds of `repeat` calls, after `warmup` untimed ones (caches, plans).

    With a `budget` (seconds), sampling stops early once the timed calls have taken that long
    and at least 3 were made, so a query that takes seconds does not hold a sweep for minutes.
    """
    for _ in range(warmup):
        call()
    samples: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
        if budget is not None and len(samples) >= 3 and sum(samples) > budget * 1000:
            break
    return samples


def _levels() -> tuple[list[Stage], dict[Stage, int], dict[str, dict[Stage, int]]]:
    """The stuck list's stages and service levels, as `db.supervision.stuck` takes them."""
    default = supervision.service_levels(None)
    by_pack = {p.id: supervision.service_levels(p) for p in all_packs()}
    return list(DEFAULT_SERVICE_LEVELS), default, by_pack


LEGAL_AID_ORG = "org-a"
"""The organisation whose deadlines are timed (a quarter of the synthetic cases)."""

LEGAL_AID_WITHIN_DAYS = 14
"""The horizon timed since session 7; the route's default (`DEFAULT_WITHIN_DAYS`) is timed too."""


def _answered(rows: list[legal_aid.OrgDeadline], **more: Any) -> str:
    """`GET /legal-aid/deadlines`' answer to `rows`, as FastAPI writes it.

    Validated and written by the route's response model; `more` is the paged answer's
    `next_cursor`.
    """
    answer = LegalAidDeadlines.model_validate(
        {"items": [legal_aid.deadline_item(d) for d in rows], **more}
    )
    return answer.model_dump_json(exclude_unset=True)


def workloads(engine: Engine, today: date) -> dict[str, Callable[[], object]]:
    """What is timed: each route's query function, called as the route calls it."""
    none = supervision.Filters()
    narrow = supervision.Filters(jurisdiction="rs", assignee="cw-7")

    def baseline() -> object:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()

    def second_page() -> object:
        first = supervision.stuck(engine, none, today=today, limit=50)
        return supervision.stuck(engine, none, today=today, cursor=first.next_cursor, limit=50)

    def deadlines(days: int) -> Callable[[], object]:
        def call() -> object:
            # As `GET /legal-aid/deadlines` does: the query, the items, and the answer
            # validated and written by its response model (FastAPI's own path).
            until = today + timedelta(days=days)
            return _answered(legal_aid.org_deadlines(engine, LEGAL_AID_ORG, until=until))

        return call

    def deadline_pages() -> object:
        # Two requests, as a client reads on: the first page, then the one after its cursor.
        until = today + timedelta(days=DEFAULT_WITHIN_DAYS)
        answers = []
        cursor = None
        for _ in range(2):
            page = legal_aid.org_deadline_page(
                engine, LEGAL_AID_ORG, until=until, cursor=cursor, limit=50
            )
            answers.append(_answered(page.rows, next_cursor=page.next_cursor))
            cursor = page.next_cursor
        return answers

    def stuck_total_counted() -> object:
        # Before migration 0016: the stuck total counted case by case (one range per arm).
        arms = [a.on_cases() for a in stuck_arms(today, *_levels())]
        with engine.connect() as conn:
            total = sum(
                (sa.select(sa.func.count()).where(arm).scalar_subquery() for arm in arms),
                start=sa.literal(0),
            )
            return conn.execute(sa.select(total)).scalar_one()

    def stuck_total_tallied() -> object:
        arms = stuck_arms(today, *_levels())
        with engine.connect() as conn:
            return conn.execute(sa.select(stuck_total(arms, today, None, None))).scalar_one()

    def backlog_counted() -> object:
        # Before migration 0016: every open stage's cases and the overdue ones counted.
        c = SQLModel.metadata.tables["cases"].c
        counts = [
            sa.select(sa.func.count()).where(c.stage == s.value).scalar_subquery()
            for s in OPEN_STAGES
        ]
        late = sa.select(sa.func.count()).where(
            c.overdue == sa.true(), c.stage.not_in(supervision.TERMINAL)
        )
        with engine.connect() as conn:
            return conn.execute(sa.select(*counts, late.scalar_subquery())).one()

    return {
        "baseline: SELECT count(*) FROM cases": baseline,
        "stuck total, counted case by case (before 0016)": stuck_total_counted,
        "stuck total from the tallies": stuck_total_tallied,
        "backlog, counted case by case (before 0016)": backlog_counted,
        "backlog from the tallies": lambda: stats.backlog(engine),
        "GET /supervision/overdue": lambda: supervision.overdue(engine, none, today=today),
        "GET /supervision/stuck": lambda: supervision.stuck(engine, none, today=today),
        "GET /supervision/stuck (pages 1+2)": second_page,
        "GET /supervision/stuck?jurisdiction&assignee": lambda: supervision.stuck(
            engine, narrow, today=today
        ),
        "GET /supervision/abandoned": lambda: supervision.abandoned(engine, none, today=today),
        "GET /supervision/entitled-blocked": lambda: supervision.entitled_blocked(
            engine, none, today=today
        ),
        f"GET /legal-aid/deadlines?within_days={LEGAL_AID_WITHIN_DAYS}": deadlines(
            LEGAL_AID_WITHIN_DAYS
        ),
        f"GET /legal-aid/deadlines (default, {DEFAULT_WITHIN_DAYS} days)": deadlines(
            DEFAULT_WITHIN_DAYS
        ),
        "GET /legal-aid/deadlines?limit=50 (pages 1+2)": deadline_pages,
        "GET /stats": lambda: stats.compute(engine, today=today),
        "GET /stats?from&to (90 days)&jurisdiction": lambda: stats.compute(
            engine,
            jurisdiction="rs",
            date_from=today - timedelta(days=90),
            date_to=today,
            today=today,
        ),
    }


# ---------------------------------------------------------------------------------------------
# Command line


@contextmanager
def _database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="asylumflow-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def _analyze(engine: Engine) -> None:
    """Fresh planner statistics, as a database that has lived a while would have.

    Both SQLite and PostgreSQL plan from them. PostgreSQL also gets a VACUUM, as autovacuum
    would have run after so many inserts: it sets the visibility map that index-only scans
    need, without which a fresh table reads the heap for every index entry.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        return
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))


def database_bytes(engine: Engine) -> int:
    """The database's size on disk: tables, indexes and their overhead (SQLite: its pages)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            query = "SELECT pg_database_size(current_database())"
            return int(conn.execute(sa.text(query)).scalar_one())
        pages = conn.execute(sa.text("PRAGMA page_count")).scalar_one()
        return int(pages * conn.execute(sa.text("PRAGMA page_size")).scalar_one())


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or any(n < 1 for n in sizes) or sizes != sorted(set(sizes)):
        raise argparse.ArgumentTypeError("increasing positive case counts, e.g. 1000,10000")
    return sizes


def _table(result: dict[str, Any], dialect: str, repeat: int) -> list[str]:
    """The printed table of one size."""
    counts, queries = result["counts"], result["queries"]
    lines = [
        f"asylumflow supervision benchmark: {counts['cases']} cases, "
        f"{counts['case_events']} events, {counts['deadlines']} deadlines, "
        f"{counts['case_stat_facts']} statistics facts on "
        f"{dialect} ({result['database_bytes'] / 2**20:.0f} MiB, seeded in "
        f"{result['seed_seconds']:.1f} s; up to {repeat} timed calls "
        f"each; load average {result['loadavg_before']:.2f} -> {result['loadavg_after']:.2f})"
    ]
    base = queries[next(iter(queries))]["p50_ms"]
    width = max(len(n) for n in queries)
    lines.append(
        f"{'query':<{width}}  {'p50 ms':>9}  {'p95 ms':>9}  {'p50 / baseline':>14}  {'n':>3}"
    )
    for name, q in queries.items():
        lines.append(
            f"{name:<{width}}  {q['p50_ms']:9.3f}  {q['p95_ms']:9.3f}  "
            f"{q['p50_ms'] / base:14.1f}  {q['n']:3d}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Seed, time, print the tables (and write the JSON); returns the exit status."""
    parser = argparse.ArgumentParser(prog="bench.supervision", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="synthetic cases (10000)")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="a sweep of increasing case counts, e.g. 1000,10000,100000 (overrides --cases)",
    )
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: a temp SQLite file)"
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per query (30)")
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds of timed calls per query after which sampling stops (at least 3 calls)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    parser.add_argument("--json-out", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.repeat < 1:
        parser.error("--cases and --repeat must be at least 1")
    sizes: list[int] = args.sizes or [args.cases]
    today = date.today()
    rng = random.Random(args.seed)
    results: list[dict[str, Any]] = []
    with _database(args.database_url) as url:
        migrate(url)
        engine = make_engine(url)
        dialect = engine.dialect.name
        try:
            with engine.connect() as conn:
                existing = conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
            if existing:
                print(f"{url.split('@')[-1]} already holds {existing} cases; use an empty database")
                return 2
            seeded, counts = 0.0, {"cases": 0}
            for n in sizes:
                started = time.perf_counter()
                added = seed(engine, n, today=today, rng=rng, start=counts["cases"])
                _analyze(engine)
                seeded += time.perf_counter() - started
                counts = {k: counts.get(k, 0) + v for k, v in added.items()}
                before = os.getloadavg()[0]
                queries: dict[str, Any] = {}
                for name, call in workloads(engine, today).items():
                    samples = measure(call, args.repeat, budget=args.budget)
                    queries[name] = {
                        "p50_ms": round(percentile(samples, 50), 3),
                        "p95_ms": round(percentile(samples, 95), 3),
                        "n": len(samples),
                    }
                result = {
                    "counts": counts,
                    "seed_seconds": round(seeded, 1),
                    "database_bytes": database_bytes(engine),
                    "loadavg_before": before,
                    "loadavg_after": os.getloadavg()[0],
                    "queries": queries,
                }
                results.append(result)
                print("\n".join(_table(result, dialect, args.repeat)), flush=True)
                if n != sizes[-1]:
                    print()
        finally:
            engine.dispose()
    if args.json_out is not None:
        args.json_out.write_text(
            json.dumps(
                {
                    "dialect": dialect,
                    "today": today.isoformat(),
                    "seed": args.seed,
                    "repeat": args.repeat,
                    "budget_seconds": args.budget,
                    "nproc": len(os.sched_getaffinity(0)),
                    "sizes": results,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
