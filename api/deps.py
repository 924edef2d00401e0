"""Dependencies as `Annotated` aliases: settings, engine, Temporal client, the current user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from temporalio.client import Client

from api import audit
from api.auth import TokenCache
from api.errors import Forbidden, Unauthorized
from core.settings import Settings
from db import ui_sessions
from db.legal_aid import user_for_feed_secret
from db.tables import UserRecord
from db.users import Role, user_for_token

# The dependencies that only read the app's state or check a role are `async def`: FastAPI runs
# a plain `def` dependency in a worker thread, and each such hop cost every request a thread
# hand-off (bench/RESULTS.md, issue 18 session 9: three of them on every case route).


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
TemporalDep = Annotated[Client, Depends(_temporal)]

_bearer = HTTPBearer(auto_error=False, description="Bearer token from `asylumflow users create`")
_feed_bearer = HTTPBearer(auto_error=False, description="Bearer token of a legal_aid user")


async def _current_user(
    request: Request,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UserRecord:
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    tokens: TokenCache = request.app.state.tokens
    token = credentials.credentials
    # A cached token costs no thread hop and no SQL; the first sight of one does both.
    user = tokens.cached(token) or await run_in_threadpool(tokens.load, engine, token)
    if user is None:
        raise Unauthorized("the bearer token is unknown or revoked")
    signed_in(request, user)
    return user


def signed_in(request: Request, user: UserRecord) -> None:
    """Who makes this request: for the request log, and its audit record, begun now.

    The record's commit then runs beside the rest of the request (`api.audit.begin`).
    """
    request.state.user = user
    audit.begin()


CurrentUser = Annotated[UserRecord, Depends(_current_user)]


async def _bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    return credentials.credentials


BearerToken = Annotated[str, Depends(_bearer_token)]
"""The request's bearer token itself (with `CurrentUser`, which checks it)."""

SESSION_COOKIE = "asylumflow_session"
"""The dashboard's HttpOnly cookie holding the random id of a database session (db.ui_sessions);
never the bearer token."""

_session = APIKeyCookie(name=SESSION_COOKIE, auto_error=False)


@dataclass(frozen=True)
class UiSession:
    """A live dashboard session: its id (from the cookie), its user and its forms' CSRF token."""

    id: str
    user: UserRecord
    csrf: str


async def _ui_session(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    session_id: Annotated[str | None, Depends(_session)],
) -> UiSession | None:
    if not session_id or len(session_id) > 200:
        return None
    user = await run_in_threadpool(
        lambda: ui_sessions.resume(
            engine,
            session_id,
            idle=settings.ui_session_idle,
            absolute=settings.ui_session_max_age,
        )
    )
    if user is None:
        return None
    signed_in(request, user)
    session = UiSession(session_id, user, ui_sessions.csrf_token(session_id))
    # Pages render the CSRF token into their forms from here.
    request.state.ui_session = session
    return session


UiSessionDep = Annotated[UiSession | None, Depends(_ui_session)]
"""The dashboard session in the cookie, if it is still live (else None: sign in again)."""


async def _session_user(session: UiSessionDep) -> UserRecord | None:
    return session.user if session is not None else None


SessionUser = Annotated[UserRecord | None, Depends(_session_user)]
"""The dashboard user whose live session is in the cookie, if any (else None: the page sends
the visitor to sign in)."""


async def _calendar_org(
    request: Request,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_feed_bearer)],
    feed: Annotated[str | None, Query(max_length=200)] = None,
) -> str:
    if credentials is not None and credentials.credentials:
        user = await run_in_threadpool(user_for_token, engine, credentials.credentials)
        if user is None:
            raise Unauthorized("the bearer token is unknown or revoked")
        signed_in(request, user)
        if user.role != Role.LEGAL_AID:
            raise Forbidden(f"role {user.role} may not do this", allowed_roles=["legal_aid"])
        return org_of(user)
    if feed:
        owner = await run_in_threadpool(user_for_feed_secret, engine, feed)
        if owner is None:
            raise Unauthorized("the feed secret is unknown, was replaced or its user revoked")
        org = org_of(owner)
        # Not a signed-in request, but the read is audited all the same, as the user's feed.
        signed_in(
            request,
            UserRecord(
                name=f"feed:{owner.name}"[:100],
                role=Role.LEGAL_AID.value,
                org=org,
                token_hash="",
                created_at=datetime.now(UTC),
            ),
        )
        return org
    raise Unauthorized("a bearer token or the user's feed secret (?feed=) is required")


CalendarOrg = Annotated[str, Depends(_calendar_org)]
"""The legal aid org whose calendar feed is asked for: by a legal_aid user's bearer token, or
by that user's own feed secret in `?feed=` (calendar apps cannot send a token)."""


def org_of(user: UserRecord) -> str:
    """A legal_aid user's organisation (403 for a user without one)."""
    if not user.org:
        # create_user refuses a legal_aid user without an org; a hand-made row must not see all.
        raise Forbidden("this legal_aid user belongs to no organisation")
    return user.org


def require_role(*roles: Role) -> Callable[..., Awaitable[UserRecord]]:
    """A dependency that lets only `roles` through (403 otherwise) and returns the user."""
    allowed = {r.value for r in roles}

    async def check(user: CurrentUser) -> UserRecord:
        if user.role not in allowed:
            raise Forbidden(
                f"role {user.role} may not do this",
                allowed_roles=sorted(allowed),
            )
        return user

    check.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the access matrix test
    return check


CASE_READERS = (Role.BORDER_OFFICER, Role.CASEWORKER, Role.SUPERVISOR, Role.LEGAL_AID)
CaseReader = Annotated[UserRecord, Depends(require_role(*CASE_READERS))]
CaseFileReader = Annotated[UserRecord, Depends(require_role(*CASE_READERS, Role.MONITOR))]
"""One case file by its id: the case readers, and monitors where the person consented
(`check_scope`); monitors list and search no cases, so they learn of no case by its id."""
STATS_ROLES = (Role.SUPERVISOR, Role.MONITOR)
"""Who may read the statistics, the official tables and the anonymised export."""
StatsReader = Annotated[UserRecord, Depends(require_role(*STATS_ROLES))]
Staff = Annotated[UserRecord, Depends(require_role(Role.CASEWORKER, Role.SUPERVISOR))]
Supervisor = Annotated[UserRecord, Depends(require_role(Role.SUPERVISOR))]
Admin = Annotated[UserRecord, Depends(require_role(Role.ADMIN))]
BorderOrStaff = Annotated[
    UserRecord, Depends(require_role(Role.BORDER_OFFICER, Role.CASEWORKER, Role.SUPERVISOR))
]

MAX_ROW_ID = 2**31 - 1
"""Largest id a database integer column holds on every backend (PostgreSQL's INTEGER)."""

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id")]
"""An id in a path: out-of-range numbers are a 422, never a database error."""
