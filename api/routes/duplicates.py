"""Duplicate review: likely matches from registration, confirmed or dismissed by supervisors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session, col, select

from api.deps import EngineDep, RowId, Staff, Supervisor
from api.errors import Conflict, NotFound
from db.tables import DuplicateRecord, UserRecord

router = APIRouter(prefix="/duplicates", tags=["duplicates"])


def _public(record: DuplicateRecord) -> dict[str, Any]:
    return record.model_dump(mode="json")


@router.get("", summary="Likely duplicates awaiting review")
async def list_duplicates(
    user: Staff, engine: EngineDep, status: str = "pending"
) -> dict[str, Any]:
    """Pairs of cases that are probably the same person (case ids, score and reasons only)."""

    def query() -> list[dict[str, Any]]:
        with Session(engine) as session:
            rows = session.exec(
                select(DuplicateRecord)
                .where(DuplicateRecord.status == status)
                .order_by(col(DuplicateRecord.score).desc(), col(DuplicateRecord.id))
            ).all()
            return [_public(r) for r in rows]

    return {"items": await run_in_threadpool(query)}


def _decide(engine: Any, duplicate_id: int, user: UserRecord, status: str) -> dict[str, Any]:
    with Session(engine) as session:
        record = session.get(DuplicateRecord, duplicate_id)
        if record is None:
            raise NotFound("no such duplicate review")
        if record.status != "pending":
            raise Conflict(f"already {record.status}", status=record.status)
        record.status, record.decided_by, record.decided_at = status, user.name, datetime.now(UTC)
        session.add(record)
        session.commit()
        session.refresh(record)
        return _public(record)


@router.post("/{duplicate_id}/confirm", summary="Confirm: link the two cases (never merge)")
async def confirm(duplicate_id: RowId, user: Supervisor, engine: EngineDep) -> dict[str, Any]:
    """The two cases are the same person: they are linked and shown on each other's page."""
    return await run_in_threadpool(_decide, engine, duplicate_id, user, "confirmed")


@router.post("/{duplicate_id}/dismiss", summary="Dismiss: not the same person")
async def dismiss(duplicate_id: RowId, user: Supervisor, engine: EngineDep) -> dict[str, Any]:
    """Not the same person; the pair is not proposed again."""
    return await run_in_threadpool(_decide, engine, duplicate_id, user, "dismissed")
