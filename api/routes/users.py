"""Administration: users and tokens, the audit log, rule packs."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.deps import MAX_ROW_ID, Admin, CurrentUser, EngineDep
from api.errors import NotFound, Unprocessable
from core import csv_safety
from db.tables import AuditRecord, UserRecord
from db.users import Role, UserError, create_user, revoke_user
from models.rules import all_packs

router = APIRouter(tags=["admin"])


class UserCreate(BaseModel):
    """`POST /users`."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Role
    org: str | None = Field(default=None, max_length=100)


@router.post("/users", status_code=201, summary="Create a user; the token is shown once")
async def add_user(body: UserCreate, _: Admin, engine: EngineDep) -> dict[str, Any]:
    """Create a user and return its bearer token (stored only as a hash)."""
    try:
        token = await run_in_threadpool(create_user, engine, body.name, body.role, body.org)
    except UserError as exc:
        raise Unprocessable("name" if "exists" in str(exc) else "org", str(exc)) from None
    return {"name": body.name, "role": body.role.value, "org": body.org, "token": token}


@router.get("/users", summary="List users")
async def list_users(_: Admin, engine: EngineDep) -> dict[str, Any]:
    """Every user with role, org and whether revoked (never a token)."""

    def query() -> list[dict[str, Any]]:
        with Session(engine) as session:
            rows = session.exec(select(UserRecord).order_by(col(UserRecord.name))).all()
            return [r.model_dump(mode="json", exclude={"token_hash"}) for r in rows]

    return {"items": await run_in_threadpool(query)}


@router.post("/users/{name}/revoke", summary="Revoke a user's token")
async def revoke(name: str, _: Admin, engine: EngineDep, request: Request) -> dict[str, str]:
    """Every later request with the token gets 401."""
    try:
        await run_in_threadpool(revoke_user, engine, name)
    except UserError as exc:
        raise NotFound(str(exc)) from None
    request.app.state.tokens.forget(name)
    return {"name": name, "status": "revoked"}


@router.get("/audit", summary="The audit log of reads and changes")
async def audit_log(
    _: Admin,
    engine: EngineDep,
    case_id: str | None = None,
    user: str | None = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 200,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Who read or changed which case, when; `after_id` pages forward; `format=csv` exports."""

    def query() -> list[dict[str, Any]]:
        q = select(AuditRecord).where(col(AuditRecord.id) > after_id)
        if case_id:
            q = q.where(AuditRecord.case_id == case_id)
        if user:
            q = q.where(AuditRecord.user_name == user)
        with Session(engine) as session:
            rows = session.exec(q.order_by(col(AuditRecord.id)).limit(limit)).all()
            return [r.model_dump(mode="json") for r in rows]

    items = await run_in_threadpool(query)
    if format == "csv":
        out = io.StringIO()
        writer = csv_safety.dict_writer(out, list(AuditRecord.model_fields))
        writer.writeheader()
        writer.writerows(items)
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}


@router.get("/rules", summary="Rule packs")
async def rules(_: CurrentUser) -> dict[str, Any]:
    """Every pack with family, version, validity and its clocks."""
    return {
        "items": [
            {
                "family": p.family,
                "pack": p.id,
                "version": p.version,
                "valid_from": p.valid_from.isoformat(),
                "calendar": p.calendar,
                "title": p.title,
                "clocks": [c.model_dump(mode="json") for c in p.clocks],
                "open_questions": p.open_questions,
            }
            for p in all_packs()
        ]
    }
