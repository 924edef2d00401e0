"""Audit trail: every request a signed-in user makes about cases is recorded before it is answered.

A middleware rather than code in each handler, so a new route cannot forget it. Only ids, the
route template and the status are stored: never query strings or bodies (no personal data).
The record's commit is kept out of the answer's time where it can be:

- a change that writes the read model anyway (an action, a creation: routes marked
  `stored_in_its_write`) stores the record in that write's transaction (`claim`), one commit
  fewer per action;
- every other request's record is begun as soon as its user is known (`begin`, called by the
  authenticating dependencies), with the route's success status, and commits beside the
  request's own wait on Temporal or the database.

The middleware waits for the record before the answer starts, corrects the status if the
answer is another, and writes the record itself if neither happened.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import request_id
from db.engine import inserted_id
from db.tables import AuditRecord, UserRecord

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
    "/codec",  # the Temporal UI's decryption of case histories
)

READ_ROUTES = frozenset({"/codec/decode", "/cases/search"})
"""POST routes that only read (recorded as reads; what they are given is personal data, so it
goes in the body, never in a URL)."""


_AUDIT = SQLModel.metadata.tables[AuditRecord.__tablename__]
_INSERT = sa.insert(_AUDIT)
"""Built once and given each record's values as parameters: `insert().values(**record)` made a
new statement per request, and SQLAlchemy's cache key for it cost more than the insert itself
(~230 against ~90 µs per record on SQLite, bench/RESULTS.md)."""


@dataclass
class PendingAudit:
    """The audit record of the request in progress: who writes it, and as which status."""

    scope: Scope
    claimed: bool = False
    """Begun (`begin`) or claimed by the route (`claim`): no other begins or claims it (the
    middleware writes it after all if that write fails, or is `release`d)."""
    writing: asyncio.Future[int] | None = None
    """The insert `begin` started; its record's id."""
    written_id: int | None = None
    written_status: int | None = None


_pending: ContextVar[PendingAudit | None] = ContextVar("pending_audit", default=None)

Endpoint = TypeVar("Endpoint")

_STORED_IN_ITS_WRITE = "_audit_stored_in_its_write"


def stored_in_its_write(endpoint: Endpoint) -> Endpoint:
    """Mark a route whose success stores the request's record in its own write (`claim`).

    Its record is then not begun early (`begin`): begun, it would be a second commit beside
    the write the route makes anyway. A marked route that fails before its write is recorded
    by the middleware.
    """
    setattr(endpoint, _STORED_IN_ITS_WRITE, True)
    return endpoint


def begin() -> None:
    """Start writing the current request's record, now that its user is known.

    Called by the dependencies that authenticate (`api.deps`), once the user is in the
    request's state. The status written is the route's success status; should the response end
    with another, the middleware corrects it. A request that is not audited, whose record is
    already claimed, or whose route stores it in its own write, is left alone.
    """
    pending = _pending.get()
    if pending is None or getattr(
        getattr(pending.scope.get("route"), "endpoint", None), _STORED_IN_ITS_WRITE, False
    ):
        return
    taken = _take(pending)
    if taken is None:
        return
    status, values = taken
    pending.written_status = status
    # A task of its own: the route goes on (to Temporal, to its query) while the thread commits.
    pending.writing = asyncio.ensure_future(
        run_in_threadpool(_insert, _engine(pending.scope), values)
    )


@dataclass(frozen=True)
class Claim:
    """A record a route stores in its own transaction (`store`), then reports (`stored`)."""

    pending: PendingAudit
    values: dict[str, Any]
    status: int

    def store(self, session: Session) -> int:
        """Insert the record in `session`'s transaction (the caller commits); its id."""
        return inserted_id(session.execute(_INSERT, self.values))

    def stored(self, record_id: int) -> None:
        """The transaction committed: the middleware writes no second record."""
        self.pending.written_id = record_id
        self.pending.written_status = self.status

    def release(self) -> None:
        """The transaction failed: the record is the middleware's to write after all."""
        self.pending.claimed = False


def claim() -> Claim | None:
    """The current request's record as its route's success, for the route's own write.

    None outside an audited request, or once claimed or begun (a route that writes several
    cases stores the request's one record with the first; a failed write `release`s it). The
    status is the route's success status; should the response end with another, the
    middleware corrects the record.
    """
    pending = _pending.get()
    taken = _take(pending)
    if pending is None or taken is None:
        return None
    status, values = taken
    return Claim(pending, values, status)


def _take(pending: PendingAudit | None) -> tuple[int, dict[str, Any]] | None:
    """The request's record as its route's success (status, columns), now claimed by the caller.

    None outside an audited request, or once begun or claimed. Claimed at once: a route writing
    several cases concurrently (bulk reassignment) must store the one record once, not once per
    write in flight.
    """
    if pending is None or pending.claimed:
        return None
    status: int = getattr(pending.scope.get("route"), "status_code", None) or 200
    values = _values(pending.scope, status)
    if values is None:
        return None
    pending.claimed = True
    return status, values


