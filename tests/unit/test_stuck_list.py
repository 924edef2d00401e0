"""The stuck list against the definition of stuck, computed case by case in Python.

`db.supervision.stuck` reads the list as disjoint arms (`db.stuck_arms`), one index range each,
and its total from the tallies corrected by a part of a month counted from the index; these
tests hold every page and total to an oracle that uses neither: a case is stuck when its
interview waits for an interpreter, or when it entered its stage more days ago than its level.
Every test runs on SQLite and on PostgreSQL (`engine`).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bench import supervision as seeder
from db import supervision
from db.supervision import Filters, service_levels, stuck
from db.tables import CaseRecord
from models.enums import Stage
from models.rules import RulePack, all_packs
from models.service_levels import DEFAULT_SERVICE_LEVELS

CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]
TODAY = date(2026, 1, 1)
Levels = dict[Stage, int]


def packs_listed() -> tuple[RulePack, ...]:
    """The packs `db.supervision` reads its levels from now."""
    return tuple(supervision.all_packs())  # type: ignore[attr-defined]


def _seed(engine: Engine) -> None:
    """800 synthetic cases, 60 of them moved to a scheduled interview (half of those waiting)."""
    seeder.seed(engine, 800, today=TODAY, rng=random.Random(23))
    rng = random.Random(23)
    with engine.begin() as conn:
        ids = sorted(r[0] for r in conn.execute(sa.select(CASES.c.id)))
        for case_id in rng.sample(ids, 60):
            conn.execute(
                sa.update(CASES)
                .where(CASES.c.id == case_id)
                .values(stage="interview_scheduled", waiting_for_interpreter=rng.random() < 0.5)
            )


def _oracle(
    engine: Engine, filters: Filters, today: date, configured: Levels | None = None
) -> list[str]:
    """The stuck cases' ids in the list's order (since, then id), case by case.

    The packs are those the list reads (`db.supervision.all_packs`, which a test may replace).
    """
    default = service_levels(None, configured)
    by_pack = {p.id: service_levels(p, configured) for p in packs_listed()}
    names = ["id", "stage", "stage_since", "pack_id", "waiting_for_interpreter"]
    names += ["jurisdiction", "procedure", "assignee"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*(CASES.c[name] for name in names))).all()
    found = []
    for row in rows:
        if row.stage_since is None or Stage(row.stage) not in DEFAULT_SERVICE_LEVELS:
            continue
        wanted = {
            "stage": filters.stage,
            "jurisdiction": filters.jurisdiction,
            "procedure": filters.procedure,
            "assignee": filters.assignee,
        }
        if any(value and getattr(row, name) != value for name, value in wanted.items()):
            continue
        level = by_pack.get(row.pack_id, default)[Stage(row.stage)]
        waiting = row.waiting_for_interpreter and row.stage == Stage.INTERVIEW_SCHEDULED.value
        if waiting or (today - row.stage_since).days > level:
            found.append((row.stage_since, row.id))
    return [case_id for _, case_id in sorted(found)]


def _walk(
    engine: Engine, filters: Filters, today: date, limit: int, configured: Levels | None = None
) -> list[str]:
    """Every page of the list in turn; each page's total must be the oracle's count."""
    expected = len(_oracle(engine, filters, today, configured))
    ids: list[str] = []
    cursor = None
    while True:
        page = stuck(
            engine, filters, today=today, cursor=cursor, limit=limit, configured=configured
        )
        assert page.total == expected, (filters, today, len(ids))
        assert len(page.items) <= limit
        ids += [item["id"] for item in page.items]
        if page.next_cursor is None:
            return ids
        assert len(page.items) == limit
        cursor = page.next_cursor


def test_every_page_is_the_oracles_in_order(engine: Engine) -> None:
    _seed(engine)
    filters = [
        Filters(),
        Filters(jurisdiction="rs"),
        Filters(jurisdiction="pl", procedure="regular"),
        Filters(stage="interview_scheduled"),
        Filters(assignee="cw-3"),
    ]
    for today in (TODAY, TODAY - timedelta(days=45), TODAY + timedelta(days=200)):
        for f in filters:
            expected = _oracle(engine, f, today)
            assert _walk(engine, f, today, limit=23) == expected, (f, today)
    # The check saw lists of many pages, and interviews waiting for an interpreter.
    assert len(_oracle(engine, Filters(), TODAY)) > 5 * 23
    assert _oracle(engine, Filters(stage="interview_scheduled"), TODAY - timedelta(days=400))


def test_the_total_is_the_oracles_on_every_day_of_two_months(engine: Engine) -> None:
    # Every cutoff falls on each day of its month in turn (the first included), so each arm's
    # total is corrected from either side of its cutoff, and within a jurisdiction too.
    _seed(engine)
    for offset in range(-40, 25):
        today = TODAY + timedelta(days=offset)
        for f in (Filters(), Filters(jurisdiction="rs", procedure="regular")):
            listed = stuck(engine, f, today=today, limit=1)
            assert listed.total == len(_oracle(engine, f, today)), (f, today)


def test_packs_and_settings_with_levels_of_their_own(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Packs with their own levels add arms on their cases alone (and take theirs out of the
    # stage's shared arm); configured levels move every pack's cutoff that the pack leaves.
    _seed(engine)
    own = {
        "pl-2015": {Stage.REGISTERED: 3, Stage.LODGED: 20, Stage.INTERVIEW_SCHEDULED: 9},
        "eu-2013": {Stage.LODGED: 95, Stage.INTERVIEW_SCHEDULED: 9},
    }
    packs = tuple(
        p.model_copy(update={"service_levels": own[p.id]}) if p.id in own else p
        for p in all_packs()
    )
    monkeypatch.setattr(supervision, "all_packs", lambda: packs)
    configured = {Stage.LODGED: 40, Stage.INTERVIEWED: 17}
    for today in (TODAY, TODAY - timedelta(days=17), TODAY + timedelta(days=75)):
        for f in (Filters(), Filters(jurisdiction="pl"), Filters(stage="lodged")):
            expected = _oracle(engine, f, today, configured)
            assert _walk(engine, f, today, 23, configured) == expected, (f, today)
            assert _walk(engine, f, today, 23) == _oracle(engine, f, today), (f, today)
    assert len(_oracle(engine, Filters(jurisdiction="pl"), TODAY, configured)) > 23
