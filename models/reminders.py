"""Deadline reminders for a case's legal aid provider: which are due now, and when the next is.

Pure and deterministic (the case workflow calls it inside its main loop): the inputs are the case
state, the reminder offsets and the current instant; nothing here reads a clock or does I/O.

A reminder is one (case, clock, due date, offset) and its key says exactly that. When a deadline
moves (an extension, a pause, a corrected event) its due date changes and so do the keys, so the
new date is reminded of afresh; a deadline that is met, cancelled, paused or already past is not
running and gets no reminder at all. The keys of reminders already sent, or passed over for a
more urgent one, are remembered in `CaseState.reminders_sent`, so none is ever sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from models.case_state import CaseState
from models.deadlines import Deadline, fires_at
from models.enums import ClockKind, ClockName, ClockStatus
from models.legal_record import record_as_of
from models.rules import Period
from models.settling import local_date
from models.stages import TERMINAL_STAGES

DEFAULT_OFFSETS_DAYS: tuple[int, ...] = (7, 2)
"""Days before a deadline's due date on which its legal aid provider is reminded."""


class Reminder(BaseModel):
    """One planned reminder of one running deadline."""

    model_config = ConfigDict(frozen=True)

    key: str
    case_id: str
    org: str
    clock: ClockName
    due: date
    offset_days: int
    at: datetime
    """When it falls due: the start of the day `offset_days` before `due`, in the case's zone."""


class ReminderRequest(BaseModel):
    """What the `send_reminder` activity delivers: one reminder, with no personal data."""

    model_config = ConfigDict(frozen=True)

    key: str
    case_id: str
    org: str
    clock: ClockName
    due: date
    days_left: int

    def payload(self) -> dict[str, Any]:
        """The JSON body POSTed to the organisation's webhooks (shared/api.md)."""
        return {
            "kind": "reminder",
            "case_id": self.case_id,
            "clock": self.clock.value,
            "due": self.due.isoformat(),
            "days_left": self.days_left,
        }

    def body(self) -> bytes:
        """The exact bytes sent and signed.

        Compact JSON with sorted keys, so every retry of a reminder sends (and signs) the same
        bytes.
        """
        return json.dumps(self.payload(), separators=(",", ":"), sort_keys=True).encode()