def _values(scope: Scope, status: int) -> dict[str, Any] | None:
    """The audit record's columns for this request, or None if it is not audited."""
    user: UserRecord | None = scope.get("state", {}).get("user")
    if user is None or not str(scope["path"]).startswith(AUDITED_PREFIXES):
        return None
    method: str = scope["method"]
    route = getattr(scope.get("route"), "path", "unmatched")
    return {
        "at": datetime.now(UTC),
        "user_name": user.name,
        "role": user.role,
        "kind": "read" if method in ("GET", "HEAD") or route in READ_ROUTES else "change",
        "method": method,
        # Bounded to their columns: a path is whatever the caller typed (any length).
        "route": _bounded(route_template(scope), _ROUTE_MAX),
        "case_id": _bounded((scope.get("path_params") or {}).get("case_id"), _CASE_ID_MAX),
        "status": status,
        "request_id": scope.get("state", {}).get("request_id"),
    }


_ROUTE_MAX = 200  # AuditRecord.route
_CASE_ID_MAX = 64  # AuditRecord.case_id


def _bounded(value: str | None, size: int) -> str | None:
    """`value` cut to `size` characters (a column's length)."""
    return value if value is None else value[:size]


def _insert(engine: Engine, values: dict[str, Any]) -> int:
    with engine.begin() as conn:
        return inserted_id(conn.execute(_INSERT, values))


def _correct(engine: Engine, record_id: int, status: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(_AUDIT).where(_AUDIT.c.id == record_id).values(status=status))


def install_audit(app: FastAPI) -> None:
    """Record who read or changed what, when, with which result."""
    app.add_middleware(AuditMiddleware)


class AuditMiddleware:
    """Request ids, one log line per request, and the audit record of signed-in requests.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's `BaseHTTPMiddleware` runs the
    app in a task of its own and streams the response through a memory channel, which cost a
    measurable share of every request. The audit record, begun while the request ran (`begin`)
    or written now, is committed when the response starts, before the caller has any of it: an
    answered request is always in the audit log, with the status it was answered with.
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

        answered = False
        recorded = False

        async def send_tagged(message: Message) -> None:
            nonlocal answered, recorded
            if message["type"] == "http.response.start":
                answered = True
                MutableHeaders(scope=message).append("X-Request-Id", rid)
                await _record(scope, rid, int(message["status"]), started, pending)
                recorded = True
            await send(message)

        pending = PendingAudit(scope)
        token = request_id.set(rid)
        pending_token = _pending.set(pending)
        try:
            await self.app(scope, receive, send_tagged)
        except Exception:
            # Unhandled: Starlette's outermost middleware answers 500 without passing here.
            if not answered:
                await _record(scope, rid, 500, started, pending)
            raise
        except asyncio.CancelledError:
            # Cancelled (the server stopping) before the answer went out, perhaps while its
            # record was being waited for: a record begun or stored as a success must not say so.
            if not recorded:
                await asyncio.shield(_record(scope, rid, CANCELLED, started, pending))
            raise
        finally:
            _pending.reset(pending_token)
            request_id.reset(token)


CANCELLED = 499
"""The status recorded for a request cancelled before it was answered (nginx's "client closed
request"; no answer was sent)."""

_ACTIONS = "/cases/{case_id}/actions/"
ACTION_TEMPLATE = _ACTIONS + "{action}"


def route_template(scope: Scope) -> str:
    """The route template the audit log and the request log name a request by.

    Every action's own operation (`/cases/{case_id}/actions/decide`...) is named by the one
    template `/cases/{case_id}/actions/{action}`, as when one route served them all: the
    audit log's routes, and what is counted by them, stay what they were.
    """
    path: str = getattr(scope.get("route"), "path", "unmatched")
    return ACTION_TEMPLATE if path.startswith(_ACTIONS) else path


async def _record(
    scope: Scope, rid: str, status: int, started: float, pending: PendingAudit
) -> None:
    template = route_template(scope)
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
    if pending.writing is not None:
        try:
            # Shielded: a cancelled request must not cancel the wait's insert (it still commits in
            # its thread) and lose the record's id, which the 499 correction needs.
            pending.written_id = await asyncio.shield(pending.writing)
        except Exception:
            # The begun write failed (a locked database...): it is written now, or the request
            # fails with it, as an unrecorded answer must not leave.
            _log.warning("audit record write failed; written again", extra={"request_id": rid})
            pending.writing = None
    if pending.written_id is not None:
        if pending.written_status != status:
            await run_in_threadpool(_correct, _engine(scope), pending.written_id, status)
        return
    values = _values(scope, status)
    if values is None:
        return
    await run_in_threadpool(_insert, _engine(scope), values)


def _engine(scope: Scope) -> Engine:
    engine: Engine = scope["app"].state.engine
    return engine
