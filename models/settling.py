"""What happens when time passes: the next wake-up, and `settle`, which acts on what fell due.

The workflow's timers call these; pure like `apply`: the caller passes the instant.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from models.case_state import CaseState, fork, record_event, set_stage
from models.deadlines import Deadline, fires_at
from models.effects import Applied, become_final
from models.enums import Actor, ClockKind, ClockName, ClockStatus, LegalEvent, Stage
from models.responsibility import accept_responsibility, responsibility_stays
from models.stages import TERMINAL_STAGES


def _instance_key(deadline: Deadline) -> str:
    return f"{deadline.trigger.value}:{deadline.clock.value}:{deadline.trigger_date.isoformat()}"


def next_wakeup(state: CaseState, now: datetime) -> tuple[datetime | None, str | None]:
    """The earliest instant something is due: a running clock or the no-contact watch.

    Returns the instant (UTC) and what falls due then (a clock name, or `no_contact`).
    """
    if state.stage in TERMINAL_STAGES:
        return None, None
    candidates: list[tuple[datetime, str]] = [
        (d.fires_at, d.clock.value)
        for d in state.deadlines(local_date(state, now), now)
        # Expired or reached but not yet acted on counts too: it fell due while the workflow
        # was busy, and its wake-up is now.
        if d.status in _DUE_OR_RUNNING and _instance_key(d) not in state.settled_clocks
    ]
    watch = state.abandonment_watch_until
    if watch is not None:
        # The watch falls due at the start of its day, like an entitlement.
        candidates.append((fires_at(watch, ClockKind.ENTITLEMENT, state.pack), "no_contact"))
    if not candidates:
        return None, None
    return min(candidates)


_DUE_OR_RUNNING = (ClockStatus.RUNNING, ClockStatus.EXPIRED, ClockStatus.REACHED)


def local_date(state: CaseState, now: datetime) -> date:
    """The calendar day `now` falls on in the case's jurisdiction."""
    return now.astimezone(state.pack.tz).date()


def settle(state: CaseState, now: datetime, *, recorded_at: datetime) -> Applied:
    """Act on every clock and watch that fell due by `now` and was not yet acted on.

    Expiries have consequences: labour-market access reached is recorded as an entitlement; an
    authority's deadline passing is recorded as overdue; the appeal window passing without an
    appeal makes the decision final (integration or return); the reopen window passing closes the
    case; the no-contact watch flags the case as presumed abandoned (never discontinued).

    When nothing is due (after most actions, and on most of the main loop's passes) `state`
    itself is returned, not a copy, with no events; otherwise a copy (see `fork`).
    """
    due: list[Deadline] | None = _due_clocks(state, now)
    if not due and _watch_due(state, now) is None:
        return Applied(state, [])
    new = fork(state)
    start = len(new.history)
    # Settling one clock can start or end others (finality starts nothing, but is ordered), so
    # repeat until nothing more falls due.
    for _ in range(20):
        changed = False
        # The first pass acts on what was found due on `state` (the copy is equal to it).
        if due is None:
            due = _due_clocks(new, now)
        for d in due:
            new.settled_clocks.append(_settle_key(d))
            _clock_consequence(new, d, recorded_at)
            changed = True
        due = None
        # After the clocks' consequences, which can start or end the watch (none changes the
        # pack, so the local day is the one the clocks were found due on).
        watch = _watch_due(new, now)
        if watch is not None:
            new.presumed_abandoned, new.abandoned_since = True, watch
            record_event(
                new,
                actor="system",
                action="presumed_abandoned",
                on=watch,
                recorded_at=recorded_at,
                data={"days_without_contact": new.pack.no_contact_days},
                derived=True,
            )
            changed = True
        if not changed:
            break
    return Applied(new, new.history[start:])


def _due_clocks(state: CaseState, now: datetime) -> list[Deadline]:
    """The clocks of `state` due by `now` and not yet acted on, in the order they fell due."""
    # In that order, so a late catch-up records history chronologically.
    deadlines = sorted(state.deadlines(local_date(state, now), now), key=lambda d: d.fires_at)
    # One deadline per clock, so no instance key repeats within one pass.
    return [
        d
        for d in deadlines
        if d.fires_at <= now
        and d.status in (ClockStatus.EXPIRED, ClockStatus.REACHED, ClockStatus.MISSED)
        and _settle_key(d) not in state.settled_clocks
    ]


