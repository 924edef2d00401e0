"""One-time sign-in tickets for the dashboard, shared by every API process through the database.

`POST /ui/tickets` turns the caller's bearer token into a ticket that a browser redeems once,
within a minute, at `/ui/signin?ticket=...` (api/routes/ui.py). Several API processes run behind
one load balancer, so the ticket cannot live in one process's memory: it is a row of
`ui_tickets`. The row is keyed by a hash of the ticket, and the token is sealed (AES-GCM) with a
key derived from the ticket, which only its holder has: a copy of the table yields no token.
Redeeming deletes the row in the statement that reads it, so of two redeemers exactly one wins.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from db.tables import UiTicketRecord

TICKET_TTL = timedelta(seconds=60)
"""How long a ticket stays valid if nobody redeems it."""

_TICKETS = SQLModel.metadata.tables[UiTicketRecord.__tablename__]


def _derived(ticket: str, purpose: bytes) -> bytes:
    # Two independent values from one secret: the row's key and the sealing key.
    return hashlib.sha256(b"asylumflow-ui-ticket/" + purpose + b"/" + ticket.encode()).digest()


def _now() -> datetime:
    return datetime.now(UTC)


def issue(engine: Engine, token: str, *, ttl: timedelta = TICKET_TTL) -> str:
    """A new ticket standing for `token` until it is redeemed or `ttl` has passed."""
    ticket = secrets.token_urlsafe(32)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(_derived(ticket, b"key")).encrypt(nonce, token.encode(), None)
    now = _now()
    with engine.begin() as conn:
        # Expired tickets are dropped as new ones are made: the table stays small.
        conn.execute(sa.delete(_TICKETS).where(_TICKETS.c.expires_at <= now))
        conn.execute(
            sa.insert(_TICKETS).values(
                id_hash=_derived(ticket, b"id").hex(),
                sealed=base64.b64encode(sealed).decode(),
                expires_at=now + ttl,
            )
        )
    return ticket


def redeem(engine: Engine, ticket: str) -> str | None:
    """The token behind a live ticket, which is then gone; None if unknown, used or expired."""
    with engine.begin() as conn:
        sealed = conn.execute(
            sa.delete(_TICKETS)
            .where(
                _TICKETS.c.id_hash == _derived(ticket, b"id").hex(),
                _TICKETS.c.expires_at > _now(),
            )
            .returning(_TICKETS.c.sealed)
        ).scalar_one_or_none()
    if sealed is None:
        return None
    raw = base64.b64decode(sealed)
    try:
        token = AESGCM(_derived(ticket, b"key")).decrypt(raw[:12], raw[12:], None)
    except InvalidTag:  # a row tampered with: no session from it
        return None
    return token.decode()
