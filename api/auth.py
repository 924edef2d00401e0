"""Users and bearer tokens. A token is random and shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import UTC, datetime
from enum import StrEnum

from cachetools import TTLCache
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from activities.readmodel import UserRecord


class Role(StrEnum):
    """What a user may do (shared/api.md)."""

    BORDER_OFFICER = "border_officer"
    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    LEGAL_AID = "legal_aid"
    ADMIN = "admin"


class UserError(ValueError):
    """A user cannot be created or revoked as asked."""


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(engine: Engine, name: str, role: Role, org: str | None = None) -> str:
    """Create a user and return its bearer token (the only time it is ever visible)."""
    if role is Role.LEGAL_AID and not org:
        raise UserError("a legal_aid user belongs to an organisation: give --org")
    if name == "system":
        raise UserError("'system' is the engine's name in case histories")
    if role is not Role.LEGAL_AID and org:
        raise UserError("only legal_aid users belong to an organisation")
    token = secrets.token_urlsafe(32)
    with Session(engine) as session:
        if session.exec(select(UserRecord).where(UserRecord.name == name)).first():
            raise UserError(f"user {name!r} already exists")
        session.add(
            UserRecord(
                name=name,
                role=role.value,
                org=org,
                token_hash=hash_token(token),
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    return token


def revoke_user(engine: Engine, name: str) -> None:
    """Revoke a user's token: every later request with it gets 401."""
    with Session(engine) as session:
        user = session.exec(select(UserRecord).where(UserRecord.name == name)).first()
        if user is None:
            raise UserError(f"no user {name!r}")
        user.revoked_at = datetime.now(UTC)
        session.add(user)
        session.commit()


def user_for_token(engine: Engine, token: str) -> UserRecord | None:
    """The active user a token belongs to, if any."""
    with Session(engine) as session:
        user = session.exec(
            select(UserRecord).where(UserRecord.token_hash == hash_token(token))
        ).first()
    if user is None or user.revoked_at is not None:
        return None
    return user


class TokenCache:
    """Recently authenticated tokens → their users, for `ttl` seconds (0 turns it off).

    Every request authenticates; reading the token's user from SQL each time was a fixed cost
    of every request (and, on SQLite, a reader beside the writers). The price is that a token
    revoked in another process (the CLI, another API process) keeps working for up to `ttl`
    seconds there; a revocation through this process's API takes effect at once (`forget`).
    """

    def __init__(self, ttl: float, maxsize: int = 10_000) -> None:
        self._cache: TTLCache[str, UserRecord] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl) if ttl > 0 else None
        )
        # TTLCache is not thread-safe; lookups run on the event loop, revocations in threads.
        self._lock = threading.Lock()

    def load(self, engine: Engine, token: str) -> UserRecord | None:
        """The token's active user from SQL, remembered if there is one (blocking: a thread)."""
        user = user_for_token(engine, token)
        if user is not None and self._cache is not None:
            with self._lock:
                self._cache[hash_token(token)] = user
        return user

    def cached(self, token: str) -> UserRecord | None:
        """The token's user if it is cached (no SQL: callable on the event loop)."""
        if self._cache is None:
            return None
        with self._lock:
            return self._cache.get(hash_token(token))

    def forget(self, name: str) -> None:
        """Drop a user's cached tokens (after revoking them)."""
        if self._cache is None:
            return
        with self._lock:
            for key in [k for k, u in self._cache.items() if u.name == name]:
                del self._cache[key]