def _settle_key(deadline: Deadline) -> str:
    """What marks a clock instance as acted on (its expiry, and separately its being missed)."""
    key = _instance_key(deadline)
    return f"missed:{key}" if deadline.status is ClockStatus.MISSED else key


def _watch_due(state: CaseState, now: datetime) -> date | None:
    """The day the no-contact watch fell due, if it did by `now` (None otherwise)."""
    watch = state.abandonment_watch_until
    return watch if watch is not None and local_date(state, now) >= watch else None


_FINAL_WHEN_WINDOW_ENDS: dict[tuple[ClockName, Stage], str] = {
    (ClockName.APPEAL, Stage.NOTIFIED): "no appeal within the appeal window",
    # Tracks (issue 20): no further appeal within its window, the appeal decision is final.
    (ClockName.FURTHER_APPEAL, Stage.APPEAL_DECIDED): "no further appeal within its window",
}
"""A window ending unused in its stage makes the decision final (the note says which)."""


def _clock_consequence(state: CaseState, d: Deadline, recorded_at: datetime) -> None:
    day_after = d.due + timedelta(days=1)
    data: dict[str, Any] = {"clock": d.clock.value, "due": d.due.isoformat(), "rule": d.rule}
    if d.status is ClockStatus.MISSED:
        # A breach on record: the case left the stages where the act could be done.
        left_on = state.left_stages_on(d.clock) or state.stage_since
        record_event(
            state,
            actor="system",
            action="deadline_missed",
            on=left_on,
            recorded_at=recorded_at,
            data=data,
            derived=True,
        )
        return
    if d.status is ClockStatus.REACHED:
        if d.clock is ClockName.LABOUR_MARKET_ACCESS:
            state.labour_market_reached_on = d.due
            data["personal_id_issued"] = state.personal_id_issued
        record_event(
            state,
            actor="system",
            action="entitlement_reached",
            on=d.due,
            recorded_at=recorded_at,
            data=data,
            derived=True,
        )
        return
    record_event(
        state,
        actor="system",
        action="deadline_expired",
        on=day_after,
        recorded_at=recorded_at,
        data=data,
        derived=True,
    )
    final = _FINAL_WHEN_WINDOW_ENDS.get((d.clock, state.stage))
    if final is not None:
        record_event(
            state,
            actor="system",
            action="decision_final",
            event=LegalEvent.FINAL,
            on=day_after,
            recorded_at=recorded_at,
            note=final,
            derived=True,
        )
        become_final(state, day_after)
    elif d.clock is ClockName.REOPEN_WINDOW and state.stage is Stage.DISCONTINUED:
        record_event(
            state,
            actor="system",
            action="closed",
            event=LegalEvent.CLOSED,
            on=day_after,
            recorded_at=recorded_at,
            note="reopen window ended",
            derived=True,
        )
        set_stage(state, Stage.CLOSED, day_after)
    elif (
        d.clock is ClockName.RESPONSIBILITY_REPLY and state.stage is Stage.RESPONSIBILITY_REQUESTED
    ):
        # Silence is acceptance (604/2013 Art 22(7), 25(2); 2024/1351 Art 40, 41(4)), dated the
        # reply period's last day: the transfer period runs from it.
        record_event(
            state,
            actor="system",
            action="responsibility_accepted_implicitly",
            on=d.due,
            recorded_at=recorded_at,
            note=f"no reply within the reply period ({d.citation})",
            data={"to_state": state.responsibility.get("to_state"), "rule": d.rule},
            derived=True,
        )
        accept_responsibility(state, d.due, recorded_at, implicit=True)
    elif d.clock is ClockName.TRANSFER and state.stage is Stage.TRANSFER_PENDING:
        # No transfer in time: the responsible state is relieved; this state examines the
        # application (604/2013 Art 29(2); 2024/1351 Art 46).
        record_event(
            state,
            actor="system",
            action="responsibility_shifted",
            event=LegalEvent.RESPONSIBILITY_SHIFTED,
            on=day_after,
            recorded_at=recorded_at,
            note=f"no transfer within the transfer period ({d.citation}); examined here",
            data={"to_state": state.responsibility.get("to_state"), "rule": d.rule},
            derived=True,
        )
        responsibility_stays(state, day_after, "shifted")
    elif d.clock is ClockName.APPEAL and state.stage is Stage.DISCONTINUED:
        pass  # the discontinuation stands; the reopen window (if any) keeps running
    elif (
        d.actor is Actor.APPLICANT and d.clock is ClockName.LODGING and not state.presumed_abandoned
    ):
        state.presumed_abandoned, state.abandoned_since = True, day_after
