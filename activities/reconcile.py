"""Nightly reconciliation: compare the read model with the workflows and repair drift.

The activity is async because it lists and queries workflows through the worker's client; every
database call runs in a thread (`asyncio.to_thread`), never on the worker's event loop, where it
would stall every other activity and workflow task of the process while it waits for SQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.client import Client

from activities.projection import ReadModelActivities
from db.drift import differences, stored_seq
from models.case_state import CaseState
from models.messages import ProjectionBatch
from models.reports import ReconcileReport, Repair


class ReconcileActivities:
    """Reads every case workflow's state and re-projects the cases whose rows differ."""

    def __init__(self, engine: Engine, client: Client) -> None:
        self.engine = engine
        self.client = client
        self.projector = ReadModelActivities(engine)

    def _differences(self, state: CaseState, now: datetime) -> tuple[list[str], ProjectionBatch]:
        return differences(self.engine, state, now)

    @activity.defn(name="reconcile_read_model")
    async def reconcile_read_model(self, task_queue: str) -> ReconcileReport:
        """Compare every case workflow on `task_queue` with its read-model row; repair drift."""
        from workflows.case import CaseWorkflow

        report = ReconcileReport()
        query = f'WorkflowType = "CaseWorkflow" AND TaskQueue = "{task_queue}"'
        async for execution in self.client.list_workflows(query):
            report.checked += 1
            case_id = execution.id.removeprefix("case-")
            handle = self.client.get_workflow_handle(execution.id)
            # Read before the state (see below): a write made after this is newer than it.
            seen = await asyncio.to_thread(stored_seq, self.engine, case_id)
            try:
                state = await handle.query(CaseWorkflow.case_state)
            except Exception:  # a case we cannot read tonight is reported, not fatal
                report.unreachable.append(case_id)
                continue
            diffs, batch = await asyncio.to_thread(self._differences, state, datetime.now(UTC))
            if diffs:
                # The projection is idempotent: re-applying the whole case only adds what is
                # missing and resets the row and deadlines to the workflow's truth, also a row
                # whose seq drifted above it (`seen`). A row the API wrote after `seen` was
                # read holds a change newer than this state: its seq is higher than both, so
                # write_projection's conditional update leaves it alone.
                batch.case.last_seq = max(batch.case.last_seq, seen)
                await asyncio.to_thread(self.projector.project_case, batch)
                report.repaired.append(Repair(case_id=state.case_id, differences=diffs))
            activity.heartbeat(report.checked)
        report.finished_at = datetime.now(UTC)
        return report
