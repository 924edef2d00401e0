"""`case_tallies` (migration 0016): kept by triggers, exact under every writer, read by lists.

Every test runs on SQLite and on PostgreSQL (`db_url`). The tallies must equal a `GROUP BY`
of `cases` after any mix of inserts, updates and deletes, whoever writes; the stuck list's total
and `/stats`' backlog read from them must equal the counts they replace.
"""

from __future__ import annotations

import operator
import random
import threading
from datetime import date, timedelta
from functools import reduce
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bench import supervision as seeder
from db import stats, tallies
from db.engine import alembic_config, make_engine
from db.stuck_arms import stuck_arms
from db.supervision import TERMINAL, Filters, service_levels, stuck
from db.tables import CaseRecord, CaseTallyRecord
from models.enums import Stage
from models.rules import all_packs
from models.service_levels import DEFAULT_SERVICE_LEVELS

CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]
TODAY = date(2026, 1, 1)


def _seed(engine: Engine, n: int, seed: int) -> None:
    seeder.seed(engine, n, today=TODAY, rng=random.Random(seed))


def _assert_kept(engine: Engine) -> None:
    with engine.connect() as conn:
        assert tallies.stored(conn) == tallies.counted_anew(conn)


def _random_changes(engine: Engine, rng: random.Random, rounds: int) -> None:
    """Updates of every tallied column, inserts (copies) and deletes, a few per transaction."""
    stages = [s.value for s in Stage]
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.select(CASES.c.id))]
    for round_ in range(rounds):
        with engine.begin() as conn:
            for _ in range(rng.randint(1, 6)):
                case_id = rng.choice(ids)
                what = rng.random()
                if what < 0.6:
                    change: dict[str, Any] = rng.choice(
                        [
                            {"stage": rng.choice(stages)},
                            {"overdue": rng.random() < 0.5},
                            {"waiting_for_interpreter": rng.random() < 0.5},
                            {"procedure": rng.choice(["regular", "accelerated", "border"])},
                            {"jurisdiction": rng.choice(["rs", "me", "pl"])},
                            {"pack_id": rng.choice(["rs-2018", "pl-2015", "eu-2024"])},
                            {"assignee": f"cw-{rng.randint(1, 4)}"},  # not tallied
                            {"stage_since": TODAY - timedelta(days=rng.randint(0, 400))},
                        ]
                    )
                    conn.execute(sa.update(CASES).where(CASES.c.id == case_id).values(**change))
                elif what < 0.8:
                    row = conn.execute(sa.select(CASES).where(CASES.c.id == case_id)).one()
                    copy = dict(row._mapping) | {
                        "id": f"copy-{round_}-{rng.randint(0, 10**9)}",
                        "reference": None,
                    }
                    conn.execute(sa.insert(CASES).values(**copy))
                    ids.append(copy["id"])
                else:
                    conn.execute(sa.delete(CASES).where(CASES.c.id == case_id))
                    ids.remove(case_id)
                    if not ids:
                        return


def test_the_seeded_caseload_is_tallied(engine: Engine) -> None:
    _seed(engine, 600, seed=1)
    _assert_kept(engine)
    with engine.connect() as conn:
        assert sum(tallies.stored(conn).values()) == 600


@pytest.mark.parametrize("seed", range(3))
def test_tallies_follow_every_insert_update_and_delete(engine: Engine, seed: int) -> None:
    _seed(engine, 300, seed=seed)
    _random_changes(engine, random.Random(seed), rounds=80)
    _assert_kept(engine)

    # A transaction that fails takes its tally changes back with it.
    def fails() -> None:
        with engine.begin() as conn:
            conn.execute(sa.update(CASES).values(stage="closed", overdue=True))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        fails()
    _assert_kept(engine)
    # Every case deleted (a rebuild empties `cases` first): nothing is left counted.
    with engine.begin() as conn:
        conn.execute(sa.delete(CASES))
        assert tallies.stored(conn) == {}


def test_rebuild_gives_the_same_tallies(engine: Engine) -> None:
    _seed(engine, 200, seed=5)
    _random_changes(engine, random.Random(5), rounds=30)
    with engine.connect() as conn:
        kept = tallies.stored(conn)
    with engine.begin() as conn:
        assert tallies.rebuild_tallies(conn) == len(kept)
    with engine.connect() as conn:
        assert tallies.stored(conn) == kept


