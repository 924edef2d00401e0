"""Case operations shared by routes: reach the workflow, scope it to the user, act on it."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, or_, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api import audit
from api.errors import Conflict, Forbidden, NotFound, Unavailable, Unprocessable
from api.schemas import CaseCreate
from core.settings import Settings
from db import reception
from db.intents import forget_intent, record_intent, write_returned_batch
from db.tables import DuplicateRecord, PersonRecord, UserRecord
from db.users import Role
from models.messages import ActionBatch, ActionRequest, CaseInput, ProjectionBatch, Refresh
from workflows.case import CaseWorkflow, workflow_id

CASE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

TEMPORAL_TIMEOUT = 30.0
"""Seconds a request waits for a case workflow before answering 503 (never hang a client)."""

CaseHandle = WorkflowHandle[CaseWorkflow, dict[str, Any]]

log = logging.getLogger(__name__)


def handle_for(client: Client, case_id: str) -> CaseHandle:
    """The workflow handle of a case (404 for ids that cannot be case ids)."""
    if not CASE_ID.match(case_id):
        raise NotFound("no such case")
    return client.get_workflow_handle(workflow_id(case_id))


async def read_view(client: Client, case_id: str) -> dict[str, Any]:
    """The case's current state from its workflow (the source of truth)."""
    try:
        view: dict[str, Any] = await asyncio.wait_for(
            handle_for(client, case_id).query(CaseWorkflow.state), TEMPORAL_TIMEOUT
        )
    except TimeoutError:
        raise Unavailable("the case did not answer in time; try again") from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise NotFound("no such case") from None
        raise Unavailable("the workflow service did not answer; try again") from exc
    except WorkflowQueryFailedError as exc:
        raise Unavailable(f"the case could not be read: {exc}") from exc
    return view


async def with_read_model_flags(engine: Engine, view: dict[str, Any]) -> dict[str, Any]:
    """The view with the flags only the read model knows: `over_capacity` (issue #19).

    The workflow knows the centre a person was given, not how full it is: whether the place is
    one beyond the centre's capacity is counted over every case in it (`db.reception`).
    """
    if "accommodated" in view.get("flags", ()) and await run_in_threadpool(
        reception.case_over_capacity, engine, str(view["id"])
    ):
        view["flags"] = [*view["flags"], "over_capacity"]
    return view


def person_of(engine: Engine, case_id: str) -> PersonRecord | None:
    """The person registered for a case."""
    with Session(engine) as session:
        return session.get(PersonRecord, case_id)


def check_scope(user: UserRecord, view: dict[str, Any], person: PersonRecord | None) -> None:
    """404 for a case out of the user's reach (403 for admins, who read no cases).

    Legal aid reads its own org's cases, border officers the cases they opened, monitors the
    cases whose person consented to a monitor's reading.
    """
    if user.role == Role.LEGAL_AID and view.get("legal_aid_org") != user.org:
        raise NotFound("no such case")
    if user.role == Role.BORDER_OFFICER and (person is None or person.created_by != user.name):
        # 404, not 403: an officer must not learn that another officer's case exists.
        raise NotFound("no such case")
    if user.role == Role.MONITOR and not view.get("monitor_consent"):
        # 404 as for another org's case: without the person's consent (or after its
        # revocation) a monitor must not learn that the case exists.
        raise NotFound("no such case")
    if user.role == Role.ADMIN:
        raise Forbidden("admins take no case actions and read no cases")


def linked_cases(engine: Engine, case_id: str) -> list[str]:
    """Cases a supervisor confirmed to be the same person."""
    with Session(engine) as session:
        rows = session.exec(
            select(DuplicateRecord).where(
                DuplicateRecord.status == "confirmed",
                or_(
                    col(DuplicateRecord.case_id) == case_id,
                    col(DuplicateRecord.other_case_id) == case_id,
                ),
            )
        ).all()
    return sorted({r.other_case_id if r.case_id == case_id else r.case_id for r in rows})


