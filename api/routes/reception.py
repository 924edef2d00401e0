"""Reception centres and the detained list (issue #19), answered from the read model.

`GET /reception/centres`: each centre with its capacity, occupancy, `over_capacity` and the
cases beyond its capacity (caseworkers and supervisors, who place people); admins and
supervisors create and update centres. `GET /supervision/detained`: everyone detained or in an
alternative to detention, with the next review date and the vulnerable flag (supervisors).
A detention's ground is never listed: it is special-category data kept sealed in SQL.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import EngineDep, Staff, Supervisor, require_role
from api.errors import NotFound, Unprocessable
from db import reception
from db.tables import UserRecord
from db.users import Role
from models.rules import families

router = APIRouter(tags=["reception and detention"])

CentreKeeper = Annotated[UserRecord, Depends(require_role(Role.ADMIN, Role.SUPERVISOR))]
"""Who keeps the centres (reference data): admins and supervisors."""

_CENTRE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class CentreCreate(BaseModel):
    """`POST /reception/centres`: a new centre."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=_CENTRE_ID)
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: str = Field(min_length=1, max_length=16)
    capacity: int = Field(ge=0, le=1_000_000)


class CentreUpdate(BaseModel):
    """`PUT /reception/centres/{id}`: the fields to change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    jurisdiction: str | None = Field(default=None, min_length=1, max_length=16)
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)


class OccupantOut(BaseModel):
    """A case holding a place."""

    case_id: str
    reference: str | None
    since: date | None
    over_capacity: bool


class CentreOut(BaseModel):
    """A centre with its occupancy now."""

    id: str
    name: str
    jurisdiction: str
    capacity: int
    occupancy: int
    free: int
    over_capacity: bool
    over_capacity_cases: list[OccupantOut]


class CentresOut(BaseModel):
    """`GET /reception/centres`."""

    items: list[CentreOut]


class DetainedOut(BaseModel):
    """One person detained or in an alternative to detention."""

    id: str
    reference: str | None
    jurisdiction: str
    stage: str
    detention: str = Field(description="`detained` or `alternative`")
    since: date | None
    next_review_due: date | None = Field(
        description="The detention_review clock's due day while a review is to come"
    )
    review_status: str | None
    vulnerable: bool


class DetainedList(BaseModel):
    """`GET /supervision/detained`."""

    items: list[DetainedOut]
    total: int


def centre_out(view: reception.CentreView) -> dict[str, Any]:
    """A centre as the API shows it."""
    return {
        "id": view.id,
        "name": view.name,
        "jurisdiction": view.jurisdiction,
        "capacity": view.capacity,
        "occupancy": view.occupancy,
        "free": max(view.capacity - view.occupancy, 0),
        "over_capacity": view.over_capacity,
        "over_capacity_cases": [o.__dict__ for o in view.occupants if o.over_capacity],
    }


def _check_jurisdiction(jurisdiction: str | None) -> None:
    if jurisdiction is not None and jurisdiction not in families():
        raise Unprocessable("jurisdiction", f"unknown jurisdiction; known: {', '.join(families())}")


@router.get("/reception/centres", response_model=CentresOut)
async def list_centres(
    _: Staff, engine: EngineDep, jurisdiction: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    """Every centre with capacity, occupancy, `over_capacity` and the cases beyond capacity."""
    _check_jurisdiction(jurisdiction)
    views = await run_in_threadpool(reception.centres, engine, jurisdiction)
    return {"items": [centre_out(v) for v in views]}


@router.post("/reception/centres", status_code=201, response_model=CentreOut)
async def create_centre(body: CentreCreate, user: CentreKeeper, engine: EngineDep) -> Any:
    """Add a centre (`422` on `id` if it exists)."""
    _check_jurisdiction(body.jurisdiction)
    try:
        await run_in_threadpool(
            lambda: reception.save_centre(
                engine,
                centre_id=body.id,
                name=body.name,
                jurisdiction=body.jurisdiction,
                capacity=body.capacity,
                by=user.name,
                create=True,
            )
        )
    except reception.CentreError as exc:
        raise Unprocessable("id", str(exc)) from None
    return await _one(engine, body.id)


@router.put("/reception/centres/{centre_id}", response_model=CentreOut)
async def update_centre(
    centre_id: str, body: CentreUpdate, user: CentreKeeper, engine: EngineDep
) -> Any:
    """Change a centre's name, jurisdiction or capacity (`404` for an unknown centre)."""
    _check_jurisdiction(body.jurisdiction)
    try:
        await run_in_threadpool(
            lambda: reception.save_centre(
                engine,
                centre_id=centre_id,
                name=body.name,
                jurisdiction=body.jurisdiction,
                capacity=body.capacity,
                by=user.name,
                create=False,
            )
        )
    except reception.CentreError as exc:
        raise NotFound(str(exc)) from None
    return await _one(engine, centre_id)


async def _one(engine: Any, centre_id: str) -> dict[str, Any]:
    views = await run_in_threadpool(reception.centres, engine)
    return centre_out(next(v for v in views if v.id == centre_id))


@router.get("/supervision/detained", response_model=DetainedList)
async def detained_list(
    _: Supervisor, engine: EngineDep, jurisdiction: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    """Everyone detained or in an alternative, longest first, with the next review date."""
    _check_jurisdiction(jurisdiction)
    rows = await run_in_threadpool(reception.detained, engine, jurisdiction)
    items = [
        {
            "id": r.case_id,
            "reference": r.reference,
            "jurisdiction": r.jurisdiction,
            "stage": r.stage,
            "detention": r.detention,
            "since": r.since,
            "next_review_due": r.next_review_due,
            "review_status": r.review_status,
            "vulnerable": r.vulnerable,
        }
        for r in rows
    ]
    return {"items": items, "total": len(items)}