class SentReminder(BaseModel):
    """A reminder whose delivery was started: what it said, to which org, and when.

    Kept by the case workflow (and carried across continue-as-new) so that a later
    re-derivation can tell whether it still stands (`stale_reminders`).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    org: str
    clock: ClockName
    due: date
    days_left: int
    at: datetime
    """When it was sent (the workflow's instant)."""
    retracted: bool = False
    """A `reminder_retracted` was sent for it (never twice)."""


def sent(request: ReminderRequest, at: datetime) -> SentReminder:
    """The record of `request` sent at `at`."""
    return SentReminder(
        key=request.key,
        org=request.org,
        clock=request.clock,
        due=request.due,
        days_left=request.days_left,
        at=at,
    )


class RetractionRequest(BaseModel):
    """What the `send_reminder_retraction` activity delivers: a reminder that no longer stands.

    POSTed to the same org's webhooks as reminders, signed alike; `key` identifies the
    retraction (its deliveries are logged under it), `reminder_key` the reminder it withdraws.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    reminder_key: str
    case_id: str
    org: str
    clock: ClockName
    due: date
    days_left: int
    """The days left the reminder said (its delivery log shows them again)."""
    reason: str

    def payload(self) -> dict[str, Any]:
        """The JSON body POSTed to the organisation's webhooks (shared/api.md)."""
        return {
            "kind": "reminder_retracted",
            "case_id": self.case_id,
            "clock": self.clock.value,
            "due": self.due.isoformat(),
            "reason": self.reason,
        }

    def body(self) -> bytes:
        """The exact bytes sent and signed (compact JSON, sorted keys, as reminders)."""
        return json.dumps(self.payload(), separators=(",", ":"), sort_keys=True).encode()


def retraction_for(case_id: str, reminder: SentReminder, reason: str) -> RetractionRequest:
    """The activity input that withdraws `reminder` for `reason`."""
    return RetractionRequest(
        key=f"{reminder.key}:retracted",
        reminder_key=reminder.key,
        case_id=case_id,
        org=reminder.org,
        clock=reminder.clock,
        due=reminder.due,
        days_left=reminder.days_left,
        reason=reason,
    )


def why_not_standing(state: CaseState, reminder: SentReminder) -> str | None:
    """Why `reminder` is not borne out by the record as it now stands, or None if it is.

    The question is what the record, as now known, said when the reminder was sent
    (`models.legal_record.record_as_of`): a reminder is withdrawn when, then, its clock had
    already been met (`met`: the act was done before the reminder), the clock was not running
    to that due date (`due_changed`), it did not run at all (`clock_gone`: its trigger was
    retracted or corrected away, or the derived item it follows from was retracted), or it
    was in another state (its status: `cancelled`, `paused`, `expired`, `missed`, `reached`).
    An act dated after the reminder changes nothing: the reminder was true when sent.
    """
    then = record_as_of(state, reminder.at)
    found = [
        d
        for d in then.deadlines(local_date(then, reminder.at), reminder.at)
        if d.clock is reminder.clock
    ]
    if not found:
        return "clock_gone"
    deadline = found[0]
    if deadline.status in (ClockStatus.MET, ClockStatus.LATE):
        return "met"
    if deadline.due != reminder.due:
        return "due_changed"
    if deadline.status is ClockStatus.RUNNING:
        return None
    return deadline.status.value


def stale_reminders(
    state: CaseState, reminders: Sequence[SentReminder], since: date
) -> list[tuple[SentReminder, str]]:
    """The sent reminders a change of the record from legal day `since` on no longer bears out.

    Reminders sent before `since` are left alone (the record before it did not change), and
    so are those already retracted. Each comes with the reason (`why_not_standing`).
    """
    found: list[tuple[SentReminder, str]] = []
    for reminder in reminders:
        if reminder.retracted or local_date(state, reminder.at) < since:
            continue
        reason = why_not_standing(state, reminder)
        if reason is not None:
            found.append((reminder, reason))
    return found


class DueReminders(BaseModel):
    """The outcome of `due_reminders`: what to send now, and what to skip for good."""

    send: list[Reminder]
    passed_over: list[str]
    """Keys of reminders whose instant passed while a more urgent one of the same deadline is due
    too (e.g. a case assigned to legal aid two days before a deadline gets one reminder, not
    two): they are remembered as sent so they are never sent later."""


def reminder_key(case_id: str, clock: ClockName, due: date, offset_days: int) -> str:
    """The identity of one reminder: a changed due date makes a different reminder."""
    return f"{case_id}:{clock.value}:{due.isoformat()}:{offset_days}d"


def _offsets(offsets: Iterable[int]) -> list[int]:
    return sorted({o for o in offsets if o >= 0}, reverse=True)


def _remindable(deadline: Deadline) -> bool:
    # Test packs count in seconds or minutes: "7 days before" means nothing for them.
    return deadline.status is ClockStatus.RUNNING and not Period.parse(deadline.period).is_sub_day


def planned_reminders(state: CaseState, offsets: Sequence[int], now: datetime) -> list[Reminder]:
    """Every reminder of the case's running deadlines not yet sent, in the order they fall due.

    A case without a legal aid organisation has nobody to remind, so it has none.
    """
    org = state.legal_aid_org
    if org is None or state.stage in TERMINAL_STAGES:
        return []
    result: list[Reminder] = []
    for d in state.deadlines(local_date(state, now), now):
        if not _remindable(d):
            continue
        for offset in _offsets(offsets):
            at = fires_at(d.due - timedelta(days=offset), ClockKind.ENTITLEMENT, state.pack)
            if at >= d.fires_at:
                # The day the deadline itself falls due: a reminder then would come too late.
                continue
            key = reminder_key(state.case_id, d.clock, d.due, offset)
            if key in state.reminders_sent:
                continue
            result.append(
                Reminder(
                    key=key,
                    case_id=state.case_id,
                    org=org,
                    clock=d.clock,
                    due=d.due,
                    offset_days=offset,
                    at=at,
                )
            )
    return sorted(result, key=lambda r: (r.at, r.key))


def due_reminders(state: CaseState, offsets: Sequence[int], now: datetime) -> DueReminders:
    """The reminders to send at `now`: at most one per deadline, the most urgent that is due."""
    by_deadline: dict[tuple[ClockName, date], list[Reminder]] = {}
    for r in planned_reminders(state, offsets, now):
        if r.at <= now:
            by_deadline.setdefault((r.clock, r.due), []).append(r)
    send: list[Reminder] = []
    passed_over: list[str] = []
    for group in by_deadline.values():
        urgent = min(group, key=lambda r: r.offset_days)
        send.append(urgent)
        passed_over.extend(r.key for r in group if r is not urgent)
    send.sort(key=lambda r: (r.at, r.key))
    return DueReminders(send=send, passed_over=sorted(passed_over))


def next_reminder_at(state: CaseState, offsets: Sequence[int], now: datetime) -> datetime | None:
    """The earliest instant after `now` at which a reminder falls due (None if none is planned).

    It is only a wake-up: whether the reminder is still owed is decided again at that instant, so
    a deadline met or cancelled meanwhile gets none.
    """
    future = [r.at for r in planned_reminders(state, offsets, now) if r.at > now]
    return min(future, default=None)


def days_left(state: CaseState, due: date, now: datetime) -> int:
    """Whole days from the case's current local date to `due`."""
    return (due - local_date(state, now)).days


def request_for(state: CaseState, reminder: Reminder, now: datetime) -> ReminderRequest:
    """The activity input for one reminder, with the days actually left at `now`."""
    return ReminderRequest(
        key=reminder.key,
        case_id=reminder.case_id,
        org=reminder.org,
        clock=reminder.clock,
        due=reminder.due,
        days_left=days_left(state, reminder.due, now),
    )


def owed_anew(before: CaseState, after: CaseState) -> bool:
    """Whether a change handed the case to another legal aid org that was reminded before.

    The keys say which reminder, not to whom: without forgetting them (`forget_sent`), an org
    that takes a case over would never hear of a deadline its predecessor was reminded of.
    """
    org = after.legal_aid_org
    return org is not None and org != before.legal_aid_org and bool(after.reminders_sent)


def forget_sent(state: CaseState) -> CaseState:
    """A copy of `state` that owes every reminder again.

    The new org then gets, for each running deadline, the most urgent reminder already due
    (with the days actually left) and the later ones at their instants, as if the case had
    always been its own.
    """
    return state.model_copy(update={"reminders_sent": []})


def mark_sent(state: CaseState, keys: Iterable[str]) -> CaseState:
    """A copy of `state` that remembers `keys` as sent."""
    known = list(state.reminders_sent)
    known.extend(k for k in keys if k not in known)
    return state.model_copy(update={"reminders_sent": known})
