"""Helpers for driving case workflows in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from db.tables import DeliveryRecord, WebhookRecord
from models.enums import Action
from models.messages import ActionRequest, CaseInput
from workflows.case import CaseWorkflow

Handle = WorkflowHandle[CaseWorkflow, dict[str, Any]]

STARTED: list[Handle] = []
"""Workflows started by the current test; terminated after it (see tests/workflows/conftest)."""


async def terminate_started() -> None:
    """Terminate what the test left running.

    On the shared time-skipping server, workflows whose worker is gone would otherwise hold time
    skipping back for later tests.
    """
    while STARTED:
        handle = STARTED.pop()
        try:
            # By id alone: the latest run, even after continue-as-new.
            await handle._client.get_workflow_handle(handle.id).terminate("test finished")
        except Exception:  # already completed or continued: nothing to stop
            continue


def local_today(now: datetime, tz: str = "Europe/Belgrade") -> date:
    """The legal date of `now` in a jurisdiction."""
    return now.astimezone(ZoneInfo(tz)).date()


async def start_case(
    client: Client,
    task_queue: str,
    case_id: str,
    *,
    jurisdiction: str = "rs",
    identified_on: date,
    search_attributes: bool = False,
    history_threshold: int = 2000,
    **extra: Any,
) -> Handle:
    """Start a case workflow as the API does (id `case-<id>`)."""
    handle = await client.start_workflow(
        CaseWorkflow.run,
        CaseInput.opening(
            case_id,
            jurisdiction,
            identified_on,
            search_attributes=search_attributes,
            history_threshold=history_threshold,
            **extra,
        ),
        id=f"case-{case_id}",
        task_queue=task_queue,
    )
    STARTED.append(handle)
    return handle


async def act(
    handle: Handle, action: str, on: date, actor: str = "caseworker", **fields: Any
) -> dict[str, Any]:
    """Send one action and return the case's new state."""
    body = {"on": on.isoformat(), **{k: _json(v) for k, v in fields.items()}}
    return await handle.execute_update(
        CaseWorkflow.act, ActionRequest(action=Action(action), body=body, actor=actor)
    )


async def rejected(handle: Handle, action: str, on: date, **fields: Any) -> dict[str, Any]:
    """Send an action that must be rejected; return the failure's details."""
    try:
        await act(handle, action, on, **fields)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        assert isinstance(cause, ApplicationError)
        details = dict(cause.details[0]) if cause.details else {}
        details["type"] = cause.type
        return details
    raise AssertionError(f"{action} was accepted")


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def deadline(state: dict[str, Any], clock: str) -> dict[str, Any]:
    """One clock from a state view."""
    found: list[dict[str, Any]] = [d for d in state["deadlines"] if d["clock"] == clock]
    assert found, f"no {clock} clock in {[d['clock'] for d in state['deadlines']]}"
    return found[0]


SECRET = "test-webhook-secret"
"""The signing key of the webhooks `add_webhook` registers."""


def add_webhook(engine: Engine, org: str, url: str) -> int:
    """Register a reminder webhook for `org` straight in the database; its id."""
    with Session(engine) as session:
        record = WebhookRecord(org=org, url=url, secret=SECRET, created_at=datetime.now(UTC))
        session.add(record)
        session.commit()
        assert record.id is not None
        return record.id


def attempts(engine: Engine) -> list[DeliveryRecord]:
    """Every reminder delivery attempt so far, in order."""
    with Session(engine) as session:
        return list(session.exec(select(DeliveryRecord).order_by(col(DeliveryRecord.id))).all())
