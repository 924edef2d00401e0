"""Cases and their actions: what caseworkers and border officers use every day."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NamedTuple

from fastapi import APIRouter, Body, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.case_scope import readable_case_ids
from api.casework import (
    check_scope,
    handle_for,
    linked_cases,
    person_of,
    public_person,
    read_view,
    send_action,
    send_batch,
    start_case,
)
from api.deps import BorderOrStaff, CaseReader, EngineDep, SettingsDep, TemporalDep
from api.errors import Forbidden, NotFound, Unprocessable
from api.note_scope import readable_notes
from api.permissions import roles_for
from api.schemas import CaseCreate, Page, SearchRequest
from api.text_safety import refused_field
from db.cursor import decode_cursor, encode_cursor
from db.duplicates import name_key, record_matches
from db.intents import intend
from db.references import assign_reference, normalise, reference_of
from db.search import search
from db.tables import CaseRecord, IdempotencyRecord, PersonRecord, UserRecord
from db.users import Role
from models.actions import parse_input
from models.enums import Action, Procedure, Stage
from models.messages import ActionBatch, ActionRequest
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/cases", tags=["cases"])

_ID_NAMESPACE = uuid.UUID("6f1c2a8e-2b0c-4b59-9a53-5d0f3c1b7a10")

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
    # Recorded by `asylumflow rules migrate` only: every role gets 403 here.
    "migrate_rules": {"on": "2026-11-22", "pack": "rs-2023", "to_digest": "sha256:" + "0" * 64},
}
assert set(ACTION_EXAMPLES) == {a.value for a in Action}


def _body_hash(body: CaseCreate) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


class Remembered(NamedTuple):
    """What `_remember` stored (or found stored) for a creation request."""

    case_id: str
    shown: dict[str, Any] | None
    """The person as the answer shows it; None for a request that repeats an earlier one."""
    intent_id: int | None
    """The projection intent stored with the person (None for a repeat)."""
    reference: str | None
    """The case's readable reference (None only for a case opened before references)."""


def _remember(engine: Any, user: UserRecord, key: str | None, body: CaseCreate) -> Remembered:
    """Store the person, the case's reference (and the idempotency key) before the workflow starts.

    A request that repeats an earlier one gets the earlier case and reference back (its person
    is read back). With a key, the case id is derived from it, so even a retry racing the first
    request starts the same workflow, with the same reference.
    """
    digest = _body_hash(body)
    case_id = uuid.uuid5(_ID_NAMESPACE, f"{user.name}\x00{key}").hex if key else uuid.uuid4().hex
    with Session(engine) as session:
        if key:
            earlier = session.get(IdempotencyRecord, (user.name, key))
            if earlier is not None:
                if earlier.body_hash != digest:
                    raise Unprocessable(
                        "Idempotency-Key", "this key was used with a different body"
                    )
                return Remembered(
                    earlier.case_id, None, None, reference_of(engine, earlier.case_id)
                )
            session.add(
                IdempotencyRecord(
                    user_name=user.name,
                    key=key,
                    body_hash=digest,
                    case_id=case_id,
                    created_at=datetime.now(UTC),
                )
            )
        p = body.person
        person = PersonRecord(
            case_id=case_id,
            given_name=p.given_name,
            family_name=p.family_name,
            name_key=name_key(p.given_name, p.family_name),
            date_of_birth=p.date_of_birth,
            nationality=p.nationality,
            sex=p.sex,
            biometric_ref=p.biometric_ref,
            identified_at=body.identified_at.value,
            vulnerabilities=[v.value for v in body.vulnerabilities],
            created_by=user.name,
            created_at=datetime.now(UTC),
        )
        session.add(person)
        shown = public_person(person)
        try:
            reference = assign_reference(
                session, case_id, body.jurisdiction, body.identified_on.year
            )
            intent_id = intend(session, case_id)
            session.commit()
        except IntegrityError:
            # A concurrent request with the same key won the race: answer as it did (its
            # reference number is given back with the rollback).
            session.rollback()
            return _remember(engine, user, key, body)
    return Remembered(case_id, shown, intent_id, reference)


