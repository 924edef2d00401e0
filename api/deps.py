"""Dependencies as `Annotated` aliases: settings, engine, Temporal client, the current user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from temporalio.client import Client

from api.auth import TokenCache
from api.errors import Forbidden, Unauthorized
from core.settings import Settings
from db.tables import UserRecord
from db.users import Role


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
TemporalDep = Annotated[Client, Depends(_temporal)]

_bearer = HTTPBearer(auto_error=False, description="Bearer token from `asylumflow users create`")


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
    # The audit middleware reads who made the request from here.
    request.state.user = user
    return user


CurrentUser = Annotated[UserRecord, Depends(_current_user)]


def require_role(*roles: Role) -> Callable[..., UserRecord]:
    """A dependency that lets only `roles` through (403 otherwise) and returns the user."""
    allowed = {r.value for r in roles}

    def check(user: CurrentUser) -> UserRecord:
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
