"""Supervisors' views of the whole caseload, answered from the read model, and bulk reassignment.

The lists are as fresh as the projection (a second or so behind the workflows); reassignment
checks each case against its workflow before changing it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from api import audit
from api.casework import read_view, send_action
from api.deps import EngineDep, SettingsDep, Supervisor, TemporalDep
from api.errors import ApiError, Unprocessable
from api.schemas import ForbiddenBody, SupervisionPage
from api.text_safety import check_text
from core import csv_safety
from core.settings import Settings
from db import supervision
from db.tables import UserRecord
from db.users import Role
from models.enums import Action, Procedure, Stage
from models.messages import ActionRequest
from models.rules import calendar_today
from models.stages import TERMINAL_STAGES

router = APIRouter(prefix="/supervision", tags=["supervision"])

_REASSIGN_CONCURRENCY = 8
"""Updates in flight at once during a bulk reassignment (each is one workflow round trip)."""


async def _filters(
    stage: Stage | None = None,
    procedure: Procedure | None = None,
    jurisdiction: str | None = None,
    assignee: str | None = None,
) -> supervision.Filters:
    """The filters every list takes, as query parameters."""
    return supervision.Filters(
        jurisdiction=jurisdiction,
        procedure=procedure.value if procedure else None,
        stage=stage.value if stage else None,
        assignee=assignee,
    )


CSV_MAX_ROWS = 10_000
"""Rows one CSV export holds at most (`X-Asylumflow-Truncated: true` when the list had more)."""


@dataclass(frozen=True)
class Paging:
    """Where a list page starts, how long it is, its order and its format."""

    cursor: str | None
    limit: int
    sort: str = "since"
    format: str = "json"


async def _paging(
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: Annotated[
        Literal["since", "due", "stage"],
        Query(
            description="`since` (oldest first), `due` (next deadline first; in the overdue "
            "list the missed due date), or `stage`; ties by `since`, then case id"
        ),
    ] = "since",
    format: Annotated[
        Literal["json", "csv"],
        Query(description=f"`csv`: the whole list from `cursor` on (at most {CSV_MAX_ROWS} rows)"),
    ] = "json",
) -> Paging:
    return Paging(cursor=cursor, limit=limit, sort=sort, format=format)


CSV_FIRST_COLUMNS = [
    "id",
    "reference",
    "stage",
    "since",
    "reason_code",
    "reason",
    "jurisdiction",
    "procedure",
    "assignee",
    "legal_aid_org",
    "stage_since",
]
"""The columns every list's CSV starts with; each list's own fields follow."""


ListQuery = Callable[[str | None, int, str], supervision.Listing]
"""One supervision list as a function of (cursor, limit, sort), its filters bound."""


async def _answer(name: str, paging: Paging, query: ListQuery) -> Any:
    """One page as JSON, or the whole list from the cursor on as CSV."""
    if paging.format == "json":
        page = await run_in_threadpool(query, paging.cursor, paging.limit, paging.sort)
        return page.as_dict()
    return await csv_export(name, query, cursor=paging.cursor, sort=paging.sort)


async def csv_export(name: str, query: ListQuery, *, cursor: str | None, sort: str) -> Response:
    """The whole list from `cursor` on, in the order `sort`, as a CSV attachment.

    Raises:
        InvalidCursor: `cursor` is not one this order handed out.
    """
    items: list[dict[str, Any]] = []
    truncated = False
    while True:
        page = await run_in_threadpool(query, cursor, 500, sort)
        items += page.items
        if page.next_cursor is None:
            break
        if len(items) >= CSV_MAX_ROWS:
            truncated = True
            break
        cursor = page.next_cursor
    items = items[:CSV_MAX_ROWS]
    columns = [*CSV_FIRST_COLUMNS]
    for item in items:
        columns += [key for key in item if key not in columns]
    out = io.StringIO()
    writer = csv_safety.dict_writer(out, columns)
    writer.writeheader()
    writer.writerows(
        {k: " ".join(v) if isinstance(v, list) else v for k, v in item.items()} for item in items
    )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "X-Total-Count": str(page.total),
            "X-Asylumflow-Truncated": "true" if truncated else "false",
        },
    )


def list_query(
    name: str, engine: Engine, filters: supervision.Filters, *, settings: Settings
) -> ListQuery:
    """The list called `name` (a key of `supervision.QUERIES`) with its filters bound."""
    today = calendar_today(filters.jurisdiction)
    extra: dict[str, Any] = {"configured": settings.service_levels} if name == "stuck" else {}
    function = supervision.QUERIES[name]

    def query(cursor: str | None, limit: int, sort: str) -> supervision.Listing:
        return function(
            engine, filters, today=today, cursor=cursor, limit=limit, sort=sort, **extra
        )

    return query


FiltersDep = Annotated[supervision.Filters, Depends(_filters)]
PagingDep = Annotated[Paging, Depends(_paging)]

_LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`"},
    403: {"model": ForbiddenBody, "description": "Only supervisors see the supervision lists"},
    422: {"description": "A filter or the cursor is wrong (named in `field`)"},
}


@router.get(
    "/overdue",
    summary="Cases with an authority deadline passed",
    responses=_LIST_RESPONSES,
    response_model=SupervisionPage,
    response_model_exclude_unset=True,
)
async def list_overdue(
    _: Supervisor,
    engine: EngineDep,
    settings: SettingsDep,
    filters: FiltersDep,
    paging: PagingDep,
) -> Any:
    """Open cases where a legal clock the authority must meet expired without its act.

    `since` is the first overdue day; `clock`, `due` and `days_overdue` say which deadline.
    """
    query = list_query("overdue", engine, filters, settings=settings)
    return await _answer("overdue", paging, query)


@router.get(
    "/stuck",
    summary="Cases past their stage's service level",
    responses=_LIST_RESPONSES,
    response_model=SupervisionPage,
    response_model_exclude_unset=True,
)
async def list_stuck(
    _: Supervisor,
    engine: EngineDep,
    settings: SettingsDep,
    filters: FiltersDep,
    paging: PagingDep,
) -> Any:
    """Open cases with no transition for longer than their stage's service level.

    Levels per stage: built-in defaults, overridden by `ASYLUMFLOW_SERVICE_LEVELS`, overridden
    by the case's rule pack (`service_levels`). `since` is the day the case entered its stage.
    """
    query = list_query("stuck", engine, filters, settings=settings)
    return await _answer("stuck", paging, query)


@router.get(
    "/abandoned",
    summary="Cases presumed abandoned, awaiting review",
    responses=_LIST_RESPONSES,
    response_model=SupervisionPage,
    response_model_exclude_unset=True,
)
async def list_abandoned(
    _: Supervisor,
    engine: EngineDep,
    settings: SettingsDep,
    filters: FiltersDep,
    paging: PagingDep,
) -> Any:
    """Cases presumed abandoned (no contact, absconded, lodging missed).

    Review each with the case action `review_abandonment {confirm}`: confirming discontinues
    the case (implicit withdrawal), lifting returns it to active work.
    """
    query = list_query("abandoned", engine, filters, settings=settings)
    return await _answer("abandoned", paging, query)


@router.get(
    "/entitled-blocked",
    summary="Labour-market access reached, no personal ID number",
    responses=_LIST_RESPONSES,
    response_model=SupervisionPage,
    response_model_exclude_unset=True,
)
async def list_entitled_blocked(
    _: Supervisor,
    engine: EngineDep,
    settings: SettingsDep,
    filters: FiltersDep,
    paging: PagingDep,
) -> Any:
    """Cases entitled to work but blocked by a missing personal ID number; `since` = reached."""
    query = list_query("entitled-blocked", engine, filters, settings=settings)
    return await _answer("entitled-blocked", paging, query)


# ---------------------------------------------------------------------------------------------
# Reassignment


class Reassignment(BaseModel):
    """`POST /supervision/reassign`: move cases from one caseworker to another.

    With `case_ids`, `from_user` may be left out: each listed open case is reassigned from
    whoever holds it now (a bulk reassignment of selected cases).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"from_user": "caseworker-1", "to_user": "caseworker-2"},
                {"case_ids": ["<case id>", "<case id>"], "to_user": "caseworker-2"},
            ],
        },
    )

    from_user: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Whose cases; required without `case_ids`",
    )
    to_user: str = Field(min_length=1, max_length=100)
    case_ids: list[str] | None = Field(
        default=None,
        max_length=5000,
        description="Only these cases (each must be assigned to `from_user` when it is given); "
        "default: every open case assigned to `from_user`",
    )
    on: date | None = Field(default=None, description="Legal date of the assignment; today")
    note: str | None = Field(default=None, max_length=500)

    @field_validator("note")
    @classmethod
    def _visible_text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)

    @model_validator(mode="after")
    def _whose(self) -> Reassignment:
        if self.from_user is None and not self.case_ids:
            raise ValueError("give from_user, or the case_ids to reassign")
        return self


