"""Cases and their actions: what caseworkers and border officers use every day."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.casework import (
    check_scope,
    handle_for,
    linked_cases,
    person_of,
    public_person,
    read_view,
    start_case,
)
from api.deps import BorderOrStaff, CaseReader, EngineDep, SettingsDep, TemporalDep
from api.errors import Unprocessable
from api.schemas import (
    CaseCreate,
    CasePage,
    CaseView,
    ForbiddenBody,
    History,
    NotFoundBody,
    Page,
)
from db.cursor import decode_cursor, encode_cursor
from db.duplicates import name_key
from db.intents import intend
from db.tables import CaseRecord, IdempotencyRecord, PersonRecord, UserRecord
from db.users import Role
from models.enums import Procedure, Stage
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/cases", tags=["cases"])

_ID_NAMESPACE = uuid.UUID("6f1c2a8e-2b0c-4b59-9a53-5d0f3c1b7a10")


def _body_hash(body: CaseCreate) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def _remember(
    engine: Any, user: UserRecord, key: str | None, body: CaseCreate
) -> tuple[str, dict[str, Any] | None, int | None]:
    """Store the person (and the idempotency key) before the workflow starts.

    Returns the case id and, for a new case, the person as the answer shows it and the id of
    the projection intent stored with it (a request that repeats an earlier one gets None for
    both: its person is read back). With a key, the case id is derived from it, so even a retry
    racing the first request starts the same workflow.
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
                return earlier.case_id, None, None
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
            intent_id = intend(session, case_id)
            session.commit()
        except IntegrityError:
            # A concurrent request with the same key won the race: answer as it did.
            session.rollback()
            return _remember(engine, user, key, body)
    return case_id, shown, intent_id


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
    case_id, shown, intent = await run_in_threadpool(_remember, engine, user, idempotency_key, body)
    view = await start_case(client, engine, settings, case_id, body, user.name, intent)
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
) -> Page:
    query = select(CaseRecord)
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
) -> Page:
    """Cases the user may see, filtered, in pages (`next_cursor` continues)."""
    return await run_in_threadpool(
        _list_cases, engine, user, stage, procedure, jurisdiction, assignee, cursor, limit
    )


@router.get(
    "/{case_id}",
    summary="One case: stage, deadlines with provenance, allowed actions",
    responses={404: {"model": NotFoundBody}},
    # Typed and documented, and answered key for key as the workflow built the view.
    response_model=CaseView,
    response_model_exclude_unset=True,
)
async def get_case(
    case_id: str, user: CaseReader, engine: EngineDep, client: TemporalDep
) -> dict[str, Any]:
    """The case as its workflow holds it, with the person for authorised users."""
    view = await read_view(client, case_id)
    person = await run_in_threadpool(person_of, engine, case_id)
    check_scope(user, view, person)
    view["person"] = public_person(person)
    view["linked_cases"] = await run_in_threadpool(linked_cases, engine, case_id)
    return view


@router.get(
    "/{case_id}/history",
    summary="The ordered events of a case",
    response_model=History,
    response_model_exclude_unset=True,
    responses={404: {"model": NotFoundBody}},
)
async def case_history(
    case_id: str, user: CaseReader, engine: EngineDep, client: TemporalDep
) -> dict[str, Any]:
    """Every event with its actor, legal date and recording time, ordered by `seq`."""
    view = await read_view(client, case_id)
    check_scope(user, view, await run_in_threadpool(person_of, engine, case_id))
    events = await handle_for(client, case_id).query(CaseWorkflow.history)
    return {
        "items": [
            {
                k: e.get(k)
                for k in ("seq", "actor", "action", "event", "on", "recorded_at", "note", "data")
            }
            for e in events
        ]
    }