@router.post(
    "",
    status_code=201,
    summary="Identify a person and open a case",
    responses={422: {"description": "A field is wrong (named in `field`)"}},
)
async def create_case(
    body: CaseCreate,
    user: BorderOrStaff,
    engine: EngineDep,
    client: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Store the person in SQL and start the case workflow in one update-with-start round trip.

    A retried request with the same `Idempotency-Key` returns the same case and never makes two.
    """
    case_id, shown, intent, reference = await run_in_threadpool(
        _remember, engine, user, idempotency_key, body
    )
    view = await start_case(
        client, engine, settings, case_id, body, user.name, intent, reference=reference
    )
    if view.get("reference") is None:
        view["reference"] = reference
    if shown is None:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
        shown = public_person(await run_in_threadpool(person_of, engine, case_id))
    view["person"] = shown
    return view


def _list_cases(
    engine: Any,
    user: UserRecord,
    stage: Stage | None,
    procedure: Procedure | None,
    jurisdiction: str | None,
    assignee: str | None,
    cursor: str | None,
    limit: int,
    reference: str | None = None,
) -> Page:
    query = select(CaseRecord)
    if reference is not None:
        wanted = normalise(reference)
        if wanted is None:
            return Page(items=[])
        query = query.where(CaseRecord.reference == wanted)
    if stage:
        query = query.where(CaseRecord.stage == stage.value)
    if procedure:
        query = query.where(CaseRecord.procedure == procedure.value)
    if jurisdiction:
        query = query.where(CaseRecord.jurisdiction == jurisdiction)
    if assignee:
        query = query.where(CaseRecord.assignee == assignee)
    if user.role == Role.LEGAL_AID:
        query = query.where(CaseRecord.legal_aid_org == user.org)
    if user.role == Role.BORDER_OFFICER:
        mine = select(PersonRecord.case_id).where(PersonRecord.created_by == user.name)
        query = query.where(col(CaseRecord.id).in_(mine))
    if cursor:
        query = query.where(CaseRecord.id > decode_cursor(cursor)[0])
    with Session(engine) as session:
        rows = session.exec(query.order_by(col(CaseRecord.id)).limit(limit + 1)).all()
    items = [r.model_dump(mode="json") for r in rows[:limit]]
    return Page(
        items=items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    )


@router.get("", summary="List cases from the read model")
async def list_cases(
    user: CaseReader,
    engine: EngineDep,
    stage: Stage | None = None,
    procedure: Procedure | None = None,
    jurisdiction: str | None = None,
    assignee: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    reference: Annotated[
        str | None,
        Query(
            max_length=40,
            description="A case reference (`RS-2026-000123`): that case, or an empty list",
        ),
    ] = None,
) -> Page:
    """Cases the user may see, filtered, in pages (`next_cursor` continues)."""
    return await run_in_threadpool(
        _list_cases,
        engine,
        user,
        stage,
        procedure,
        jurisdiction,
        assignee,
        cursor,
        limit,
        reference,
    )


@router.post(
    "/search",
    summary="Find cases by name, date of birth or reference (in the body: personal data)",
)
async def search_cases(body: SearchRequest, user: CaseReader, engine: EngineDep) -> Page:
    """The cases within the user's reach whose person or reference matches `q`, best first.

    Names are matched across transliterations and with typos (`Zeinab Karawi` finds
    `Zainab Qarawi`); an ISO date matches the date of birth; a reference its case. Legal aid
    searches its organisation's cases, a border officer the cases it opened.
    """
    items = await run_in_threadpool(search, engine, user, body.q, body.limit)
    return Page(items=items)


@router.get("/{case_id}", summary="One case: stage, deadlines with provenance, allowed actions")
async def get_case(
    case_id: str, user: CaseReader, engine: EngineDep, client: TemporalDep
) -> dict[str, Any]:
    """The case as its workflow holds it, with the person for authorised users."""
    view = await read_view(client, case_id)
    person = await run_in_threadpool(person_of, engine, case_id)
    check_scope(user, view, person)
    if view.get("reference") is None:
        # A case begun before references: its workflow does not know the one it was given.
        view["reference"] = await run_in_threadpool(reference_of, engine, case_id)
    view["person"] = public_person(person)
    linked = await run_in_threadpool(linked_cases, engine, case_id)
    view["linked_cases"] = await run_in_threadpool(readable_case_ids, engine, user, linked)
    return view


_HISTORY_FIELDS = (
    "seq",
    "actor",
    "action",
    "event",
    "on",
    "recorded_at",
    "note",
    "note_org",
    "data",
    "derived",
    "retracted",
    "retracted_by",
)


@router.get("/{case_id}/history", summary="The ordered events of a case")
async def case_history(
    case_id: str,
    user: CaseReader,
    engine: EngineDep,
    client: TemporalDep,
    order: Annotated[
        Literal["legal", "recorded"],
        Query(description="`legal` (default): by legal date `on`; `recorded`: by `seq`"),
    ] = "legal",
) -> dict[str, Any]:
    """Every item with its actor, legal date and recording time.

    In legal order by default: by `on`, and on one day acts before what the engine derived,
    then by `seq`; `?order=recorded` gives the order in which they were recorded.
    """
    view = await read_view(client, case_id)
    check_scope(user, view, await run_in_threadpool(person_of, engine, case_id))
    events = await handle_for(client, case_id).query(CaseWorkflow.history)
    events = await run_in_threadpool(readable_notes, engine, user, events)
    items = [{k: e.get(k) for k in _HISTORY_FIELDS} for e in events]
    for item in items:
        item["derived"] = bool(item["derived"])
        item["retracted"] = bool(item["retracted"])
    if order == "legal":
        items.sort(key=lambda i: (i["on"], i["derived"], i["seq"]))
    return {"items": items}


@router.post(
    "/{case_id}/actions/{action}",
    summary="Take an action on a case",
    responses={
        404: {"description": "Unknown case, or unknown action (the known ones are listed)"},
        409: {"description": "The stage does not allow it: `stage` and `allowed_actions`"},
        422: {"description": "A field is wrong, named in `field`"},
    },
)
async def take_action(
    case_id: str,
    action: str,
    user: CaseReader,
    engine: EngineDep,
    client: TemporalDep,
    body: Annotated[
        dict[str, Any],
        Body(openapi_examples={k: {"summary": k, "value": v} for k, v in ACTION_EXAMPLES.items()}),
    ],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Send the action as a Temporal Update and return the case's new state (one round trip).

    With an `Idempotency-Key`, the update's id is derived from it: a retry (after a timeout, a
    dropped connection, a restarted API) reaches the same update, which Temporal applies once,
    and gets its result. The same key with another body is a 422.
    """
    request = _checked(user, action, body)
    await _check_scope_if_limited(user, engine, client, case_id)
    update_id = None
    if idempotency_key:
        update_id = await run_in_threadpool(
            _remember_action, engine, user, case_id, request, idempotency_key
        )
    view = await send_action(client, engine, case_id, request, update_id=update_id)
    return await _after(engine, case_id, [request], view)


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


def _checked(
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
    unsafe = refused_field(body)
    if unsafe is not None:
        raise Unprocessable(prefix + unsafe[0], unsafe[1])
    try:
        parse_input(known, body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise Unprocessable(prefix + field, first["msg"]) from None
    return ActionRequest(action=known, body=body, actor=user.name)


async def _check_scope_if_limited(user: UserRecord, engine: Any, client: Any, case_id: str) -> None:
    if user.role in (Role.LEGAL_AID, Role.BORDER_OFFICER):
        check_scope(
            user,
            await read_view(client, case_id),
            await run_in_threadpool(person_of, engine, case_id),
        )


async def _after(
    engine: Any, case_id: str, requests: list[ActionRequest], view: dict[str, Any]
) -> dict[str, Any]:
    """Registration triggers the duplicate check (after the update, never before)."""
    if any(r.action is Action.REGISTER for r in requests):
        found = await run_in_threadpool(record_matches, engine, case_id)
        view["duplicate_candidates"] = [
            {"id": d.id, "other_case_id": d.other_case_id, "score": d.score} for d in found
        ]
    return view


@router.post(
    "/{case_id}/actions",
    summary="Take several past-dated actions at once (cases entered late or migrated)",
    responses={
        409: {"description": "An action was not allowed: `index`, `stage`, `allowed_actions`"},
        422: {"description": "A field is wrong, named `actions.<index>.<field>`"},
    },
)
async def take_actions(
    case_id: str,
    user: CaseReader,
    engine: EngineDep,
    client: TemporalDep,
    body: Annotated[
        dict[str, Any],
        Body(
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
        requests.append(_checked(user, item["action"], fields, prefix=f"actions.{index}."))
    await _check_scope_if_limited(user, engine, client, case_id)
    view = await send_batch(client, engine, case_id, ActionBatch(actions=requests))
    return await _after(engine, case_id, requests, view)
