"""Users, their roles and bearer tokens.

A token is random and shown once; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from db import ui_sessions
from db.tables import UserRecord


class Role(StrEnum):
    """What a user may do (shared/api.md)."""

    BORDER_OFFICER = "border_officer"
    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    LEGAL_AID = "legal_aid"
    ADMIN = "admin"
    MONITOR = "monitor"
    """UNHCR or an NGO monitoring borders: statistics, and case files whose person consented."""


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


def issue_token(engine: Engine, name: str) -> str:
    """A new bearer token for an existing user (its earlier one stops working); shown once."""
    token = secrets.token_urlsafe(32)
    with Session(engine) as session:
        user = session.exec(select(UserRecord).where(UserRecord.name == name)).first()
        if user is None:
            raise UserError(f"no user {name!r}")
        user.token_hash = hash_token(token)
        user.revoked_at = None
        session.add(user)
        session.commit()
        user_id = user.id
    # Dashboard sessions signed in with the replaced token end with it.
    assert user_id is not None
    ui_sessions.end_all_of(engine, user_id)
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
        user_id = user.id
    assert user_id is not None
    ui_sessions.end_all_of(engine, user_id)  # and the user's dashboard sessions with it


def user_for_token(engine: Engine, token: str) -> UserRecord | None:
    """The active user a token belongs to, if any."""
    with Session(engine) as session:
        user = session.exec(
            select(UserRecord).where(UserRecord.token_hash == hash_token(token))
        ).first()
    if user is None or user.revoked_at is not None:
        return None
    return user