def public_person(person: PersonRecord | None) -> dict[str, Any] | None:
    """The person as authorised users see it."""
    if person is None:
        return None
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else None,
        "nationality": person.nationality,
        "sex": person.sex,
        "vulnerabilities": person.vulnerabilities,
    }


def opening_input(
    settings: Settings,
    case_id: str,
    body: CaseCreate,
    actor: str,
    *,
    reference: str | None = None,
) -> CaseInput:
    """The input `POST /cases` starts a case's workflow with (the import's dry run uses it too)."""
    return CaseInput.opening(
        case_id,
        body.jurisdiction,
        body.identified_on,
        reference=reference,
        identified_at=body.identified_at,
        vulnerabilities=body.vulnerabilities,
        legal_aid_org=body.legal_aid_org,
        actor=actor,
        caller_projects=True,
        **settings.workflow_options(),
    )


async def start_case(
    client: Client,
    engine: Engine,
    settings: Settings,
    case_id: str,
    body: CaseCreate,
    actor: str,
    intent_id: int | None = None,
    *,
    reference: str | None = None,
) -> dict[str, Any]:
    """Start (or reach, if it exists) a case's workflow in one update-with-start round trip.

    The workflow gets no personal data: the person stays in SQL, stored before this is called.
    The case's read-model row is written here, from the update's result, before answering;
    `intent_id` is the projection intent the caller stored with the person (one is made if not).
    """
    if intent_id is None:
        intent_id = await run_in_threadpool(record_intent, engine, case_id)
    start = _start_operation(settings, case_id, body, actor, reference)
    try:
        view: dict[str, Any] = await asyncio.wait_for(
            client.execute_update_with_start_workflow(
                CaseWorkflow.refresh, Refresh(project=True), start_workflow_operation=start
            ),
            TEMPORAL_TIMEOUT,
        )
    except (RPCError, RPCTimeoutOrCancelledError, TimeoutError) as exc:
        # The intent stays: if the case started after all, the repair loop projects it.
        raise Unavailable("the workflow service did not answer; retry with the same key") from exc
    return await write_update_result(engine, case_id, view, intent_id)


def _start_operation(
    settings: Settings, case_id: str, body: CaseCreate, actor: str, reference: str | None
) -> WithStartWorkflowOperation[CaseWorkflow, dict[str, Any]]:
    return WithStartWorkflowOperation(
        CaseWorkflow.run,
        opening_input(settings, case_id, body, actor, reference=reference),
        id=workflow_id(case_id),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=settings.task_queue,
    )


async def open_with_acts(
    client: Client,
    engine: Engine,
    settings: Settings,
    case_id: str,
    body: CaseCreate,
    actor: str,
    intent_id: int,
    acts: ActionBatch,
    update_id: str | None,
    reference: str | None,
) -> dict[str, Any]:
    """Start a case with `acts` as its `act_batch` update (the bulk import's `start_case`).

    One update-with-start, so the case and its acts arrive together, all or nothing;
    `update_id` makes a retry reach the first one's result. Returns the view with its
    read-model batch: the caller writes it (`write_update_result`, as `start_case` does; the
    import does it in a stage of its own). A refused batch raises `Conflict` /
    `Unprocessable` and drops the intent; the workflow it started stays running with no act
    (an update-with-start whose update is refused still starts the workflow): the caller
    removes it.
    """
    call = client.execute_update_with_start_workflow(
        CaseWorkflow.act_batch,
        acts.model_copy(update={"project": True}),
        id=update_id,
        start_workflow_operation=_start_operation(settings, case_id, body, actor, reference),
    )
    try:
        return await _update(client, case_id, "the batch", call)
    except (Conflict, Unprocessable):
        await run_in_threadpool(forget_intent, engine, intent_id)
        raise


async def send_action(
    client: Client,
    engine: Engine,
    case_id: str,
    request: ActionRequest,
    *,
    update_id: str | None = None,
) -> dict[str, Any]:
    """Send one action as an Update, write the read model, map failures to 409 / 422 / 404.

    `update_id`: Temporal applies an update id once per case run; a retry with the same id
    gets the first one's result (the `Idempotency-Key` of an action).
    """
    handle = handle_for(client, case_id)
    request = request.model_copy(update={"project": True})
    return await _send_with_intent(
        client,
        engine,
        case_id,
        request.action.value,
        lambda: handle.execute_update(CaseWorkflow.act, request, id=update_id),
    )


