"""The statistics rollup (`case_stat_counts`, `case_stat_days`) stays the sum of the facts.

`/stats` reads the rollup, not the facts, so every way a case's facts change must reach it
exactly: new events, histories rewritten as a whole (corrections, a repair re-sending every
event), refreshes that change nothing, and writers of different cases at the same time. Each
check compares the rollup with a sum of the stored facts computed here, and `flows` with the
pure `figures` of the events, over fixed and random windows.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from bench import supervision
from db import stats
from db.engine import alembic_config, make_engine
from db.stat_facts import EventRow, Rollup, event_row, rebuild_rollup, refresh_facts
from db.stats import Window
from db.tables import (
    CaseEventRecord,
    CaseRecord,
    CaseStatCountRecord,
    CaseStatDaysRecord,
    CaseStatFactRecord,
)
from tests.unit.stat_helpers import (
    WINDOWS,
    add_case,
    load_events,
    random_history,
    seed_caseload,
    write_history,
)

ROLLUP_TABLES = (CaseStatCountRecord.__tablename__, CaseStatDaysRecord.__tablename__)


def _rollup(engine: Engine) -> tuple[Counter[Any], Counter[Any]]:
    """The rollup's rows, all of them: a row taken down to 0 by rewritten facts must be gone."""
    found: list[Counter[Any]] = []
    with engine.connect() as conn:
        for name in ROLLUP_TABLES:
            table = SQLModel.metadata.tables[name]
            key = [c for c in table.c if c.name != "n"]
            rows = list(conn.execute(sa.select(*key, table.c.n)))
            # Counters compare missing and 0 as equal: look for the zeros themselves.
            assert not [r for r in rows if r[-1] == 0], f"{name} keeps rows counting nothing"
            found.append(Counter({tuple(r[:-1]): r[-1] for r in rows}))
    return found[0], found[1]


def _summed_facts(engine: Engine) -> tuple[Counter[Any], Counter[Any]]:
    """What the rollup must hold: the stored facts summed here, in Python."""
    f = SQLModel.metadata.tables[CaseStatFactRecord.__tablename__]
    total = Rollup()
    with engine.connect() as conn:
        for row in conn.execute(sa.select(f)):
            total.add(row._mapping)
    total = total.changes()
    return total.counts, total.days


def _random_windows(rng: random.Random, n: int) -> list[tuple[date | None, date | None]]:
    """Windows starting and ending on any day (month edges and the same month included)."""
    windows: list[tuple[date | None, date | None]] = []
    for _ in range(n):
        lo = date(2024, 1, 1) + timedelta(days=rng.randint(0, 900))
        hi = lo + timedelta(days=rng.choice([0, 1, 17, 29, 30, 31, 45, 59, 90, 400]))
        windows.append((rng.choice([lo, lo.replace(day=1), None]), rng.choice([hi, None])))
    return windows


def _check(
    engine: Engine, events: list[EventRow], jurisdiction_of: dict[str, str], seed: int
) -> None:
    """The rollup is the facts' sum, and `flows` equals `figures` for many windows."""
    assert _rollup(engine) == _summed_facts(engine)
    windows = WINDOWS + _random_windows(random.Random(seed), 8)
    for jurisdiction in (None, "rs", "pl"):
        mine = [e for e in events if jurisdiction in (None, jurisdiction_of[e.case_id])]
        for lo, hi in windows:
            expected = stats.figures(mine, date_from=lo, date_to=hi)
            counted = stats.flows(engine, jurisdiction=jurisdiction, date_from=lo, date_to=hi)
            assert counted == expected, (jurisdiction, lo, hi)


def _all_events(engine: Engine) -> list[EventRow]:
    e = SQLModel.metadata.tables[CaseEventRecord.__tablename__].c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(e.case_id, e.seq, e.action, e.event, e.on, e.data))
        return [event_row(*r) for r in rows]


# ---------------------------------------------------------------------------------------------
# The window's cut


