"""Cases and their actions: what caseworkers and border officers use every day."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NamedTuple

from fastapi import APIRouter, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api import audit
from api.case_scope import readable_case_ids
from api.casework import (
    check_scope,
    handle_for,
    linked_cases,
    person_of,
    public_person,
    read_view,
    start_case,
    with_read_model_flags,
)
from api.deps import (
    BorderOrStaff,
    CaseFileReader,
    CaseReader,
    EngineDep,
    SettingsDep,
    Staff,
    TemporalDep,
)
from api.errors import Unavailable, Unprocessable
from api.note_scope import readable_notes
from api.protection import protection_details
from api.schemas import (
    CaseCreate,
    CasePage,
    CaseView,
    ForbiddenBody,
    History,
    NotFoundBody,
    Page,
    ProtectionDetails,
    SearchRequest,
)
from core.codec import CodecError
from db.cursor import decode_cursor, encode_cursor
from db.duplicates import name_key
from db.intents import intend
from db.references import assign_reference, normalise, reference_of
from db.search import search
from db.tables import CaseRecord, IdempotencyRecord, PersonRecord, UserRecord
from db.users import Role
from models.enums import Procedure, Stage
from models.history_order import legal_order
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/cases", tags=["cases"])

_ID_NAMESPACE = uuid.UUID("6f1c2a8e-2b0c-4b59-9a53-5d0f3c1b7a10")


def body_hash(body: CaseCreate) -> str:
    """What an idempotency key's record keeps of the body, to tell a repeat from a misuse."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def case_id_for(deployment: str, user_name: str, key: str) -> str:
    """The case id an idempotency key derives (`_remember`)."""
    return uuid.uuid5(_ID_NAMESPACE, f"{deployment}\x00{user_name}\x00{key}").hex


def person_record(case_id: str, body: CaseCreate, user_name: str) -> PersonRecord:
    """The person row `POST /cases` stores for `body`."""
    p = body.person
    return PersonRecord(
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
        created_by=user_name,
        created_at=datetime.now(UTC),
    )


class Remembered(NamedTuple):
    """What `_remember` stored (or found stored) for a creation request."""

    case_id: str
    shown: dict[str, Any] | None
    """The person as the answer shows it; None for a request that repeats an earlier one."""
    intent_id: int | None
    """The projection intent stored with the person (None for a repeat)."""
    reference: str | None
    """The case's readable reference (None only for a case opened before references)."""


def _remember(
    engine: Any, user: UserRecord, key: str | None, body: CaseCreate, deployment: str
) -> Remembered:
    """Store the person, the case's reference (and the idempotency key) before the workflow starts.

    A request that repeats an earlier one gets the earlier case and reference back (its person
    is read back). With a key, the case id is derived from it, so even a retry racing the first
    request starts the same workflow, with the same reference. `deployment` (the task queue)
    keeps two deployments sharing a Temporal namespace (or two test databases sharing a test
    server) from deriving the same case id from the same user and key.
    """
    digest = body_hash(body)
    case_id = case_id_for(deployment, user.name, key) if key else uuid.uuid4().hex
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
        person = person_record(case_id, body, user.name)
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
            return _remember(engine, user, key, body, deployment)
    return Remembered(case_id, shown, intent_id, reference)


@router.post(
    "",
    status_code=201,
    summary="Identify a person and open a case",
    responses={
        200: {"model": CaseView, "description": "A retry with the same `Idempotency-Key`"},
        403: {"model": ForbiddenBody},
        422: {"description": "A field is wrong (named in `field`)"},
    },
    # Typed and documented, and answered key for key as the workflow built the view.
    response_model=CaseView,
    response_model_exclude_unset=True,
)
@audit.stored_in_its_write
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
        _remember, engine, user, idempotency_key, body, settings.task_queue
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


@router.get("", summary="List cases from the read model", response_model=CasePage)
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


@router.get(
    "/{case_id}",
    summary="One case: stage, deadlines with provenance, allowed actions",
    responses={404: {"model": NotFoundBody}},
    # Typed and documented, and answered key for key as the workflow built the view.
    response_model=CaseView,
    response_model_exclude_unset=True,
)
async def get_case(
    case_id: str, user: CaseFileReader, engine: EngineDep, client: TemporalDep
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
    return await with_read_model_flags(engine, view)


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


@router.get(
    "/{case_id}/history",
    summary="The ordered events of a case",
    response_model=History,
    response_model_exclude_unset=True,
    responses={404: {"model": NotFoundBody}},
)
async def case_history(
    case_id: str,
    user: CaseFileReader,
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
    return {"items": legal_order(items) if order == "legal" else items}


@router.get(
    "/{case_id}/protection/details",
    summary="The special-category detail of a case's protection acts and detention orders",
    response_model=ProtectionDetails,
    responses={404: {"model": NotFoundBody}, 403: {"model": ForbiddenBody}},
)
async def case_protection_details(
    case_id: str, user: Staff, engine: EngineDep, client: TemporalDep, settings: SettingsDep
) -> dict[str, Any]:
    """The `detail` of protection acts and the grounds of detention orders, unsealed.

    Screening, referrals and their outcomes, vulnerabilities, age and best-interests
    assessments, in the order recorded. Caseworkers and supervisors only: health, age and
    detention detail (GDPR Art 9) is not for border officers, legal aid or monitors, and never
    reaches the workflow, the case view or the search. The audit log records who read it, as
    for every request; answers are never cached (`Cache-Control: no-store`).
    """
    view = await read_view(client, case_id)  # 404 for a case that does not exist
    check_scope(user, view, await run_in_threadpool(person_of, engine, case_id))
    try:
        return await run_in_threadpool(protection_details, engine, settings, case_id)
    except CodecError as exc:
        # A key this process lacks (or a tampered row): no half-answer, nothing leaked.
        raise Unavailable(f"sealed detail cannot be opened: {exc}") from None