def _assignable(engine: Engine, name: str) -> bool:
    with Session(engine) as session:
        user = session.exec(select(UserRecord).where(UserRecord.name == name)).first()
    return (
        user is not None
        and user.revoked_at is None
        and user.role in (Role.CASEWORKER.value, Role.SUPERVISOR.value)
    )


@router.post(
    "/reassign",
    summary="Reassign a caseworker's cases to another",
    responses={
        403: {"description": "Only supervisors reassign"},
        422: {"description": "`to_user` is not an active caseworker or supervisor"},
    },
)
@audit.stored_in_its_write
async def reassign(
    body: Reassignment,
    user: Supervisor,
    engine: EngineDep,
    client: TemporalDep,
) -> dict[str, Any]:
    """Send `assign_caseworker` to each case still assigned to `from_user`.

    Each case is checked against its workflow first (the read model may lag): a case assigned
    to someone else by now, or closed, is `skipped`; one whose update fails is `failed` with the
    HTTP status and detail it would have had. The others are `reassigned`. Always `200`: the
    per-case results are the answer.
    """
    return await reassign_cases(body, user, engine, client)


async def reassign_cases(
    body: Reassignment, user: UserRecord, engine: Engine, client: Client
) -> dict[str, Any]:
    """The reassignment itself (also the dashboard's bulk reassignment); see `reassign`."""
    if body.to_user == body.from_user:
        raise Unprocessable("to_user", "is the same as from_user")
    if not await run_in_threadpool(_assignable, engine, body.to_user):
        raise Unprocessable("to_user", "is not an active caseworker or supervisor")
    if body.case_ids is not None:
        case_ids = list(dict.fromkeys(body.case_ids))
    else:
        assert body.from_user is not None  # the model requires one of them
        case_ids = await run_in_threadpool(supervision.assigned_open_cases, engine, body.from_user)
    on = (body.on or calendar_today()).isoformat()
    gate = asyncio.Semaphore(_REASSIGN_CONCURRENCY)

    async def one(case_id: str) -> dict[str, Any]:
        async with gate:
            try:
                view = await read_view(client, case_id)
                holder = view.get("assignee")
                if body.from_user is not None and holder != body.from_user:
                    return {
                        "id": case_id,
                        "result": "skipped",
                        "detail": f"assigned to {holder!r}, not {body.from_user!r}",
                    }
                if holder == body.to_user:
                    return {"id": case_id, "result": "skipped", "detail": "already assigned"}
                if Stage(view["stage"]) in TERMINAL_STAGES:
                    return {"id": case_id, "result": "skipped", "detail": f"{view['stage']}"}
                action: dict[str, Any] = {"on": on, "user": body.to_user}
                if body.note:
                    action["note"] = body.note
                await send_action(
                    client,
                    engine,
                    case_id,
                    ActionRequest(action=Action.ASSIGN_CASEWORKER, body=action, actor=user.name),
                )
            except ApiError as exc:
                return {
                    "id": case_id,
                    "result": "failed",
                    "status": exc.status,
                    "detail": exc.body["detail"],
                }
            return {"id": case_id, "result": "reassigned"}

    items = await asyncio.gather(*(one(c) for c in case_ids))
    results = [i["result"] for i in items]
    counts = {k: results.count(k) for k in ("reassigned", "skipped", "failed")}
    return {"from_user": body.from_user, "to_user": body.to_user, "items": items, **counts}
