"""Nightly reconciliation finds read-model drift, repairs it, and reports what it repaired."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select
from temporalio.client import ScheduleHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.reconcile import ReconcileActivities
from db.tables import CaseRecord, DeadlineRecord
from models.lifecycle import CaseState
from models.reports import ReconcileInput, ReconcileReport
from tests.workflows.helpers import act, local_today, start_case
from tools.schedules import RECONCILE_SCHEDULE, apply_schedules
from worker import build_worker
from workflows.case import CaseWorkflow
from workflows.reconcile import ReconcileWorkflow


async def _projected(engine: Engine, case_id: str, seq: int) -> None:
    for _ in range(200):
        with Session(engine) as session:
            row = session.get(CaseRecord, case_id)
            if row is not None and row.last_seq >= seq:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("never projected")


async def test_reconcile_repairs_drift(
    dev_env: WorkflowEnvironment, task_queue: str, engine: Engine
) -> None:
    client = dev_env.client
    async with build_worker(client, task_queue, engine):
        day = local_today(await dev_env.get_current_time()) - timedelta(days=20)
        ids = [f"r{uuid.uuid4().hex[:12]}" for _ in range(3)]
        for cid in ids:
            handle = await start_case(client, task_queue, cid, identified_on=day)
            for action in ("make_application", "register", "lodge"):
                await act(handle, action, day)
            state = await handle.query(CaseWorkflow.case_state)
            await _projected(engine, cid, state.seq)
        # Drift: a stage overwritten by hand, and a case's deadlines lost.
        with Session(engine) as session:
            row = session.get(CaseRecord, ids[0])
            assert row is not None
            row.stage = "identified"
            session.add(row)
            session.exec(delete(DeadlineRecord).where(col(DeadlineRecord.case_id) == ids[1]))
            session.commit()

        async def all_visible() -> bool:
            count = await client.count_workflows(f'TaskQueue = "{task_queue}"')
            return count.count >= 3

        for _ in range(100):
            if await all_visible():
                break
            await asyncio.sleep(0.1)
        report: ReconcileReport = await client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(task_queue=task_queue),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
        )
    assert report.checked == 3
    repaired = {r.case_id: r.differences for r in report.repaired}
    assert set(repaired) == {ids[0], ids[1]}
    assert any(d.startswith("stage") for d in repaired[ids[0]])
    assert "deadlines differ" in repaired[ids[1]]
    with Session(engine) as session:
        row = session.get(CaseRecord, ids[0])
        assert row is not None and row.stage == "lodged"
        restored = session.exec(
            select(DeadlineRecord).where(DeadlineRecord.case_id == ids[1])
        ).all()
        assert {d.clock for d in restored} == {"lodging", "decision", "labour_market_access"}


async def test_schedule_apply_is_idempotent(dev_env: WorkflowEnvironment, task_queue: str) -> None:
    first = await apply_schedules(dev_env.client, task_queue)
    second = await apply_schedules(dev_env.client, task_queue)
    assert first.startswith(("created", "updated"))
    assert second.startswith("updated")
    handle: ScheduleHandle = dev_env.client.get_schedule_handle(RECONCILE_SCHEDULE)
    description = await handle.describe()
    # The server stores the cron expression as a calendar: every day at 02:00.
    calendar = description.schedule.spec.calendars[0]
    assert [r.start for r in calendar.hour] == [2]
    assert [r.start for r in calendar.minute] == [0]
    await handle.delete()


async def test_reconcile_leaves_a_newer_row_alone(
    dev_env: WorkflowEnvironment, task_queue: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row written after the nightly job read the case is newer: never moved back.

    The API writes a newer row between the job's read of the workflow and its repair (here
    injected into the comparison); a second case's row drifted above the workflow's seq (a row
    that must still be reset).
    """
    client = dev_env.client
    async with build_worker(client, task_queue, engine):
        day = local_today(await dev_env.get_current_time()) - timedelta(days=20)
        raced, drifted = (f"r{uuid.uuid4().hex[:12]}" for _ in range(2))
        seqs = {}
        for cid in (raced, drifted):
            handle = await start_case(client, task_queue, cid, identified_on=day)
            await act(handle, "make_application", day)
            seqs[cid] = (await handle.query(CaseWorkflow.case_state)).seq
            await _projected(engine, cid, seqs[cid])
        with Session(engine) as session:
            for cid, stage in ((raced, "identified"), (drifted, "registered")):
                row = session.get(CaseRecord, cid)
                assert row is not None
                row.stage = stage  # drift: both rows now differ from their workflows
                if cid == drifted:
                    row.last_seq = seqs[cid] + 50
                session.add(row)
            session.commit()
        compare = ReconcileActivities._differences

        def racing(self: ReconcileActivities, state: CaseState, now: datetime) -> Any:
            # SQL never runs on the worker's event loop (it would stall every task of it).
            with pytest.raises(RuntimeError):
                asyncio.get_running_loop()
            found = compare(self, state, now)
            if state.case_id == raced:  # the API's newer write lands now
                with Session(engine) as session:
                    row = session.get(CaseRecord, raced)
                    assert row is not None
                    row.stage, row.last_seq = "registered", seqs[raced] + 1
                    session.add(row)
                    session.commit()
            return found

        monkeypatch.setattr(ReconcileActivities, "_differences", racing)
        for _ in range(100):
            if (await client.count_workflows(f'TaskQueue = "{task_queue}"')).count >= 2:
                break
            await asyncio.sleep(0.1)
        report = await ActivityEnvironment().run(
            ReconcileActivities(engine, client).reconcile_read_model, task_queue
        )
    assert {r.case_id for r in report.repaired} == {raced, drifted}
    with Session(engine) as session:
        newer = session.get(CaseRecord, raced)
        reset = session.get(CaseRecord, drifted)
    assert newer is not None and (newer.stage, newer.last_seq) == ("registered", seqs[raced] + 1)
    assert reset is not None and reset.stage == "application_made"
