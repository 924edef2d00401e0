"""Case actions: one typed operation per action of the transition table, and batches.

Each action of `models.transitions.TRANSITIONS` is its own operation,
`POST /cases/{case_id}/actions/<action>`, with the action's input model (`models/actions.py`)
as its request body: the OpenAPI document shows every action's fields, and FastAPI validates
them (a bad field is a `422` naming it). The catch-all route after them answers an unknown
action with `404` listing the known ones. A batch's items are a union discriminated by
`action` (`api.schemas.ActionBatchBody`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api import audit
from api.casework import (
    check_scope,
    person_of,
    read_view,
    send_action,
    send_batch,
    with_read_model_flags,
)
from api.deps import CaseReader, EngineDep, SettingsDep, TemporalDep
from api.errors import Forbidden, NotFound, Unprocessable, error_field
from api.permissions import roles_for
from api.protection import after_protection_acts, split_details, with_interpreter
from api.schemas import BODY_MODEL, CaseView, ConflictBody, ForbiddenBody, NotFoundBody
from api.text_safety import refused_field
from core.settings import Settings
from db import reception
from db.duplicates import record_matches
from db.tables import IdempotencyRecord, UserRecord
from db.users import Role
from models.actions import SEALED_FIELDS, ActionInput, input_model, parse_input
from models.enums import Action
from models.messages import ActionBatch, ActionRequest
from models.transitions import TRANSITIONS

router = APIRouter(prefix="/cases", tags=["actions"])

ACTION_EXAMPLES: dict[str, Any] = {
    "complete_screening": {"on": "2026-11-20"},
    "refer": {"on": "2026-11-20", "to": "asylum"},
    "make_application": {"on": "2026-11-20", "to_other_authority": False, "mass_influx": False},
    "register": {"on": "2026-11-21"},
    "lodge": {"on": "2026-11-22", "subsequent": False},
    "assign_procedure": {"on": "2026-11-22", "procedure": "regular"},
    "appoint_representative": {"on": "2026-11-22"},
    "record_reception_assessment": {"on": "2026-11-22"},
    "decide_admissibility": {"on": "2026-11-22", "admissible": True},
    "schedule_interview": {"on": "2026-11-22", "interview_on": "2026-12-10"},
    "record_interview": {"on": "2026-11-22", "attended": True},
    "extend_deadline": {"on": "2026-11-22", "clock": "decision", "reason": "complex case"},
    "decide": {"on": "2026-11-22", "outcome": "refugee_status"},
    "notify_decision": {"on": "2026-11-22"},
    "lodge_appeal": {"on": "2026-11-22"},
    "decide_appeal": {"on": "2026-11-22", "result": "dismissed"},
    "make_final": {"on": "2026-11-22"},
    "record_contact": {"on": "2026-11-22", "note": "came to the office"},
    "report_absconded": {"on": "2026-11-22"},
    "review_abandonment": {"on": "2026-11-22", "confirm": False},
    "discontinue": {"on": "2026-11-22"},
    "request_reopening": {"on": "2026-11-22"},
    "withdraw": {"on": "2026-11-22"},
    "pause_clock": {"on": "2026-11-22", "reason": "documents", "attributable_to": "applicant"},
    "resume_clock": {"on": "2026-11-22"},
    "correct_event": {"on": "2026-11-22", "event": "lodged", "date": "2026-11-21"},
    "retract_event": {"on": "2026-03-05", "seq": 4, "reason": "recorded on the wrong case"},
    "issue_personal_id": {"on": "2026-11-22"},
    "issue_permit": {"on": "2026-11-22"},
    "issue_document": {"on": "2026-11-22", "kind": "id_card"},
    "request_family_reunification": {"on": "2026-11-22"},
    "start_return": {"on": "2026-11-22"},
    "record_return_consent": {"on": "2026-11-22"},
    "record_risk_assessment": {"on": "2026-11-22", "at_risk": False},
    "record_departure": {"on": "2026-11-22"},
    "record_reintegration": {"on": "2026-11-22"},
    "assign_caseworker": {"on": "2026-11-22", "user": "caseworker-1"},
    "assign_legal_aid": {"on": "2026-11-22", "org": "legal-aid-belgrade"},
    "close": {"on": "2026-11-22"},
    "record_monitor_consent": {"on": "2026-11-22", "given": True},
    # Protection track (issue #19)
    "record_vulnerability": {"on": "2026-11-22", "kind": "torture_survivor", "present": True},
    "record_referral_outcome": {"on": "2026-11-25", "referral": 3, "acknowledged": True},
    "record_information_given": {"on": "2026-11-20", "language": "fa", "form": "oral"},
    "assign_interpreter": {"on": "2026-11-23", "interpreter": "interp-fa-1"},
    "record_age_assessment": {"on": "2026-11-22", "outcome": "minor"},
    "record_best_interests": {"on": "2026-11-22"},
    # Issue #19 (protection track b)
    "assign_accommodation": {"on": "2026-11-22", "centre": "krnjaca"},
    "end_accommodation": {"on": "2026-11-22"},
    "order_detention": {
        "on": "2026-11-22",
        "ground": "risk of absconding (Art 8(3)(b))",
        "alternative": False,
    },
    "review_detention": {"on": "2026-11-22", "continued": True},
    "release_from_detention": {"on": "2026-11-22"},
    # Responsibility procedure (issue 20)
    "request_take_charge": {"on": "2026-11-22", "to_state": "DE", "eurodac_hit_on": "2026-11-20"},
    "request_take_back": {"on": "2026-11-22", "to_state": "EL"},
    "record_responsibility_reply": {"on": "2026-11-22", "accepted": True},
    "record_transfer": {"on": "2026-11-22"},
}
ACTION_EXAMPLES["migrate_rules"] = {
    # Recorded by `asylumflow rules migrate` only: every role gets 403 here.
    "on": "2026-11-22",
    "pack": "rs-2023",
    "to_digest": "sha256:" + "0" * 64,
}
# Tracks around a decision (issue 20, branch `tracks`).
ACTION_EXAMPLES["lodge_further_appeal"] = {"on": "2026-11-22"}
ACTION_EXAMPLES["decide_further_appeal"] = {"on": "2026-11-22", "result": "dismissed"}
ACTION_EXAMPLES["refuse_return_consent"] = {"on": "2026-11-22", "withdrawn": False}
ACTION_EXAMPLES["record_return_decision"] = {"on": "2026-11-22", "departure_days": 30}
ACTION_EXAMPLES["grant_toleration"] = {"on": "2026-11-22"}
ACTION_EXAMPLES["withdraw_toleration"] = {"on": "2026-11-22"}
ACTION_EXAMPLES["decide_family_reunification"] = {"on": "2026-11-22", "outcome": "granted"}
ACTION_EXAMPLES["identify_for_resettlement"] = {"on": "2026-11-20"}
ACTION_EXAMPLES["submit_for_resettlement"] = {"on": "2026-11-21", "to_state": "SE"}
ACTION_EXAMPLES["decide_resettlement"] = {"on": "2026-11-22", "accepted": True}
ACTION_EXAMPLES["record_resettlement_departure"] = {"on": "2026-11-22"}
assert set(ACTION_EXAMPLES) == {a.value for a in Action}

_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": ForbiddenBody, "description": "The role may not take this action"},
    404: {"model": NotFoundBody, "description": "Unknown case (or another org's)"},
    409: {
        "model": ConflictBody,
        "description": "The stage does not allow it: `stage` and `allowed_actions`",
    },
    422: {"description": "A field is wrong, named in `field`"},
}


def may_take(action: Action) -> Callable[..., Awaitable[UserRecord]]:
    """A dependency: the user's role may take `action` (403 naming the roles that may).

    A dependency, so it answers before the body is validated: a role that may not take the
    action learns that, not which of its fields are wrong.
    """
    allowed = roles_for(action)

    # `async def`: a plain `def` dependency would cost the action a worker-thread hop.
    async def check(user: CaseReader) -> UserRecord:
        if user.role not in {r.value for r in allowed}:
            raise Forbidden(
                f"role {user.role} may not {action.value}",
                allowed_roles=sorted(r.value for r in allowed),
            )
        return user

    check.allowed_roles = {r.value for r in allowed}  # type: ignore[attr-defined]  # access matrix
    return check


def _action_operation(action: Action) -> None:
    """Add `POST /cases/{case_id}/actions/<action>` with the action's input model as its body."""
    model = input_model(action)

    async def take(
        case_id: str,
        user: UserRecord,
        engine: Any,
        client: Any,
        settings: Settings,
        body: ActionInput,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        # Only the fields the client sent: the workflow validates the same body again.
        fields = body.model_dump(mode="json", exclude_unset=True)
        _safe_text(fields)
        request = ActionRequest(action=action, body=fields, actor=user.name)
        return await send_one(
            case_id, user, engine, client, request, idempotency_key, settings=settings
        )

    parameter = inspect.Parameter
    # FastAPI reads the parameters' types from the signature: the body is this action's model.
    take.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            parameter("case_id", parameter.POSITIONAL_OR_KEYWORD, annotation=str),
            parameter(
                "user",
                parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[UserRecord, Depends(may_take(action))],
            ),
            parameter("engine", parameter.POSITIONAL_OR_KEYWORD, annotation=EngineDep),
            parameter("client", parameter.POSITIONAL_OR_KEYWORD, annotation=TemporalDep),
            parameter("settings", parameter.POSITIONAL_OR_KEYWORD, annotation=SettingsDep),
            parameter(
                "body",
                parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[
                    model,
                    Body(
                        openapi_examples={
                            action.value: {
                                "summary": action.value,
                                "value": ACTION_EXAMPLES[action.value],
                            }
                        }
                    ),
                ],
            ),
            parameter(
                "idempotency_key",
                parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[str | None, Header(max_length=200)],
                default=None,
            ),
        ],
        return_annotation=dict[str, Any],
    )
    router.post(
        f"/{{case_id}}/actions/{action.value}",
        name=f"take_{action.value}",
        summary=f"Take `{action.value}` on a case",
        description=(model.__doc__ or "").strip(),
        responses=_ACTION_RESPONSES,
        response_model=CaseView,
        response_model_exclude_unset=True,
    )(audit.stored_in_its_write(take))


