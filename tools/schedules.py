"""Temporal Schedules: `asylumflow schedules apply` installs them or brings them up to date."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from models.reports import ReconcileInput
from workflows.reconcile import ReconcileWorkflow

RECONCILE_SCHEDULE = "asylumflow-reconcile"
NIGHTLY = "0 2 * * *"


def reconcile_schedule(task_queue: str, cron: str = NIGHTLY) -> Schedule:
    """The nightly read-model reconciliation."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            ReconcileInput(task_queue=task_queue),
            id=RECONCILE_SCHEDULE,
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[cron]),
    )


async def apply_schedules(client: Client, task_queue: str) -> str:
    """Create the schedules, or bring existing ones up to date. Returns what was done."""
    schedule = reconcile_schedule(task_queue)
    try:
        await client.create_schedule(RECONCILE_SCHEDULE, schedule)
        return f"created schedule {RECONCILE_SCHEDULE} ({NIGHTLY})"
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(RECONCILE_SCHEDULE).update(update)
        return f"updated schedule {RECONCILE_SCHEDULE} ({NIGHTLY})"
