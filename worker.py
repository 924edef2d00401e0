"""Builds the Temporal worker from ALL_WORKFLOWS and ALL_ACTIVITIES; `asylumflow worker` runs it.

Run as many worker processes as the load needs: they share the task queue, the Temporal cluster
and the database, and hold no state of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.projection import ReadModelActivities
from activities.reconcile import ReconcileActivities
from activities.reminders import ReminderActivities
from core.settings import Settings
from db.engine import statistics_loop
from db.intents import repair_loop
from models.action_signing import register_key
from models.deadlines import preload
from models.rules import add_pack_directory
from workflows.case import CaseWorkflow
from workflows.reconcile import ReconcileWorkflow

ALL_WORKFLOWS: Sequence[type] = (CaseWorkflow, ReconcileWorkflow)

STATISTICS_EVERY = timedelta(hours=1)
"""How often the worker refreshes SQLite's planner statistics (`db.engine.statistics_loop`)."""

# For the sandboxed workflows (`ReconcileWorkflow`; `CaseWorkflow` runs unsandboxed, see
# `workflows.case`): pure domain code and its libraries are deterministic, and passing them
# through the sandbox keeps the rule packs loaded once per process instead of once per run.
PASSTHROUGH = ("models", "holidays", "dateutil", "yaml", "pydantic", "pydantic_core")


def all_activities(engine: Engine, *, private_webhooks: bool = False) -> list[Callable[..., Any]]:
    """Every activity, bound to its dependencies (see `activities.reminders.refused_target`)."""
    reminders = ReminderActivities(engine, private_hosts=private_webhooks)
    return [
        ReadModelActivities(engine).project_case,
        reminders.send_reminder,
        reminders.send_reminder_retraction,
    ]


def build_worker(
    client: Client,
    task_queue: str,
    engine: Engine,
    *,
    activities: Sequence[Callable[..., Any]] | None = None,
    executor: ThreadPoolExecutor | None = None,
    private_webhooks: bool = False,
    action_key: bytes | None = None,
    tuning: dict[str, Any] | None = None,
) -> Worker:
    """A worker for case workflows and their activities on `task_queue`.

    With `action_key`, the case workflows on `task_queue` accept only actions the API signed
    with it (`workflows.action_signing`). `tuning`: Worker options (`max_concurrent_workflow_tasks`,
    `max_concurrent_activities`, `max_cached_workflows`) that override the SDK's defaults (see
    `worker_tuning`).
    """
    preload()  # packs and holiday calendars, before the first workflow task needs them
    register_key(task_queue, action_key)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(ALL_WORKFLOWS),
        activities=[
            *(
                activities
                if activities is not None
                else all_activities(engine, private_webhooks=private_webhooks)
            ),
            # Reconciliation reads workflows, so it needs this worker's client.
            ReconcileActivities(engine, client).reconcile_read_model,
        ],
        activity_executor=executor
        or ThreadPoolExecutor(
            max_workers=max(16, int((tuning or {}).get("max_concurrent_activities", 16)))
        ),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
        ),
        **(tuning or {}),
    )


def worker_tuning(settings: Settings) -> dict[str, Any]:
    """The worker options the settings set (unset ones keep the SDK's defaults).

    On SIGTERM the worker stops polling and gives running activities 10 s to finish.
    """
    chosen: dict[str, Any] = {
        "graceful_shutdown_timeout": timedelta(seconds=10),
        "max_concurrent_workflow_tasks": settings.max_concurrent_workflow_tasks,
        "max_concurrent_activities": settings.max_concurrent_activities,
        "max_cached_workflows": settings.max_cached_workflows,
    }
    return {name: value for name, value in chosen.items() if value is not None}


async def run_worker() -> None:
    """Connect with the configured settings and run one worker until cancelled."""
    from core.settings import get_settings
    from core.temporal import connect
    from db.engine import make_engine, migrate

    settings = get_settings()
    if settings.extra_packs_dir is not None:
        add_pack_directory(settings.extra_packs_dir)
    migrate(settings.db_url)
    client = await connect(settings)
    engine = make_engine(settings.db_url)
    worker = build_worker(
        client,
        settings.task_queue,
        engine,
        private_webhooks=settings.webhook_private_hosts,
        action_key=settings.action_signing_key(),
        tuning=worker_tuning(settings),
    )
    logging.getLogger("asylumflow").info("worker on task queue %s", settings.task_queue)
    every = timedelta(seconds=settings.projection_repair_seconds)
    repairs = asyncio.create_task(repair_loop(engine, client, every))
    statistics = asyncio.create_task(statistics_loop(engine, STATISTICS_EVERY))
    try:
        await worker.run()
    finally:
        repairs.cancel()
        statistics.cancel()


if __name__ == "__main__":
    asyncio.run(run_worker())