@pytest.mark.parametrize("seed", range(5))
def test_a_window_is_cut_into_whole_months_and_edge_days_covering_each_day_once(
    seed: int,
) -> None:
    rng = random.Random(seed)
    span = [date(2023, 1, 1) + timedelta(days=i) for i in range(4 * 366)]
    fixed: list[tuple[date | None, date | None]] = [
        (None, None),
        (date(2024, 2, 1), date(2024, 2, 29)),  # one whole (leap) month
        (date(2024, 1, 31), date(2024, 3, 1)),  # a whole month between two edge days
        (date(2024, 2, 2), date(2024, 2, 28)),  # inside one month
        (date(2024, 3, 1), date(2024, 3, 1)),
        (date(2024, 12, 31), date(2025, 1, 1)),
        (date.min, date.max),
        (date(2025, 1, 1), date(2024, 1, 1)),  # from after to: nothing
    ]
    for lo, hi in fixed + _random_windows(rng, 200):
        window = Window.of(lo, hi)
        covered: Counter[date] = Counter()
        if window.months:
            first, last = window.months
            assert first.day == 1 and last.day == 1 and first <= last
            covered.update(d for d in span if first <= d.replace(day=1) <= last)
        for a, b in window.days:
            assert a <= b
            covered.update(d for d in span if a <= d <= b)
        inside = {d for d in span if (lo or date.min) <= d <= (hi or date.max)}
        assert set(covered) == inside and set(covered.values()) <= {1}, (lo, hi, window)
        assert len(window.days) <= 2


# ---------------------------------------------------------------------------------------------
# Refreshes


def test_rollup_follows_new_rewritten_and_unchanged_facts(engine: Engine) -> None:
    events, jurisdiction_of = seed_caseload(engine, 120, seed=21)
    _check(engine, events, jurisdiction_of, seed=0)
    rng = random.Random(21)
    cases = sorted(jurisdiction_of)
    for round_ in range(1, 4):
        with Session(engine) as session:
            for case_id in rng.sample(cases, 30):
                last = max(e.seq for e in events if e.case_id == case_id)
                what = rng.random()
                if what < 0.4:
                    # The history rewritten as a whole (a correction, a repair's full batch):
                    # the old facts must come off the rollup.
                    events_table = SQLModel.metadata.tables[CaseEventRecord.__tablename__]
                    session.execute(
                        sa.delete(events_table).where(events_table.c.case_id == case_id)
                    )
                    write_history(session, case_id, random_history(rng), 1)
                elif what < 0.8:
                    # Later events: a decision, an appeal or a date corrected.
                    more: list[tuple[str, date, dict[str, Any]]] = [
                        (
                            "decide",
                            date(2025, 1, 1) + timedelta(days=rng.randint(0, 300)),
                            {"outcome": "rejected"},
                        ),
                        (
                            "correct_event",
                            date(2025, 11, 1),
                            {"event": "lodged", "date": f"2024-{rng.randint(1, 12):02d}-15"},
                        ),
                    ]
                    write_history(session, case_id, rng.sample(more, rng.randint(1, 2)), last + 1)
                elif what < 0.9:
                    # The case's jurisdiction changed under its facts (not in practice, but the
                    # old facts must come off where they were counted).
                    new = rng.choice(["rs", "me", "pl"])
                    case = session.get(CaseRecord, case_id)
                    assert case is not None
                    case.jurisdiction = jurisdiction_of[case_id] = new
                    session.add(case)
                # else: a refresh that changes nothing.
                session.flush()
                refresh_facts(session, case_id)
            session.commit()
        events = _all_events(engine)
        _check(engine, events, jurisdiction_of, seed=round_)


def test_a_refresh_that_changes_no_fact_writes_nothing(engine: Engine) -> None:
    seed_caseload(engine, 10, seed=4)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split()[0].upper())

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        with Session(engine) as session:
            refresh_facts(session, "r4-0003")
            session.commit()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert statements and not {"INSERT", "DELETE", "UPDATE"} & set(statements), statements


def test_rebuild_gives_the_rollup_the_refreshes_kept(engine: Engine) -> None:
    events, jurisdiction_of = seed_caseload(engine, 80, seed=8)
    kept = _rollup(engine)
    with engine.begin() as conn:
        assert rebuild_rollup(conn) == len(kept[0]) + len(kept[1])
    assert _rollup(engine) == kept
    _check(engine, events, jurisdiction_of, seed=8)


