"""Who may use the API and what they did: users, the audit log, dashboard tickets and sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class UserRecord(SQLModel, table=True):
    """A user of the API; only a hash of the bearer token is stored."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    role: str = Field(max_length=32)
    org: str | None = Field(default=None, max_length=100)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None


class AuditRecord(SQLModel, table=True):
    """Who read or changed what, when (case ids only, no personal data).

    Written while the request runs and committed before it is answered (`api/audit.py`): `at`
    is when the record was begun (the user known) or stored, and `status` is the answer's,
    corrected if it was not the route's success; 499 for a request cancelled before it was
    answered.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_case", "case_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    user_name: str = Field(index=True, max_length=100)
    role: str = Field(max_length=32)
    kind: str = Field(max_length=8, description="read or change")
    method: str = Field(max_length=8)
    route: str = Field(max_length=200)
    case_id: str | None = Field(default=None, max_length=64)
    status: int
    request_id: str | None = Field(default=None, max_length=64)


class UiTicketRecord(SQLModel, table=True):
    """A one-time dashboard sign-in ticket (`db.ui_tickets`), valid in every API process.

    Keyed by a hash of the ticket. The bearer token it stands for is sealed with a key derived
    from the ticket, which is stored nowhere: the table alone yields no token.
    """

    __tablename__ = "ui_tickets"

    id_hash: str = Field(primary_key=True, max_length=64)
    sealed: str = Field(max_length=400)
    expires_at: datetime = Field(index=True)


class UiSessionRecord(SQLModel, table=True):
    """A signed-in dashboard session (`db.ui_sessions`), valid in every API process.

    Keyed by a hash of the random session id the browser's cookie holds; the bearer token is
    never involved after sign-in. Idle and absolute expiry are checked against the two instants.
    """

    __tablename__ = "ui_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime
    last_seen_at: datetime = Field(index=True)
