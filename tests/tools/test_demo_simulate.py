"""The demo caseload and the what-if simulator, end to end on small sizes."""

from __future__ import annotations

import asyncio
import csv
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.settings import get_settings
from db.reception import centres, detained
from db.tables import CaseRecord, PersonRecord, UserRecord
from db.users import user_for_token
from tools.demo import SeedOutcome, fresh_tokens, seed_demo
from tools.demo_scenarios import SCENARIOS
from worker import build_worker
from workflows.case import CaseWorkflow

N = len(SCENARIOS) + 3
"""Every scenario once (the plan's first pass), and a few drawn by weight."""


async def _views(env: WorkflowEnvironment, case_ids: list[str]) -> list[dict[str, Any]]:
    return list(
        await asyncio.gather(
            *(
                env.client.get_workflow_handle(f"case-{c}").query(CaseWorkflow.state)
                for c in case_ids
            )
        )
    )


async def _projected(engine: Engine, n: int) -> list[CaseRecord]:
    # Projections are activities: give them a bounded while to catch up with the last update.
    for _ in range(200):
        with Session(engine) as session:
            rows = list(session.exec(select(CaseRecord)).all())
        if len(rows) == n and all(r.last_seq > 1 for r in rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {len(rows)} of {n} cases projected")


async def test_demo_caseload_covers_every_situation(
    dev_env: WorkflowEnvironment, task_queue: str, sqlite_engine: Engine
) -> None:
    settings = get_settings().model_copy(update={"task_queue": task_queue})
    async with build_worker(dev_env.client, task_queue, sqlite_engine):
        # A run cut short (here: after a few cases) is finished by the next one.
        first = await seed_demo(dev_env.client, sqlite_engine, settings, n=5)
        assert first.complete and first.outcomes == {SeedOutcome.CREATED: 5}
        report = await seed_demo(dev_env.client, sqlite_engine, settings, n=N)
        assert report.complete, report.errors
        assert report.outcomes.get(SeedOutcome.CREATED) == N - 5
        tokens = report.tokens
        assert set(tokens) == {
            "demo-border-officer",
            "demo-caseworker",
            "demo-supervisor",
            "demo-legal-aid",
            "demo-admin",
        }
        with Session(sqlite_engine) as session:
            persons = list(session.exec(select(PersonRecord)).all())
        assert len(persons) == N
        assert all(
            p.given_name.startswith(("Demo", "Sample", "Test", "Example", "Place", "Fix"))
            for p in persons
        )
        views = await _views(dev_env, [p.case_id for p in persons])
        rows = await _projected(sqlite_engine, N)

        # Every role's token works; the first run's tokens were replaced by the second's.
        for name, token in tokens.items():
            assert user_for_token(sqlite_engine, token) is not None, name
            assert first.tokens[name] != token
            assert user_for_token(sqlite_engine, first.tokens[name]) is None

        # Once complete, a further run finds every case done and changes nothing.
        again = await seed_demo(dev_env.client, sqlite_engine, settings, n=N)
        assert again.outcomes == {SeedOutcome.COMPLETE: N} and again.tokens == {}
        with Session(sqlite_engine) as session:
            assert len(session.exec(select(PersonRecord)).all()) == N
            assert len(session.exec(select(UserRecord)).all()) == 7
        assert all(user_for_token(sqlite_engine, t) is not None for t in tokens.values())

        # `asylumflow demo --tokens`: fresh tokens for every role, the old ones stop.
        fresh = fresh_tokens(sqlite_engine)
        assert set(fresh) == set(tokens)
        assert all(user_for_token(sqlite_engine, t) is not None for t in fresh.values())
        assert all(user_for_token(sqlite_engine, t) is None for t in tokens.values())

    stages = {v["stage"] for v in views}
    flags = [set(v["flags"]) for v in views]
    assert {v["jurisdiction"] for v in views} == {"rs", "me", "pl", "eu"}
    assert any("overdue" in f for f in flags)
    assert any("presumed_abandoned" in f for f in flags)
    assert any("entitled_but_blocked" in f for f in flags)
    assert {"appeal_lodged", "integration", "return", "closed", "lodged"} <= stages
    # Tracks around a decision (issue 20): a further appeal (rs) and its window running (pl).
    assert {"further_appeal_lodged", "appeal_decided", "tolerated", "resettlement"} <= stages
    assert any(
        d["clock"] == "family_reunification" and d["status"] == "running"
        for v in views
        for d in v["deadlines"]
    )
    # The responsibility procedure's scenarios (eu and pl): both wait for their transfer.
    dublin = [v for v in views if v["responsibility"] is not None]
    assert {(v["jurisdiction"], v["stage"]) for v in dublin} >= {
        ("eu", "transfer_pending"),
        ("pl", "transfer_pending"),
    }
    assert {v["legal_aid_org"] for v in views} >= {"legal-aid-belgrade", "legal-aid-podgorica"}
    assert len({v["assignee"] for v in views} - {None}) == 3
    # Stuck: decided long ago, never notified (the read model is what supervision reads).
    assert any(r.stage == "decided" and (date.today() - r.stage_since).days > 14 for r in rows)
    assert any(r.overdue for r in rows) and any(r.entitled_blocked for r in rows)
    assert len(SCENARIOS) <= N
    # Issue #19: waiting for an interpreter, a referral that kept the stage, declining to
    # apply, and the child at the border, represented in time and recognised.
    assert any(r.waiting_for_interpreter for r in rows)
    assert any((v.get("waiting_for") or {}).get("what") == "interpreter" for v in views)
    assert any(
        v["stage"] == "lodged"
        and [r["to"] for r in v["protection"]["referrals"]] == ["medical_care"]
        for v in views
    )
    assert "referred" in stages
    child = next(v for v in views if v["protection"]["age_assessment"] == "minor")
    assert child["stage"] == "decided" and child["protection"]["referrals"][0]["acknowledged_on"]
    assert child["protection"]["interview"]["interpreter"] == "demo-interpreter-prs"
    clock = next(d for d in child["deadlines"] if d["clock"] == "uasc_representative")
    assert clock["status"] == "met"
    # Issue #19: a detained vulnerable applicant (with the review clock) and a centre over
    # capacity, as the supervisor's lists show them.
    assert any({"detained", "vulnerable_in_detention"} <= f for f in flags)
    assert any("alternative_to_detention" in f for f in flags)
    held = detained(sqlite_engine)
    assert any(d.detention == "detained" and d.vulnerable and d.next_review_due for d in held)
    assert any(c.over_capacity for c in centres(sqlite_engine))


async def test_simulator_writes_csvs_and_charts(tmp_path: Path) -> None:
    from tools.simulate import SimulationConfig, run_simulation

    config = SimulationConfig(
        pack="rs", arrivals_per_week=5, weeks=3, caseworkers=1, abscond_rate=0.3, seed=7
    )
    files = await run_simulation(config, tmp_path / "sim")
    names = {f.name for f in files}
    assert {"weekly.csv", "cases.csv"} <= names
    pngs = [f for f in files if f.suffix == ".png"]
    assert len(pngs) == 4
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with (tmp_path / "sim" / "weekly.csv").open() as fh:
        weekly = list(csv.DictReader(fh))
    assert [int(r["week"]) for r in weekly] == [1, 2, 3]
    assert [int(r["cases"]) for r in weekly] == [5, 10, 15]
    # One caseworker decides three cases a week, at most.
    assert [int(r["decided"]) for r in weekly] == [3, 6, 9]
    stage_columns = [k for k in weekly[-1] if k.startswith("stage_")]
    assert sum(int(weekly[-1][k]) for k in stage_columns) == 15

    with (tmp_path / "sim" / "cases.csv").open() as fh:
        cases = list(csv.DictReader(fh))
    assert len(cases) == 15
    assert all(c["lodged"] for c in cases)
    decided = [c for c in cases if c["decided"]]
    assert len(decided) == 9
    assert all(int(c["processing_days"]) >= 0 for c in decided)
    assert {c["outcome"] for c in decided} <= {
        "refugee_status",
        "subsidiary_protection",
        "rejected",
    }


async def test_simulator_sees_what_the_clocks_change_by_themselves(tmp_path: Path) -> None:
    """The simulator's own acts project through their answers; the clocks' through the activity.

    Nobody decides (no caseworkers), so the decision clocks of the first weeks' cases run out
    while no act of the simulator's touches them but a contact now and then: the weekly rows
    count those overdue when the workflow's own projection tells the simulator the case changed
    (without it, 1 of 6 at the end), and the last week's count must equal the one from reading
    every case afresh at the end (cases.csv).
    """
    from tools.simulate import SimulationConfig, run_simulation

    config = SimulationConfig(
        pack="rs", arrivals_per_week=2, weeks=16, caseworkers=0, abscond_rate=0.0, seed=3
    )
    await run_simulation(config, tmp_path / "sim")
    with (tmp_path / "sim" / "weekly.csv").open() as fh:
        weekly = list(csv.DictReader(fh))
    with (tmp_path / "sim" / "cases.csv").open() as fh:
        cases = list(csv.DictReader(fh))
    assert int(weekly[-1]["decided"]) == 0
    overdue_at_end = sum("overdue" in c["flags"].split() for c in cases)
    assert overdue_at_end > 0
    assert int(weekly[-1]["overdue"]) == overdue_at_end
    # The count grew week by week as the weeks' clocks ran out (3 months after lodging), and
    # never fell: the week before the last already had some.
    counts = [int(r["overdue"]) for r in weekly]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-2] > 0
