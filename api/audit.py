"""Audit trail: every request a signed-in user makes about cases is recorded after it is answered.

A middleware rather than code in each handler, so a new route cannot forget it. Only ids, the
route template and the status are stored: never query strings or bodies (no personal data).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    app.add_middleware(AuditMiddleware)


class AuditMiddleware:
    """Request ids, one log line per request, and the audit record of signed-in requests.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's `BaseHTTPMiddleware` runs the
    app in a task of its own and streams the response through a memory channel, which cost a
    measurable share of every request. The audit record is written when the response starts,
    before the caller has any of it: an answered request is always in the audit log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the request, run it, log and audit it as its response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        # A caller's id is kept only if it is a plain token (it ends up in logs).
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-Id", rid)
                await _record(scope, rid, int(message["status"]), started)
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_tagged)
        finally:
            request_id.reset(token)


async def _record(scope: Scope, rid: str, status: int, started: float) -> None:
    template = getattr(scope.get("route"), "path", "unmatched")
    user: UserRecord | None = scope.get("state", {}).get("user")
    method: str = scope["method"]
    case_id = (scope.get("path_params") or {}).get("case_id")
    _log.info(
        "request",
        extra={
            "request_id": rid,
            "method": method,
            "route": template,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "user": user.name if user else None,
            "case_id": case_id,
        },
    )
    if user is None or not str(scope["path"]).startswith(AUDITED_PREFIXES):
        return
    record = AuditRecord(
        at=datetime.now(UTC),
        user_name=user.name,
        role=user.role,
        kind="read" if method in ("GET", "HEAD") else "change",
        method=method,
        route=template,
        case_id=case_id,
        status=status,
        request_id=rid,
    )
    await run_in_threadpool(_write, scope["app"].state.engine, record)
