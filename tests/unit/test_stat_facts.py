"""`/stats` counted in SQL from the stored facts equals the pure replay of the events.

A random caseload (seeded: every run draws the same one) of histories the replay must get right:
first and repeated lodgings, procedures assigned late, inadmissibility, appeals of every result,
closures before and after an application, and dates corrected afterwards. Its rows go straight
into the read model, the facts are written by `refresh_facts` as the projection writes them, and
`flows` must give exactly what `figures` gives from the events, for several windows and
jurisdictions, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from db import stats
from db.engine import alembic_config, make_engine
from db.stat_facts import (
    APPEAL,
    APPEAL_OUTCOME,
    EventRow,
    backfill,
    case_facts,
    event_row,
    refresh_facts,
)
from db.tables import CaseEventRecord, CaseStatFactRecord
from tests.unit.stat_helpers import (
    NOW,
    WINDOWS,
    load_events,
    seed_caseload,
)


def _facts(engine: Engine) -> list[tuple[Any, ...]]:
    f = SQLModel.metadata.tables[CaseStatFactRecord.__tablename__]
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(f)))


def test_sql_counts_equal_the_replay_of_the_events(engine: Engine) -> None:
    events, jurisdiction_of = seed_caseload(engine, 160, seed=11)
    assert len(_facts(engine)) > 300  # the caseload is not trivially empty
    for jurisdiction in (None, "rs", "me", "xx"):
        mine = [e for e in events if jurisdiction in (None, jurisdiction_of[e.case_id])]
        for lo, hi in WINDOWS:
            expected = stats.figures(mine, date_from=lo, date_to=hi)
            counted = stats.flows(engine, jurisdiction=jurisdiction, date_from=lo, date_to=hi)
            assert counted == expected, (jurisdiction, lo, hi)
            # And the route's whole answer, with the SQL of the events as the reference.
            loaded = load_events(engine, jurisdiction=jurisdiction, date_from=lo, date_to=hi)
            answer = stats.compute(
                engine, jurisdiction=jurisdiction, date_from=lo, date_to=hi, today=date(2026, 1, 1)
            )
            assert {k: answer[k] for k in expected} == stats.figures(
                loaded, date_from=lo, date_to=hi
            )
    some = stats.flows(engine)
    assert some["processing_days"] and some["appeal_outcomes"] and some["otherwise_closed"]


def test_refresh_replaces_the_facts_and_skips_other_actions(engine: Engine) -> None:
    seed_caseload(engine, 20, seed=3)
    case_id = "r3-0000"
    before = stats.flows(engine)
    with Session(engine) as session:
        last = max(
            e.seq
            for e in session.exec(
                select(CaseEventRecord).where(CaseEventRecord.case_id == case_id)
            ).all()
        )
        session.add(
            CaseEventRecord(
                case_id=case_id,
                seq=last + 1,
                actor="test",
                action="lodge",
                event="lodged",
                on=date(2025, 12, 1),
                recorded_at=NOW,
                data={},
            )
        )
        # Events of other actions change no fact: nothing is read or written.
        refresh_facts(session, case_id, actions=["record_contact", "notify_decision"])
        session.commit()
    assert stats.flows(engine) == before
    with Session(engine) as session:
        refresh_facts(session, case_id, actions=["record_contact", "lodge"])
        refresh_facts(session, case_id)  # twice: the same facts, no duplicates
        session.commit()
    after = stats.flows(engine)
    added = after["applications"]["2025-12"]
    assert added["first_time"] + added["subsequent"] == 1
    assert after["decisions"] == before["decisions"]


def test_migration_backfills_the_facts_of_existing_cases(db_url: str) -> None:
    """Down to 0005 (no facts), cases and events written, up again: the same facts."""
    engine = make_engine(db_url)
    try:
        seed_caseload(engine, 60, seed=5)
        projected = _facts(engine)
        config = alembic_config(db_url)
        command.downgrade(config, "0005")
        with engine.connect() as conn:
            assert "case_stat_facts" not in sa.inspect(conn).get_table_names()
        engine.dispose()
        command.upgrade(config, "head")
        assert _facts(engine) == projected
        with engine.begin() as conn:
            assert backfill(conn) == len(projected)  # and again: replaced, not added to
        assert _facts(engine) == projected
    finally:
        engine.dispose()


@pytest.mark.parametrize("percent", [1, 50, 90, 100])
def test_percentiles_of_a_histogram_are_the_nearest_rank(percent: int) -> None:
    rng = random.Random(percent)
    values = [rng.randint(0, 40) for _ in range(rng.randint(1, 60))]
    histogram: dict[int, int] = {}
    for v in values:
        histogram[v] = histogram.get(v, 0) + 1
    assert stats._nearest_rank_counted(histogram, percent) == stats.nearest_rank(values, percent)


def test_a_further_appeal_moves_the_final_decision_to_the_court() -> None:
    """Issue 20: a further appeal takes back the appeal decision's final outcome.

    The court's dismissal makes that outcome final on its own date, a substitution its outcome,
    a remand none (the appeal body decides again).
    """

    def row(seq: int, action: str, day: date, **data: Any) -> EventRow:
        event = {"lodge": "lodged", "decide": "decided"}.get(action)
        return event_row("c1", seq, action, event, day, data or None)

    rejected = [
        row(1, "make_application", date(2025, 1, 2)),
        row(2, "lodge", date(2025, 1, 3)),
        row(3, "decide", date(2025, 3, 3), outcome="rejected"),
        row(4, "decide_appeal", date(2025, 5, 5), result="dismissed"),
    ]

    def outcomes(rows: list[EventRow]) -> list[tuple[str, date]]:
        return [(f.key, f.on) for f in case_facts(rows) if f.kind == APPEAL_OUTCOME]

    assert outcomes(rejected) == [("rejected", date(2025, 5, 5))]
    lodged = [*rejected, row(5, "lodge_further_appeal", date(2025, 5, 20))]
    assert outcomes(lodged) == []  # pending before the court
    dismissed = [*lodged, row(6, "decide_further_appeal", date(2025, 9, 1), result="dismissed")]
    assert outcomes(dismissed) == [("rejected", date(2025, 9, 1))]
    granted = [
        *lodged,
        row(
            6,
            "decide_further_appeal",
            date(2025, 9, 1),
            result="substituted",
            outcome="refugee_status",
        ),
    ]
    assert outcomes(granted) == [("refugee_status", date(2025, 9, 1))]
    remanded = [
        *lodged,
        row(6, "decide_further_appeal", date(2025, 9, 1), result="quashed_remanded"),
    ]
    assert outcomes(remanded) == []
    again = [*remanded, row(7, "decide_appeal", date(2025, 11, 3), result="dismissed")]
    assert outcomes(again) == [("rejected", date(2025, 11, 3))]
    # The appeal decisions themselves are still counted as appeals, the court's are not.
    assert [f.key for f in case_facts(again) if f.kind == APPEAL] == ["dismissed", "dismissed"]