def test_the_migration_fills_the_tallies_and_agrees_with_the_model(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        _seed(engine, 250, seed=7)
        config = alembic_config(db_url)
        command.downgrade(config, "0015")
        with engine.connect() as conn:
            assert "case_tallies" not in sa.inspect(conn).get_table_names()
        command.upgrade(config, "head")
        _assert_kept(engine)
        _random_changes(engine, random.Random(7), rounds=20)  # the triggers are back
        _assert_kept(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        mine = [d for d in diff if CaseTallyRecord.__tablename__ in repr(d)]
        assert not mine, mine
    finally:
        engine.dispose()


def test_concurrent_writers_keep_exact_tallies_and_never_deadlock(db_url: str) -> None:
    """Cases moved between the same combinations in opposite directions at once.

    One case per transaction, as every live writer writes (the API, the projection, the
    import): on PostgreSQL each move locks its two tally rows in one order, so no two writers
    wait for each other crosswise; SQLite serialises writers.
    """
    engine = make_engine(db_url)
    try:
        _seed(engine, 200, seed=9)
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(sa.select(CASES.c.id).order_by(CASES.c.id))]
        errors: list[BaseException] = []

        def mover(mine: list[str], forward: bool) -> None:
            try:
                for step in range(30):
                    stage = ("lodged", "interview_scheduled")[(step + forward) % 2]
                    for case_id in mine:
                        with engine.begin() as conn:
                            conn.execute(
                                sa.update(CASES)
                                .where(CASES.c.id == case_id)
                                .values(stage=stage, overdue=bool(step % 3))
                            )
            except BaseException as exc:  # the test reports it below
                errors.append(exc)

        threads = [
            threading.Thread(target=mover, args=(ids[i::8][:4], bool(i % 2))) for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        _assert_kept(engine)
    finally:
        engine.dispose()


def _direct_stuck_total(engine: Engine, filters: Filters, today: date) -> int:
    default = service_levels(None)
    by_pack = {p.id: service_levels(p) for p in all_packs()}
    stages = [s for s in DEFAULT_SERVICE_LEVELS if not filters.stage or s.value == filters.stage]
    arms = [a.on_cases() for a in stuck_arms(today, stages, default, by_pack)]
    query = sa.select(sa.func.count()).where(reduce(operator.or_, arms), *filters.conditions())
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_stuck_totals_and_backlog_from_the_tallies_equal_the_counts(engine: Engine) -> None:
    _seed(engine, 800, seed=11)
    rng = random.Random(11)
    with engine.begin() as conn:
        # Some interviews waiting for an interpreter (their own arm), some overdue cases.
        ids = [r[0] for r in conn.execute(sa.select(CASES.c.id))]
        for case_id in rng.sample(ids, 60):
            conn.execute(
                sa.update(CASES)
                .where(CASES.c.id == case_id)
                .values(stage="interview_scheduled", waiting_for_interpreter=rng.random() < 0.5)
            )
    filters = [
        Filters(),
        Filters(jurisdiction="rs"),
        Filters(jurisdiction="pl", procedure="regular"),
        Filters(stage="interview_scheduled"),
        Filters(stage="lodged", jurisdiction="me"),
        Filters(assignee="cw-1"),  # counted from `cases` (the tallies do not know assignees)
    ]
    for today in (TODAY, TODAY - timedelta(days=45), TODAY + timedelta(days=200)):
        for f in filters:
            listed = stuck(engine, f, today=today, limit=5)
            assert listed.total == _direct_stuck_total(engine, f, today), (f, today)
            by_due = stuck(engine, f, today=today, limit=5, sort="stage")
            assert by_due.total == listed.total
    for jurisdiction in (None, "rs", "me", "pl"):
        stages, overdue = stats.backlog(engine, jurisdiction=jurisdiction)
        mine = [CASES.c.jurisdiction == jurisdiction] if jurisdiction else []
        with engine.connect() as conn:
            counted: dict[str, int] = dict(
                conn.execute(
                    sa.select(CASES.c.stage, sa.func.count()).where(*mine).group_by(CASES.c.stage)
                ).all()
            )
            late = conn.execute(
                sa.select(sa.func.count()).where(
                    *mine, CASES.c.overdue == sa.true(), CASES.c.stage.not_in(TERMINAL)
                )
            ).scalar_one()
        assert stages == {s: counted.get(s, 0) for s in stages}
        assert overdue == late
        if jurisdiction is None:
            assert sum(stages.values()) > 0 and overdue > 0  # the check saw something
