"""Nightly reconciliation finds read-model drift, repairs it, and reports what it repaired."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select
from temporalio.client import ScheduleHandle
from temporalio.testing import WorkflowEnvironment

from activities.readmodel import CaseRecord, DeadlineRecord
from api.schedules import RECONCILE_SCHEDULE, apply_schedules
from models.reports import ReconcileInput, ReconcileReport
from tests.workflows.helpers import act, local_today, start_case
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