for _action in TRANSITIONS:
    _action_operation(_action)


@router.post(
    "/{case_id}/actions/{action}",
    summary="Any other action: 404 listing the known ones",
    responses={
        403: {"model": ForbiddenBody},
        404: {
            "model": NotFoundBody,
            "description": "Unknown case, or unknown action (the known ones are listed)",
        },
        409: {
            "model": ConflictBody,
            "description": "The stage does not allow it: `stage` and `allowed_actions`",
        },
        422: {"description": "A field is wrong, named in `field`"},
    },
    # Typed and documented, and answered key for key as the workflow built the view.
    response_model=CaseView,
    response_model_exclude_unset=True,
)
@audit.stored_in_its_write
async def take_action(
    case_id: str,
    action: str,
    user: CaseReader,
    engine: EngineDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: Annotated[
        dict[str, Any],
        Body(openapi_examples={k: {"summary": k, "value": v} for k, v in ACTION_EXAMPLES.items()}),
    ],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Send the action as a Temporal Update and return the case's new state (one round trip)."""
    request = checked_request(user, action, body)
    return await send_one(
        case_id, user, engine, client, request, idempotency_key, settings=settings
    )


async def send_one(
    case_id: str,
    user: UserRecord,
    engine: Any,
    client: Any,
    request: ActionRequest,
    idempotency_key: str | None,
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One action as one Update; with an `Idempotency-Key`, the update's id is derived from it.

    A retry (after a timeout, a dropped connection, a restarted API) reaches the same update,
    which Temporal applies once, and gets its result. The same key with another body is a 422.
    """
    await _check_scope_if_limited(user, engine, client, case_id)
    update_id = None
    if idempotency_key:
        update_id = await run_in_threadpool(
            _remember_action, engine, user, case_id, request, idempotency_key
        )
    # Issue #19: special-category detail stays out of the workflow (a referral's or an
    # assessment's `detail`, a detention's ground); interviews get an interpreter of the pool.
    (clean,), pending = split_details([request])
    (clean,) = await with_interpreter(engine, client, case_id, [clean])
    sent, sealed = await _taken_sealed(engine, clean)
    view = await send_action(client, engine, case_id, sent, update_id=update_id)
    await after_protection_acts(engine, settings, case_id, [sent], pending, user.name)
    await _stored_sealed(engine, case_id, [sealed], user.name, settings)
    return await after_actions(engine, case_id, [request], view)


# Most acts need no SQL to seal or to keep: they are not sent to a worker thread for nothing
# (each hop cost every action a thread hand-off; bench/RESULTS.md, issue 18 session 9).


async def _taken_sealed(
    engine: Any, request: ActionRequest, prefix: str = ""
) -> tuple[ActionRequest, SealedDetail]:
    """`take_sealed`, in a worker thread only when it reads SQL (an accommodation's centre)."""
    if request.action is Action.ASSIGN_ACCOMMODATION:
        return await run_in_threadpool(take_sealed, engine, request, prefix)
    return take_sealed(engine, request, prefix)


async def _stored_sealed(
    engine: Any,
    case_id: str,
    details: list[SealedDetail],
    actor: str,
    settings: Settings | None,
) -> None:
    """`store_sealed`, in a worker thread, when there is anything to store."""
    if any(detail is not None for detail in details):
        await run_in_threadpool(store_sealed, engine, case_id, details, actor, settings)


SealedDetail = dict[str, Any] | None
"""What `take_sealed` took out of a body (None when nothing)."""


def take_sealed(
    engine: Any, request: ActionRequest, prefix: str = ""
) -> tuple[ActionRequest, SealedDetail]:
    """The request as the workflow may see it, and the special-category fields taken out.

    A detention order's `ground` is required here (`422` without it) and never reaches the
    workflow (`SEALED_FIELDS`); an accommodation names a known centre (`422` on `centre`).
    """
    if request.action is Action.ASSIGN_ACCOMMODATION:
        centre = request.body.get("centre")
        if not isinstance(centre, str) or not reception.centre_exists(engine, centre):
            raise Unprocessable(
                prefix + "centre", "no such reception centre (GET /reception/centres)"
            )
    fields = SEALED_FIELDS.get(request.action, ())
    if not fields:
        return request, None
    taken = {k: request.body[k] for k in fields if request.body.get(k) not in (None, "")}
    missing = [k for k in fields if k not in taken]
    if missing:
        raise Unprocessable(
            prefix + missing[0], "required (kept sealed in SQL, never in the workflow)"
        )
    body = {k: v for k, v in request.body.items() if k not in fields}
    detail = {"action": request.action.value, "on": body.get("on"), **taken}
    detail["alternative"] = bool(body.get("alternative", False))
    return request.model_copy(update={"body": body}), detail


def store_sealed(
    engine: Any,
    case_id: str,
    details: list[SealedDetail],
    actor: str,
    settings: Settings | None = None,
) -> None:
    """Keep what `take_sealed` took, once the workflow has accepted the acts (sealed in SQL)."""
    for detail in details:
        if detail is not None and detail["action"] == Action.ORDER_DETENTION.value:
            reception.record_detention_ground(
                engine,
                case_id=case_id,
                ordered_on=date.fromisoformat(str(detail["on"])),
                alternative=bool(detail["alternative"]),
                ground=str(detail["ground"]),
                by=actor,
                settings=settings,
            )


def _remember_action(
    engine: Any, user: UserRecord, case_id: str, request: ActionRequest, key: str
) -> str:
    """Store (or check) an action's idempotency key; the Temporal update id it stands for."""
    scoped = hashlib.sha256(f"{user.name}\x00{case_id}\x00{key}".encode()).hexdigest()
    digest = hashlib.sha256(
        json.dumps([request.action.value, request.body], sort_keys=True, default=str).encode()
    ).hexdigest()
    with Session(engine) as session:
        earlier = session.get(IdempotencyRecord, (user.name, f"act:{scoped}"))
        if earlier is not None:
            if earlier.body_hash != digest or earlier.case_id != case_id:
                raise Unprocessable("Idempotency-Key", "this key was used with a different body")
            return f"act-{scoped}"
        session.add(
            IdempotencyRecord(
                user_name=user.name,
                key=f"act:{scoped}",
                body_hash=digest,
                case_id=case_id,
                created_at=datetime.now(UTC),
            )
        )
        try:
            session.commit()
        except IntegrityError:  # the same key, racing: the first one's record stands
            session.rollback()
            return _remember_action(engine, user, case_id, request, key)
    return f"act-{scoped}"


def _safe_text(fields: dict[str, Any], prefix: str = "") -> None:
    """Control, bidirectional-override and zero-width characters in free text: 422."""
    unsafe = refused_field(fields)
    if unsafe is not None:
        raise Unprocessable(prefix + unsafe[0], unsafe[1])


def checked_request(
    user: UserRecord, action: str, body: dict[str, Any], prefix: str = ""
) -> ActionRequest:
    """Known action, allowed for the role, body valid: 404 / 403 / 422 otherwise."""
    try:
        known = Action(action)
    except ValueError:
        raise NotFound(
            f"unknown action {action!r}", known_actions=[a.value for a in Action]
        ) from None
    if user.role not in {r.value for r in roles_for(known)}:
        raise Forbidden(
            f"role {user.role} may not {known.value}",
            allowed_roles=sorted(r.value for r in roles_for(known)),
        )
    _safe_text(body, prefix)
    try:
        parse_input(known, body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Unprocessable(prefix + error_field(first["loc"]), first["msg"]) from None
    return ActionRequest(action=known, body=body, actor=user.name)


async def _check_scope_if_limited(user: UserRecord, engine: Any, client: Any, case_id: str) -> None:
    if user.role in (Role.LEGAL_AID, Role.BORDER_OFFICER):
        check_scope(
            user,
            await read_view(client, case_id),
            await run_in_threadpool(person_of, engine, case_id),
        )


async def after_actions(
    engine: Any, case_id: str, requests: list[ActionRequest], view: dict[str, Any]
) -> dict[str, Any]:
    """Registration triggers the duplicate check (after the update, never before).

    The read model's flags (`over_capacity`) are added to the view as `GET /cases/{id}` does.
    """
    if any(r.action is Action.REGISTER for r in requests):
        found = await run_in_threadpool(record_matches, engine, case_id)
        view["duplicate_candidates"] = [
            {"id": d.id, "other_case_id": d.other_case_id, "score": d.score} for d in found
        ]
    return await with_read_model_flags(engine, view)


@router.post(
    "/{case_id}/actions",
    summary="Take several past-dated actions at once (cases entered late or migrated)",
    responses={
        403: {"model": ForbiddenBody},
        404: {"model": NotFoundBody},
        409: {
            "model": ConflictBody,
            "description": "An action was not allowed: `index`, `stage`, `allowed_actions`",
        },
        422: {"description": "A field is wrong, named `actions.<index>.<field>`"},
    },
    # Typed and documented, and answered key for key as the workflow built the view.
    response_model=CaseView,
    response_model_exclude_unset=True,
    openapi_extra={BODY_MODEL: "ActionBatchBody"},
)
@audit.stored_in_its_write
async def take_actions(
    case_id: str,
    user: CaseReader,
    engine: EngineDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: Annotated[
        dict[str, Any],
        Body(
            # Checked item by item below (an unknown action is a 404 naming its index, a role
            # that may not take one a 403, before any field is looked at); documented as the
            # discriminated union those checks accept.
            openapi_examples={
                "migrated case": {
                    "summary": "lodged, decided and notified long ago",
                    "value": {
                        "actions": [
                            {"action": "make_application", "on": "2025-01-10"},
                            {"action": "register", "on": "2025-01-11"},
                            {"action": "lodge", "on": "2025-01-20"},
                            {"action": "decide", "on": "2025-05-02", "outcome": "rejected"},
                            {"action": "notify_decision", "on": "2025-05-05"},
                            {"action": "lodge_appeal", "on": "2025-05-12"},
                        ]
                    },
                }
            }
        ),
    ],
) -> dict[str, Any]:
    """Apply the actions in order as one update, all or nothing, settling clocks only after.

    One action at a time, a case entered late would see its clocks settled between acts as if
    the later acts had not happened (an entitlement recorded although the decision came first,
    an appeal window closed before the appeal is entered).
    """
    items = body.get("actions")
    if not isinstance(items, list) or not 1 <= len(items) <= 200:
        raise Unprocessable("actions", "a list of 1 to 200 actions")
    requests = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("action"), str):
            raise Unprocessable(f"actions.{index}.action", "each item names its action")
        fields = {k: v for k, v in item.items() if k != "action"}
        requests.append(checked_request(user, item["action"], fields, prefix=f"actions.{index}."))
    await _check_scope_if_limited(user, engine, client, case_id)
    clean, pending = split_details(requests)
    clean = await with_interpreter(engine, client, case_id, clean)
    taken = [await _taken_sealed(engine, r, f"actions.{i}.") for i, r in enumerate(clean)]
    sent = [t[0] for t in taken]
    view = await send_batch(client, engine, case_id, ActionBatch(actions=sent))
    await after_protection_acts(engine, settings, case_id, sent, pending, user.name)
    details = [t[1] for t in taken]
    await _stored_sealed(engine, case_id, details, user.name, settings)
    return await after_actions(engine, case_id, requests, view)
