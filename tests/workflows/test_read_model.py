"""The read model equals the workflows' state, even when every projection is retried."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.projection import ReadModelActivities
from db.tables import CaseEventRecord, CaseRecord, DeadlineRecord
from models.messages import ProjectionBatch
from tests.workflows.helpers import act, local_today, start_case
from worker import build_worker
from workflows.case import CaseWorkflow


class FlakyReadModel(ReadModelActivities):
    """Commits every batch, then fails its first attempt: each batch is applied twice."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.failures = 0

    @activity.defn(name="project_case")
    def project_case(self, batch: ProjectionBatch) -> None:
        super().project_case(batch)
        if activity.info().attempt == 1:
            self.failures += 1
            raise RuntimeError("forced failure after commit")


async def _wait_projected(engine: Engine, case_id: str, seq: int) -> CaseRecord:
    for _ in range(300):
        with Session(engine) as session:
            row = session.get(CaseRecord, case_id)
            if row is not None and row.last_seq >= seq:
                return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"read model never reached seq {seq}")


async def test_read_model_matches_workflow_with_retries(
    dev_env: WorkflowEnvironment, task_queue: str, case_id: str, engine: Engine
) -> None:
    flaky = FlakyReadModel(engine)
    async with build_worker(dev_env.client, task_queue, engine, activities=[flaky.project_case]):
        # Past-dated events: the labour-market clock (6 months) is settled at once, with no
        # time skipping while projections are being retried.
        day = local_today(await dev_env.get_current_time()) - timedelta(days=200)
        handle = await start_case(
            dev_env.client, task_queue, case_id, identified_on=day, legal_aid_org="org-a"
        )
        steps: list[tuple[str, dict[str, Any]]] = [
            ("make_application", {}),
            ("register", {}),
            ("lodge", {}),
            ("assign_caseworker", {"user": "cw-1"}),
            ("schedule_interview", {"interview_on": day + timedelta(days=3)}),
        ]
        for action, fields in steps:
            await act(handle, action, day, **fields)
        state: dict[str, Any] = await handle.query(CaseWorkflow.state)
        internal = await handle.query(CaseWorkflow.case_state)
        history = await handle.query(CaseWorkflow.history)
        row = await _wait_projected(engine, case_id, internal.seq)

    assert flaky.failures >= 2  # every batch was applied, failed, and applied again
    assert row.stage == state["stage"] == "interview_scheduled"
    assert row.procedure == state["procedure"]
    assert row.assignee == "cw-1"
    assert row.legal_aid_org == "org-a"
    assert row.pack_id == state["rule_pack"]["id"]
    assert row.entitled_blocked is ("entitled_but_blocked" in state["flags"])
    assert row.entitled_blocked
    with Session(engine) as session:
        events = session.exec(
            select(CaseEventRecord).where(CaseEventRecord.case_id == case_id)
        ).all()
        deadlines = session.exec(
            select(DeadlineRecord).where(DeadlineRecord.case_id == case_id)
        ).all()
    assert sorted((e.seq, e.action, e.on.isoformat()) for e in events) == [
        (e["seq"], e["action"], e["on"]) for e in history
    ]
    assert {(d.clock, d.due.isoformat(), d.status) for d in deadlines} == {
        (d["clock"], d["due"], d["status"]) for d in state["deadlines"]
    }
    provenance = {d.clock: d.provenance for d in deadlines}
    assert provenance["labour_market_access"]["citation"]
