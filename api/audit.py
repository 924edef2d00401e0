"""Audit trail: every request a signed-in user makes about cases is recorded after it is answered.

A middleware rather than code in each handler, so a new route cannot forget it. Only ids, the
route template and the status are stored: never query strings or bodies (no personal data).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session

from activities.readmodel import AuditRecord, UserRecord

AUDITED_PREFIXES = (
    "/cases",
    "/duplicates",
    "/supervision",
    "/legal-aid",
    "/stats",
    "/users",
    "/audit",
)


def _write(engine: Engine, record: AuditRecord) -> None:
    with Session(engine) as session:
        session.add(record)
        session.commit()


def install_audit(app: FastAPI) -> None:
    """Record who read or changed what, when, with which result."""

    @app.middleware("http")
    async def audit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id
        response = await call_next(request)
        response.headers["X-Request-Id"] = request_id
        user: UserRecord | None = getattr(request.state, "user", None)
        if user is None or not request.url.path.startswith(AUDITED_PREFIXES):
            return response
        route = request.scope.get("route")
        template = getattr(route, "path", request.url.path)
        record = AuditRecord(
            at=datetime.now(UTC),
            user_name=user.name,
            role=user.role,
            kind="read" if request.method in ("GET", "HEAD") else "change",
            method=request.method,
            route=template,
            case_id=request.path_params.get("case_id"),
            status=response.status_code,
            request_id=request_id,
        )
        await run_in_threadpool(_write, request.app.state.engine, record)
        return response
