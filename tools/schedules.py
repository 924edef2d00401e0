"""`asylumflow schedules apply`: the Temporal Schedules and the namespace's retention.

Installs the schedules or brings them up to date, and sets how long the namespace keeps closed
workflows (`ASYLUMFLOW_RETENTION_DAYS`).
"""

from __future__ import annotations

from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

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


async def apply_retention(client: Client, days: int) -> str:
    """Keep closed workflows `days` days in the client's namespace. Returns what was done.

    A cluster may not let this client change its namespace: then it is reported, not fatal
    (set it with `temporal operator namespace update --retention <days>d`).
    """
    wanted = timedelta(days=days)
    try:
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace)
        )
        current = described.config.workflow_execution_retention_ttl.ToTimedelta()
        if current == wanted:
            return f"retention of {client.namespace} is {days} days"
        await client.workflow_service.update_namespace(
            UpdateNamespaceRequest(
                namespace=client.namespace,
                config=NamespaceConfig(
                    workflow_execution_retention_ttl=Duration(seconds=int(wanted.total_seconds()))
                ),
            )
        )
    except RPCError as exc:
        return f"retention of {client.namespace} not changed ({exc.message})"
    return f"retention of {client.namespace} set to {days} days (was {current.days})"
