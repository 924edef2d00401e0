"""SQLite's planner gets statistics of the read model; PostgreSQL keeps its own."""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import db.engine
from bench.supervision import seed
from db.engine import refresh_planner_statistics, statistics_loop


def _stat(engine: Engine, index: str) -> str | None:
    with engine.connect() as conn:
        known = conn.execute(
            sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).scalar_one()
        if not known:
            return None
        found = conn.execute(
            sa.text("SELECT stat FROM sqlite_stat1 WHERE idx = :idx"), {"idx": index}
        ).scalar_one_or_none()
        return None if found is None else str(found)


def test_statistics_follow_the_read_model_as_it_grows(engine: Engine) -> None:
    rng = random.Random(3)
    seed(engine, 300, today=date(2026, 12, 5), rng=rng)
    if engine.dialect.name != "sqlite":
        # PostgreSQL's autovacuum analyses by itself: nothing to do, and nothing fails.
        refresh_planner_statistics(engine)
        return
    assert _stat(engine, "ix_cases_abandoned") is None
    refresh_planner_statistics(engine)
    first = _stat(engine, "ix_cases_abandoned")
    assert first is not None and int(first.split()[0]) == 300
    seed(engine, 900, today=date(2026, 12, 5), rng=rng, start=300)
    refresh_planner_statistics(engine)
    again = _stat(engine, "ix_cases_abandoned")
    assert again is not None and int(again.split()[0]) == 900


async def test_the_loop_refreshes_at_once_and_goes_on_after_a_failure(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seed(sqlite_engine, 50, today=date(2026, 12, 5), rng=random.Random(4))
    calls: list[int] = []
    real = db.engine.refresh_planner_statistics

    def flaky(engine: Engine) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("ANALYZE", {}, Exception("database is locked"))
        real(engine)

    monkeypatch.setattr(db.engine, "refresh_planner_statistics", flaky)
    loop = asyncio.create_task(statistics_loop(sqlite_engine, timedelta(milliseconds=10)))
    try:
        async with asyncio.timeout(10):
            while _stat(sqlite_engine, "ix_cases_abandoned") is None:
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
    assert len(calls) >= 2
    assert "planner statistics not refreshed" in caplog.text
