"""Audit trail: every request a signed-in user makes about cases is recorded after it is answered.

A middleware rather than code in each handler, so a new route cannot forget it. Only ids, the
route template and the status are stored: never query strings or bodies (no personal data).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session

from activities.readmodel import AuditRecord, UserRecord
from api.logs import request_id

_log = logging.getLogger("asylumflow.api")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

AUDITED_PREFIXES = (
    "/cases",
    "/duplicates",
    "/supervision",
    "/legal-aid",
    "/stats",
    "/users",
    "/audit",
    "/ui",  # the dashboard reads the same cases and lists
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
        incoming = request.headers.get("x-request-id", "")
        # A caller's id is kept only if it is a plain token (it ends up in logs).
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.state.request_id = rid
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id.reset(token)
        response.headers["X-Request-Id"] = rid
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        user: UserRecord | None = getattr(request.state, "user", None)
        _log.info(
            "request",
            extra={
                "request_id": rid,
                "method": request.method,
                "route": template,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user": user.name if user else None,
                "case_id": request.path_params.get("case_id"),
            },
        )
        if user is None or not request.url.path.startswith(AUDITED_PREFIXES):
            return response
        record = AuditRecord(
            at=datetime.now(UTC),
            user_name=user.name,
            role=user.role,
            kind="read" if request.method in ("GET", "HEAD") else "change",
            method=request.method,
            route=template,
            case_id=request.path_params.get("case_id"),
            status=response.status_code,
            request_id=rid,
        )
        await run_in_threadpool(_write, request.app.state.engine, record)
        return response
