"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

router = APIRouter(prefix="/health", tags=["health"])

CHECK_TIMEOUT = 5.0
"""Seconds each readiness check may take: a probe must answer even when a backend hangs."""

POLLER_FRESH = timedelta(seconds=90)
"""A poller seen this recently counts as polling. An idle worker's long poll lasts up to a
minute before it polls again, and the server keeps a gone worker's last poll for minutes."""


def _database_ok(engine: Any) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def workers_polling(client: Client, task_queue: str) -> int:
    """How many worker processes poll the case workflows' task queue right now."""
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=timedelta(seconds=CHECK_TIMEOUT),
    )
    now = datetime.now(UTC)
    fresh = {
        p.identity
        for p in described.pollers
        if not p.HasField("last_access_time")
        or now - p.last_access_time.ToDatetime(tzinfo=UTC) <= POLLER_FRESH
    }
    return len(fresh)


@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request, response: Response) -> dict[str, Any]:
    """The database and the Temporal server answer (503 otherwise); how many workers poll.

    No worker polling is not a failure of this process (its requests wait for one, and the
    launcher or the orchestrator restarts workers): `workers_polling` is 0 and the status 200.
    """
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(
            asyncio.to_thread(_database_ok, request.app.state.engine), CHECK_TIMEOUT
        )
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"error: {type(exc).__name__}"
    client: Client = request.app.state.temporal
    polling: int | None = None
    try:
        await client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT))
        checks["temporal"] = "ok"
    except Exception as exc:
        checks["temporal"] = f"error: {type(exc).__name__}"
    else:
        try:
            polling = await workers_polling(client, request.app.state.settings.task_queue)
        except Exception as exc:
            checks["workers"] = f"unknown: {type(exc).__name__}"
    ok = checks["database"] == "ok" and checks["temporal"] == "ok"
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"status": "ok" if ok else "unavailable", "checks": checks, "workers_polling": polling}
