"""Legal aid: calendar feed secrets, reminder webhooks and their deliveries."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class FeedSecretRecord(SQLModel, table=True):
    """A legal aid user's calendar feed secret (hashed); a new one replaces the old.

    Per user, not per org: it dies with the user's revocation, and a rotation leaves the
    colleagues' feeds alone. The feed shows the user's organisation's deadlines.
    """

    __tablename__ = "user_feed_secrets"

    user_name: str = Field(primary_key=True, max_length=100)
    secret_hash: str = Field(unique=True, max_length=64)
    created_at: datetime


class WebhookRecord(SQLModel, table=True):
    """Where an organisation wants deadline reminders POSTed, and the key that signs them."""

    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True)
    org: str = Field(index=True, max_length=100)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=128, description="HMAC key; shown once at registration")
    created_at: datetime
    active: bool = True


class DeliveryRecord(SQLModel, table=True):
    """One attempt to deliver one reminder to one webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_deliveries_webhook", "webhook_id", "attempted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int
    kind: str = Field(
        default="reminder",
        max_length=32,
        sa_column_kwargs={"server_default": "reminder"},
        description="`reminder` or `reminder_retracted`",
    )
    case_id: str = Field(max_length=64)
    clock: str = Field(max_length=32)
    due: date
    days_left: int
    reminder_key: str = Field(index=True, max_length=200)
    attempt: int
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    ok: bool = False
    attempted_at: datetime