async def send_batch(
    client: Client, engine: Engine, case_id: str, batch: ActionBatch
) -> dict[str, Any]:
    """Send several actions as one Update (all or nothing); failures name the action's index."""
    handle = handle_for(client, case_id)
    batch = batch.model_copy(update={"project": True})
    return await _send_with_intent(
        client,
        engine,
        case_id,
        "the batch",
        lambda: handle.execute_update(CaseWorkflow.act_batch, batch),
    )


async def _send_with_intent(
    client: Client,
    engine: Engine,
    case_id: str,
    what: str,
    send: Callable[[], Coroutine[Any, Any, dict[str, Any]]],
) -> dict[str, Any]:
    """Store the intent, then send the update, then write what it hands back."""
    intent_id = await run_in_threadpool(record_intent, engine, case_id)
    try:
        view = await _update(client, case_id, what, send())
    except (Conflict, Unprocessable, NotFound):
        # Rejected: nothing changed, nothing to project. (A timeout keeps its intent: the
        # update may still have been applied.)
        await run_in_threadpool(forget_intent, engine, intent_id)
        raise
    return await write_update_result(engine, case_id, view, intent_id)


async def write_update_result(
    engine: Engine, case_id: str, view: dict[str, Any], intent_id: int
) -> dict[str, Any]:
    """Write the read-model batch the update returned, and return the view without it.

    The row is then current when the caller gets the answer, and the workflow ran no
    projection activity for the change (see `ActionRequest.project`). The action has happened
    whatever this write does: if it fails, the answer stands and the intent stays behind for
    the workers' repair loop (`db.intents`).
    """
    raw = view.pop("projection", None)
    if raw is None:
        await run_in_threadpool(forget_intent, engine, intent_id)
        return view
    batch = ProjectionBatch.model_validate(raw)
    # The request's audit record goes into the same transaction (one commit fewer).
    record = audit.claim()
    try:
        record_id = await run_in_threadpool(
            write_returned_batch, engine, batch, intent_id, record.store if record else None
        )
    except SQLAlchemyError as exc:
        # The case id only: the batch carries personal notes.
        log.warning("read model write failed for case %s (%s); left to repair", case_id, type(exc))
        if record is not None:
            record.release()
        return view
    if record is not None and record_id is not None:
        record.stored(record_id)
    return view


async def _update(
    client: Client, case_id: str, what: str, call: Coroutine[Any, Any, dict[str, Any]]
) -> dict[str, Any]:
    try:
        view: dict[str, Any] = await asyncio.wait_for(call, TEMPORAL_TIMEOUT)
        return view
    except (TimeoutError, RPCTimeoutOrCancelledError):
        # The server gave up waiting (or we did). The update may still be applied: a retry
        # with the same Idempotency-Key reaches it; without one it gets 409, never a duplicate.
        raise Unavailable(
            "the case did not answer in time; check its state before retrying"
        ) from None
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.details:
            details = dict(cause.details[0])
            index = details.get("index")  # which action of a batch failed
            if cause.type == "DomainError":
                raise Conflict(
                    details["detail"],
                    stage=details["stage"],
                    allowed_actions=details["allowed_actions"],
                    **({} if index is None else {"index": index}),
                    **({"conflict": details["conflict"]} if "conflict" in details else {}),
                ) from None
            if cause.type == "InvalidInput":
                field = details["field"] if index is None else f"actions.{index}.{details['field']}"
                raise Unprocessable(field, details["detail"]) from None
        raise Conflict(str(cause or exc), stage=None, allowed_actions=[]) from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            # The workflow ended (a closed case) or never existed.
            view = await read_view(client, case_id)
            raise Conflict(
                f"{what} is not allowed in stage {view['stage']}",
                stage=view["stage"],
                allowed_actions=[],
            ) from None
        raise Unavailable("the workflow service did not answer; nothing was changed") from exc
