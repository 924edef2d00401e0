"""The interpreter pool (issue #19): who interprets which languages, and who is available.

Admins and supervisors list and add interpreters and change their availability; caseworkers
see the pool's effect on their cases only (an interview gets an available interpreter of the
pool for its language, or waits for one: `api/protection.py`). Names of interpreters are
staff data, not applicants' personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.deps import EngineDep, require_role
from api.errors import NotFound, Unprocessable
from db.tables import InterpreterRecord, UserRecord
from db.users import Role

router = APIRouter(prefix="/interpreters", tags=["interpreters"])

PoolKeeper = Annotated[UserRecord, Depends(require_role(Role.ADMIN, Role.SUPERVISOR))]

_LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class InterpreterCreate(BaseModel):
    """`POST /interpreters`: an interpreter joins the pool."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    languages: list[Annotated[str, Field(pattern=_LANGUAGE, max_length=35)]] = Field(
        min_length=1, description="BCP 47 tags of the languages interpreted (`ar`, `fa`, `ps`)"
    )
    available: bool = True


class Availability(BaseModel):
    """`POST /interpreters/{id}/availability`."""

    available: bool


def _public(row: InterpreterRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "languages": row.languages,
        "available": row.available,
    }


@router.get("", summary="The interpreter pool, by language and availability")
async def list_interpreters(
    _: PoolKeeper, engine: EngineDep, language: str | None = None, available: bool | None = None
) -> dict[str, Any]:
    """Every interpreter of the pool (`?language=` and `?available=` filter it)."""

    def query() -> list[dict[str, Any]]:
        with Session(engine) as session:
            rows = session.exec(select(InterpreterRecord).order_by(col(InterpreterRecord.id)))
            return [
                _public(r)
                for r in rows
                if (language is None or language in r.languages)
                and (available is None or r.available is available)
            ]

    return {"items": await run_in_threadpool(query)}


@router.post("", status_code=201, summary="Add an interpreter to the pool")
async def add_interpreter(
    body: InterpreterCreate, user: PoolKeeper, engine: EngineDep
) -> dict[str, Any]:
    """Add an interpreter; an id already in the pool is `422` on `id`."""

    def store() -> dict[str, Any]:
        row = InterpreterRecord(
            **body.model_dump(), created_by=user.name, created_at=datetime.now(UTC)
        )
        with Session(engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                taken = f"interpreter {body.id!r} is already in the pool"
                raise Unprocessable("id", taken) from None
            session.refresh(row)
            return _public(row)

    return await run_in_threadpool(store)


@router.post("/{interpreter_id}/availability", summary="An interpreter available or not")
async def set_availability(
    interpreter_id: str, body: Availability, _: PoolKeeper, engine: EngineDep
) -> dict[str, Any]:
    """Mark an interpreter available or unavailable (interviews already assigned keep them)."""

    def store() -> dict[str, Any]:
        with Session(engine) as session:
            row = session.get(InterpreterRecord, interpreter_id)
            if row is None:
                raise NotFound(f"no interpreter {interpreter_id!r}")
            row.available = body.available
            session.add(row)
            session.commit()
            session.refresh(row)
            return _public(row)

    return await run_in_threadpool(store)
