"""The reminder delivery activity: POST one signed reminder to a legal aid org's webhooks.

Every attempt, successful or not, is recorded in `webhook_deliveries`, so a provider can see what
was sent and what failed. A failure raises, and Temporal retries with the workflow's policy; a
webhook that already accepted this reminder is not sent it again on the retry.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.webhook_guard import RefusedTarget, pinned_client, refused_url
from db.tables import DeliveryRecord, WebhookRecord
from models.reminders import ReminderRequest, RetractionRequest

SIGNATURE_HEADER = "X-Asylumflow-Signature"
"""Carries `sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the webhook secret>`."""

REMINDER_HEADER = "X-Asylumflow-Reminder"
"""The reminder's key, so a receiver can recognise a reminder it already has (on a
`reminder_retracted`: the key of the reminder it withdraws)."""

_ERROR_MAX = 500  # the column's size


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def refused_target(url: str, *, private_hosts: bool = False) -> str | None:
    """Why reminders may not be POSTed to `url`, or None if they may (`webhook_guard`).

    Checked when the webhook is registered; each delivery checks again, on the address it then
    connects to (`webhook_guard.PinnedTransport`), since DNS may change in between.
    `private_hosts` allows non-public addresses (`ASYLUMFLOW_WEBHOOK_PRIVATE_HOSTS`).
    """
    if private_hosts:
        return None
    return refused_url(url, private_hosts=private_hosts)


def _pinned_client(private_hosts: bool) -> httpx.Client:
    # Redirects are not followed: a reminder goes where the org registered it, nowhere else.
    return pinned_client(private_hosts=private_hosts, timeout=httpx.Timeout(10.0))


class ReminderActivities:
    """Delivers reminders to webhooks; the engine and HTTP client are injected for tests."""

    def __init__(
        self,
        engine: Engine,
        client_factory: Callable[[], httpx.Client] | None = None,
        *,
        private_hosts: bool = False,
    ) -> None:
        self.engine = engine
        self.client_factory = client_factory or partial(_pinned_client, private_hosts)
        self.private_hosts = private_hosts  # see `refused_target`

    def _targets(self, request: ReminderRequest | RetractionRequest) -> list[WebhookRecord]:
        """The org's active webhooks that have not accepted this reminder (or retraction) yet."""
        with Session(self.engine) as session:
            hooks = session.exec(
                select(WebhookRecord)
                .where(WebhookRecord.org == request.org, col(WebhookRecord.active).is_(True))
                .order_by(col(WebhookRecord.id))
            ).all()
            delivered = set(
                session.exec(
                    select(DeliveryRecord.webhook_id).where(
                        DeliveryRecord.reminder_key == request.key,
                        col(DeliveryRecord.ok).is_(True),
                    )
                ).all()
            )
        return [h for h in hooks if h.id not in delivered]

    def _record(self, record: DeliveryRecord) -> None:
        with Session(self.engine) as session:
            session.add(record)
            session.commit()

    @staticmethod
    def _post(
        http: httpx.Client, hook: WebhookRecord, body: bytes, key: str
    ) -> tuple[int | None, str | None]:
        """POST one signed reminder: the status (if any answer came) and the error (if any)."""
        try:
            response = http.post(
                hook.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(hook.secret, body),
                    REMINDER_HEADER: key,
                },
            )
        except RefusedTarget as exc:
            return None, f"not sent: {exc}"[:_ERROR_MAX]
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:_ERROR_MAX]
        if not response.is_success:
            return response.status_code, f"HTTP {response.status_code}"
        return response.status_code, None

    @activity.defn(name="send_reminder")
    def send_reminder(self, request: ReminderRequest) -> int:
        """POST the reminder to each of the org's active webhooks; return how many accepted it.

        Raises:
            ApplicationError: when a webhook answered other than 2xx or could not be reached
                (retryable: the workflow's retry policy sends it again).
        """
        return self._send(request, "reminder", request.key)

    @activity.defn(name="send_reminder_retraction")
    def send_reminder_retraction(self, request: RetractionRequest) -> int:
        """POST a `reminder_retracted` to each of the org's active webhooks, signed as reminders.

        The `X-Asylumflow-Reminder` header names the reminder withdrawn; the delivery log
        records it under the retraction's own key, with kind `reminder_retracted`.

        Raises:
            ApplicationError: as `send_reminder`.
        """
        return self._send(request, "reminder_retracted", request.reminder_key)

    def _send(
        self, request: ReminderRequest | RetractionRequest, kind: str, header_key: str
    ) -> int:
        """POST `request`'s body to the org's webhooks that have not accepted it; log each try."""
        body = request.body()
        attempt = activity.info().attempt
        failures: list[str] = []
        accepted = 0
        targets = self._targets(request)
        if not targets:
            return 0
        with self.client_factory() as http:
            for hook in targets:
                assert hook.id is not None  # rows read from the table have their id
                # The client's transport resolves the host once, checks the address and
                # connects to it (`webhook_guard`): refused, nothing is sent.
                status, error = self._post(http, hook, body, header_key)
                self._record(
                    DeliveryRecord(
                        webhook_id=hook.id,
                        kind=kind,
                        case_id=request.case_id,
                        clock=request.clock.value,
                        due=request.due,
                        days_left=request.days_left,
                        reminder_key=request.key,
                        attempt=attempt,
                        status_code=status,
                        error=error,
                        ok=error is None,
                        attempted_at=datetime.now(UTC),
                    )
                )
                if error is None:
                    accepted += 1
                else:
                    failures.append(f"webhook {hook.id}: {error}")
        if failures:
            raise ApplicationError(
                f"{kind} {request.key} not accepted: {'; '.join(failures)}",
                type="WebhookDeliveryFailed",
            )
        return accepted
