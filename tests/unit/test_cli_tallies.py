"""`asylumflow readmodel tallies`: the operator's check (and repair) of `case_tallies`."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bench import supervision as seeder
from core.settings import get_settings
from db import tallies
from db.engine import make_engine
from tools.cli import app

runner = CliRunner()
TALLIES = sa.table("case_tallies", sa.column("stage"), sa.column("n"))


@pytest.fixture
def seeded(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """A seeded read model on each backend, which the command's settings point at."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    engine = make_engine(db_url)
    seeder.seed(engine, 300, today=date(2026, 1, 1), rng=random.Random(7))
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_agreeing_tallies_exit_0(seeded: sa.Engine) -> None:
    result = runner.invoke(app, ["readmodel", "tallies"])
    assert result.exit_code == 0, result.output
    assert "tallies agree with the cases" in result.stdout
    assert ", 300 cases" in result.stdout


def test_drifted_tallies_are_named_exit_1_and_repaired(seeded: sa.Engine) -> None:
    # A hand edit with the triggers bypassed: one count raised, one combination lost.
    with seeded.begin() as conn:
        at = tallies.KEY.index("stage")
        stages = sorted({str(k[at]) for k in tallies.stored(conn)})
        conn.execute(
            sa.update(TALLIES).where(TALLIES.c.stage == stages[0]).values(n=TALLIES.c.n + 3)
        )
        conn.execute(sa.delete(TALLIES).where(TALLIES.c.stage == stages[-1]))
        drifted = {k for k in tallies.counted_anew(conn) if k[at] in (stages[0], stages[-1])}

    result = runner.invoke(app, ["readmodel", "tallies"])
    assert result.exit_code == 1, result.output
    assert f"differ from the cases in {len(drifted)} combinations" in result.stdout
    assert "tallied" in result.stdout and "--repair" in result.stdout
    with seeded.connect() as conn:  # the check changed nothing
        assert tallies.stored(conn) != tallies.counted_anew(conn)

    repaired = runner.invoke(app, ["readmodel", "tallies", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert f"repaired {len(drifted)} combinations" in repaired.stdout
    with seeded.connect() as conn:
        assert tallies.stored(conn) == tallies.counted_anew(conn)
    again = runner.invoke(app, ["readmodel", "tallies"])
    assert again.exit_code == 0 and "agree" in again.stdout