# ---------------------------------------------------------------------------------------------
# Concurrent writers


def _shared_history(i: int) -> list[tuple[str, date, dict[str, Any]]]:
    """Histories whose facts share rollup rows: a few lodging and decision days, one outcome."""
    lodged = date(2025, 3, 1) + timedelta(days=i % 3)
    return [
        ("identify", lodged, {}),
        ("make_application", lodged, {}),
        ("lodge", lodged, {"subsequent": False}),
        ("decide", lodged + timedelta(days=40 + i % 2), {"outcome": "refugee_status"}),
    ]


def test_concurrent_writers_of_different_cases_keep_exact_counts(engine: Engine) -> None:
    """Writers of cases whose facts fall on the same rollup rows all commit, losing no count.

    One holds the rows it upserted while the next waits for them, then adds to them.
    """
    writers, per_writer = 4, 12
    with Session(engine) as session:
        for w in range(writers):
            for i in range(per_writer):
                add_case(session, f"c{w}-{i:02d}", "rs", _shared_history(i))
        session.commit()
    # First a forced overlap: writer 0 has upserted and not committed when writer 1 upserts.
    upserted, errors = threading.Event(), []

    def first() -> None:
        try:
            with Session(engine) as session:
                refresh_facts(session, "c0-00")
                upserted.set()
                threading.Event().wait(0.3)
                session.commit()
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
            upserted.set()

    def second() -> None:
        try:
            upserted.wait(10)
            with Session(engine) as session:
                refresh_facts(session, "c1-00")
                session.commit()
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    # Then every writer at once, each case in a transaction of its own, in shuffled orders.
    start = threading.Barrier(writers)

    def write(w: int) -> None:
        try:
            mine = [f"c{w}-{i:02d}" for i in range(per_writer)]
            random.Random(w).shuffle(mine)
            start.wait(10)
            for case_id in mine:
                with Session(engine) as session:
                    refresh_facts(session, case_id)
                    session.commit()
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert _rollup(engine) == _summed_facts(engine)
    figures = stats.flows(engine)
    assert figures["applications"]["2025-03"]["first_time"] == writers * per_writer
    assert figures["decisions"]["refugee_status"] == writers * per_writer
    assert figures["processing_days"]["regular"]["count"] == writers * per_writer
    events = _all_events(engine)
    assert figures == stats.figures(events)


# ---------------------------------------------------------------------------------------------
# Migration, schema and the benchmark's seeding


def test_migration_0007_fills_the_rollup_from_the_stored_facts(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        seed_caseload(engine, 60, seed=9)
        kept = _rollup(engine)
        config = alembic_config(db_url)
        command.downgrade(config, "0006")
        engine.dispose()
        with engine.connect() as conn:
            assert not set(ROLLUP_TABLES) & set(sa.inspect(conn).get_table_names())
        command.upgrade(config, "head")
        assert _rollup(engine) == kept == _summed_facts(engine)
        with engine.connect() as conn:
            # The models and the migration agree on the rollup tables and their indexes.
            diff = compare_metadata(
                MigrationContext.configure(conn),
                SQLModel.metadata,
            )
        mine = [d for d in diff if any(name in repr(d) for name in ROLLUP_TABLES)]
        assert not mine, mine
    finally:
        engine.dispose()


def test_the_benchmark_seeds_a_rollup_equal_to_the_replay(engine: Engine) -> None:
    """`bench/supervision.py` writes the rollup itself: what it times must be the real figures."""
    today = date(2026, 1, 1)
    supervision.seed(engine, 400, today=today, rng=random.Random(3))
    assert _rollup(engine) == _summed_facts(engine)
    for jurisdiction, lo, hi in [(None, None, None), ("rs", today - timedelta(days=90), today)]:
        loaded = load_events(engine, jurisdiction=jurisdiction, date_from=lo, date_to=hi)
        counted = stats.flows(engine, jurisdiction=jurisdiction, date_from=lo, date_to=hi)
        assert counted == stats.figures(loaded, date_from=lo, date_to=hi)
        assert counted["decisions"] and counted["processing_days"]
