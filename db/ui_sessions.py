"""Dashboard sessions, shared by every API process through the database.

Signing in (with the bearer token or a one-time ticket, api/routes/ui.py) starts a session: a
random id that only the browser's HttpOnly cookie holds. The row is keyed by a hash of that id,
so a copy of the table resumes no session. A session ends when it has been idle too long, when it
reaches its absolute age, when its user signs out, or when the user's token is revoked or
replaced. Each form of the dashboard carries the session's CSRF token, derived from the id (a
different hash, so the token reveals nothing of the id, and nothing extra need be stored).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from db.tables import UiSessionRecord, UserRecord

_SESSIONS = SQLModel.metadata.tables[UiSessionRecord.__tablename__]

TOUCH_EVERY = timedelta(seconds=30)
"""A session's last use is written at most this often: a page's requests cost one write, not one
each (idle expiry is in minutes, so the error is negligible)."""


def _derived(session_id: str, purpose: bytes) -> str:
    # Independent values from one secret: the row's key and the forms' CSRF token.
    return hashlib.sha256(
        b"asylumflow-ui-session/" + purpose + b"/" + session_id.encode()
    ).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def csrf_token(session_id: str) -> str:
    """The CSRF token the session's forms carry in a hidden field."""
    return _derived(session_id, b"csrf")


def csrf_matches(session_id: str, posted: str) -> bool:
    """Whether a posted CSRF token is this session's (compared in constant time)."""
    return hmac.compare_digest(csrf_token(session_id), posted)


def start(engine: Engine, user_id: int, *, idle: timedelta, absolute: timedelta) -> str:
    """A new session for the user; its id (for the cookie, and nowhere else)."""
    session_id = secrets.token_urlsafe(32)
    now = _now()
    with engine.begin() as conn:
        # Sessions past either expiry are dropped as new ones start: the table stays small.
        conn.execute(
            sa.delete(_SESSIONS).where(
                sa.or_(
                    _SESSIONS.c.last_seen_at <= now - idle,
                    _SESSIONS.c.created_at <= now - absolute,
                )
            )
        )
        conn.execute(
            sa.insert(_SESSIONS).values(
                id_hash=_derived(session_id, b"id"),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
            )
        )
    return session_id


def resume(
    engine: Engine, session_id: str, *, idle: timedelta, absolute: timedelta
) -> UserRecord | None:
    """The active user of a live session, which counts as used now; None if it has ended."""
    now = _now()
    id_hash = _derived(session_id, b"id")
    with Session(engine, expire_on_commit=False) as session:
        user = session.exec(
            select(UserRecord)
            .join(UiSessionRecord, col(UiSessionRecord.user_id) == col(UserRecord.id))
            .where(
                UiSessionRecord.id_hash == id_hash,
                col(UiSessionRecord.last_seen_at) > now - idle,
                col(UiSessionRecord.created_at) > now - absolute,
                col(UserRecord.revoked_at).is_(None),
            )
        ).first()
        if user is None:
            return None
        session.execute(
            sa.update(_SESSIONS)
            .where(_SESSIONS.c.id_hash == id_hash, _SESSIONS.c.last_seen_at < now - TOUCH_EVERY)
            .values(last_seen_at=now)
        )
        session.commit()
    return user


def end(engine: Engine, session_id: str) -> None:
    """End a session (signing out): its cookie resumes nothing in any process."""
    with engine.begin() as conn:
        conn.execute(sa.delete(_SESSIONS).where(_SESSIONS.c.id_hash == _derived(session_id, b"id")))


def end_all_of(engine: Engine, user_id: int) -> None:
    """End every session of a user (its token was revoked or replaced)."""
    with engine.begin() as conn:
        conn.execute(sa.delete(_SESSIONS).where(_SESSIONS.c.user_id == user_id))
