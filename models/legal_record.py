"""Legal time: a case follows from its legal record, whenever and in whatever order acts are typed.

The record is the case's acts, each with its legal date `on`. The stage, the clocks, the flags and
every derived item (a deadline expired, an entitlement reached, a decision became final, a
presumption of abandonment) are what the acts give when they are applied in legal order, with the
clocks settled in between as time passed, and then up to now. Recording an act dated today, after
everything else, only extends that fold (the fast path: apply it, then settle). Anything else (an
act dated in the past, a correction, a retraction) re-derives the case from the record:

- derived items the new fold no longer produces are *retracted* (kept, marked, counted nowhere);
- recorded acts that the lifecycle no longer allows at their legal place are retracted too, unless
  one of them is irreversible (a departure, a document...): then the new act is refused (409,
  naming it in `conflict`);
- a retraction (`retract_event`) that would leave a later act without what it needs is refused.

Pure, like `models.lifecycle`: the workflow passes the instant and the day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from pydantic import ValidationError

from models.actions import ActionInput, CorrectEventInput, RetractEventInput, input_model
from models.case_state import CaseCreated, CaseEvent, CaseState, new_case
from models.effects import Applied, apply, replay_act
from models.enums import PUBLIC_EVENTS, Action, LegalEvent
from models.errors import DomainError, InvalidInput, OutOfTime
from models.field_checks import validate_input
from models.record_facts import explicitly_retracted, record_facts
from models.settling import local_date, settle
from models.transitions import TRANSITIONS, allowed_actions, check_allowed

IRREVERSIBLE = frozenset(
    {Action.RECORD_DEPARTURE, Action.RECORD_REINTEGRATION, Action.ISSUE_DOCUMENT, Action.CLOSE}
)
"""Acts that a late act cannot retract: what they record happened in the world for good."""

_RECORD_ONLY = frozenset({Action.CORRECT_EVENT, Action.RETRACT_EVENT})
"""Acts about the record itself: they change other acts, and are not replayed."""

CREATION = "identify"


@dataclass
class ActRequest:
    """One act to record: the action, its validated body and who records it."""

    action: Action
    payload: ActionInput
    actor: str


@dataclass
class _Fold:
    """The result of applying the record in legal order."""

    state: CaseState
    displaced: list[CaseEvent] = field(default_factory=list)
    """Acts of the record that the lifecycle no longer allows at their legal place."""
    errors: dict[int, DomainError | InvalidInput] = field(default_factory=dict)
    """Why each displaced act (by seq) was refused at its place."""


# --------------------------------------------------------------------------------------------
# Recording


def record(state: CaseState, request: ActRequest, *, now: datetime, today: date) -> Applied:
    """Record one act and return the case as its legal record now gives it.

    Raises:
        DomainError: the act is not allowed at its legal date (409), or it would retract an
            irreversible act (409 with `conflict`).
        InvalidInput: a field is wrong for the case (422 naming it).
    """
    return record_all(state, [request], now=now, today=today)


def record_all(
    state: CaseState,
    requests: Sequence[ActRequest],
    *,
    now: datetime,
    today: date,
    settled: bool = False,
) -> Applied:
    """Record several acts as one batch (all or nothing) and derive the case once.

    `settled` says that nothing fell due since the state was last settled (the workflow knows
    its next wake-up), which spares computing every clock again.

    Raises:
        DomainError, InvalidInput: as `record`; for a batch, `index` names the failing item.
    """
    # Whatever fell due by now comes first: it belongs to the record before any act typed now.
    current = state if settled else settle(state, now, recorded_at=now).state
    if _fast(current, requests, today):
        # At the end of the legal record: the fold is the current state followed by the acts.
        start = len(state.history)
        for index, request in enumerate(requests):
            if index:
                # As the fold does: what the batch's earlier acts make fall due before this
                # act's instant comes before it (the state was settled up to the first one).
                instant = _instant_of(current, request.payload.on, now)
                current = settle(current, instant, recorded_at=now).state
            with _item(index, len(requests)):
                current = apply(
                    current,
                    request.action,
                    request.payload,
                    actor=request.actor,
                    recorded_at=now,
                    today=today,
                ).state
        current = settle(current, now, recorded_at=now).state
        return Applied(current, current.history[start:])
    return _record_slow(state, requests, now=now, today=today)


def _fast(state: CaseState, requests: Sequence[ActRequest], today: date) -> bool:
    """Whether the acts go at the end of the legal record, so that no re-derivation is needed.

    True when each act is dated on or after everything on record (acts and derived items) and
    the batch is in legal order: the state settled so far is then the fold up to the act's
    date (settling only ever adds items, each dated when it fell due), and applying the act
    and settling again is exactly what the fold would do. The common case (an act dated today,
    a migration entered in legal order) stays linear in the history.
    """
    if any(r.action in _RECORD_ONLY for r in requests):
        return False
    facts = record_facts(state)
    if facts.suspended.difference(facts.gone):
        # A suspended act may find its place again: only a re-derivation tells.
        return False
    latest = facts.latest or state.identified_on
    for request in requests:
        if request.payload.on < latest or request.payload.on > today:
            return False
        latest = request.payload.on
    return True


@contextmanager
def _item(index: int, count: int) -> Iterator[None]:
    """A failure inside names the batch item (when there is more than one)."""
    try:
        yield
    except (DomainError, InvalidInput) as exc:
        if count > 1:
            exc.index = index
        raise


def _record_slow(
    state: CaseState, requests: Sequence[ActRequest], *, now: datetime, today: date
) -> Applied:
    """Add the acts to the record, re-derive the case, and settle what that changes."""
    entries: list[CaseEvent] = []
    seq = state.seq
    for index, request in enumerate(requests):
        seq += 1
        with _item(index, len(requests)):
            entries.append(_entry(state, entries, request, seq, now, today))
    history = [*state.history, *entries]
    fold = _fold(state, history, now=now, today=today)
    new_seqs = {e.seq: i for i, e in enumerate(entries)}
    for entry in fold.displaced:
        if entry.seq in new_seqs:
            with _item(new_seqs[entry.seq], len(requests)):
                _refuse_new(fold, entry)
    # Acts this record newly leaves without a place. A late act may retract them, unless one
    # is irreversible; a retraction may not (they depend on what it takes out).
    newly = [e for e in fold.displaced if not e.retracted]
    retracting = any(r.action is Action.RETRACT_EVENT for r in requests)
    blocking = [e for e in newly if retracting or Action(e.action) in IRREVERSIBLE]
    if blocking:
        first = min(blocking, key=lambda e: (e.on, e.seq))
        why = (
            "a later act depends on the retracted one"
            if retracting
            else "an irreversible later act stands in the way"
        )
        error = DomainError(
            f"{why}: {first.action} on {first.on.isoformat()} (seq {first.seq})",
            state.stage,
            allowed_actions(state),
        )
        error.conflict = {"seq": first.seq, "action": first.action, "on": first.on.isoformat()}
        raise error
    return _merge(state, history, entries, fold, cause=entries[-1].seq, now=now)


def _entry(
    state: CaseState,
    pending: Sequence[CaseEvent],
    request: ActRequest,
    seq: int,
    now: datetime,
    today: date,
) -> CaseEvent:
    """The history entry of a new act (recorded at `now` by the caller's `recorded_at`)."""
    if request.action in _RECORD_ONLY:
        # An act about the record itself is checked against the case as it is now.
        check_allowed(state, request.action)
        validate_input(state, request.action, request.payload, today)
    data = request.payload.model_dump(mode="json", exclude={"on", "note"}, exclude_none=True)
    if isinstance(request.payload, CorrectEventInput):
        previous = _correction_target(state, pending, request.payload, seq)
        data["previous_date"] = previous.isoformat()
    if isinstance(request.payload, RetractEventInput):
        data["retracts"] = _retraction_targets(state, pending, request.payload)
    return CaseEvent(
        seq=seq,
        actor=request.actor,
        action=request.action.value,
        event=TRANSITIONS[request.action].event,
        on=request.payload.on,
        recorded_at=now,
        note=request.payload.note,
        data=data,
    )


def _refuse_new(fold: _Fold, entry: CaseEvent) -> None:
    """Raise the error of a new act that its legal place does not allow.

    Allowed once everything else on record stands, but not at its date: the date is before
    the act it follows (422 on `on`). Otherwise what refused it at its place (409 naming the
    stage it would have been taken in, or 422).
    """
    action = Action(entry.action)
    error = fold.errors[entry.seq]
    if isinstance(error, OutOfTime):
        # The law takes the act as not made at its date (a request after its period): that,
        # not the order of the record, is why it has no place.
        raise error
    if action in allowed_actions(fold.state):
        raise InvalidInput(
            "on",
            f"{entry.on.isoformat()} is before the act {action.value} follows in the record",
        )
    raise fold.errors[entry.seq]


# --------------------------------------------------------------------------------------------
# Corrections and retractions


def _acts(history: Sequence[CaseEvent]) -> list[CaseEvent]:
    """The record: every recorded act but those retracted by `retract_event`.

    An act that a late act left without a place is marked retracted, but stays in the record:
    should the record allow it again (the act it needed recorded after all), it is back.
    """
    gone = explicitly_retracted(history)
    return [e for e in history if not e.derived and e.seq not in gone]


def _correction_target(
    state: CaseState, pending: Sequence[CaseEvent], payload: CorrectEventInput, seq: int
) -> date:
    """Check a correction against the record; returns the date it replaces."""
    if payload.event not in PUBLIC_EVENTS:
        allowed = ", ".join(e.value for e in PUBLIC_EVENTS)
        raise InvalidInput("event", f"{payload.event.value} cannot be corrected; use {allowed}")
    history = [*state.history, *pending]
    dates = _corrected_dates(history)
    target = _latest_with_event(history, payload.event, seq)
    if target is None:
        raise InvalidInput("event", f"the case has no {payload.event.value} event to correct")
    # The corrected act keeps its place among the acts with legal events (derived ones, such
    # as a decision becoming final, follow from the dates and move with them).
    ordered = sorted(
        (e for e in _acts(history) if e.event is not None and e.action not in _RECORD_VALUES),
        key=lambda e: (dates.get(e.seq, e.on), e.seq),
    )
    place = next(i for i, e in enumerate(ordered) if e.seq == target.seq)
    before = [dates.get(e.seq, e.on) for e in ordered[:place]]
    after = [dates.get(e.seq, e.on) for e in ordered[place + 1 :]]
    if before and payload.date < max(before):
        raise InvalidInput("date", "the corrected date is before the event it follows")
    if after and payload.date > min(after):
        raise InvalidInput("date", "the corrected date is after an event that follows it")
    return dates.get(target.seq, target.on)


_RECORD_VALUES = frozenset(a.value for a in _RECORD_ONLY)


def _latest_with_event(
    history: Sequence[CaseEvent], event: LegalEvent, before_seq: int
) -> CaseEvent | None:
    found = [
        e
        for e in _acts(history)
        if e.seq < before_seq and e.event is event and e.action not in _RECORD_VALUES
    ]
    return max(found, key=lambda e: e.seq) if found else None


def _corrected_dates(history: Sequence[CaseEvent]) -> dict[int, date]:
    """The legal date of each corrected act (by `seq`), after every correction in force."""
    dates: dict[int, date] = {}
    for entry in _acts(history):
        if entry.action != Action.CORRECT_EVENT.value:
            continue
        target = _latest_with_event(history, LegalEvent(entry.data["event"]), entry.seq)
        if target is not None:
            dates[target.seq] = date.fromisoformat(entry.data["date"])
    return dates


def _retraction_targets(
    state: CaseState, pending: Sequence[CaseEvent], payload: RetractEventInput
) -> list[int]:
    """The seqs a retraction takes out of the record (a pause takes its resume with it)."""
    history = [*state.history, *pending]
    target = next((e for e in history if e.seq == payload.seq), None)
    why = None
    if target is None:
        why = f"the case has no entry {payload.seq}"
    elif target.derived:
        why = f"entry {payload.seq} ({target.action}) was concluded by the engine, not recorded"
    elif target.retracted:
        why = f"entry {payload.seq} ({target.action}) is already retracted"
    elif target.action == CREATION:
        why = "the case's creation cannot be retracted"
    elif target.action == Action.RETRACT_EVENT.value:
        why = "a retraction cannot itself be retracted"
    if why is not None or target is None:
        raise InvalidInput("seq", why or "")
    seqs = [target.seq]
    if target.action == Action.PAUSE_CLOCK.value:
        resume = min(
            (
                e
                for e in _acts(history)
                if e.action == Action.RESUME_CLOCK.value and (e.on, e.seq) >= (target.on, 0)
            ),
            key=lambda e: (e.on, e.seq),
            default=None,
        )
        if resume is not None:
            seqs.append(resume.seq)
    return seqs


# --------------------------------------------------------------------------------------------
# The fold


def _created(state: CaseState) -> CaseCreated:
    """What the case was created with (states carried from before this field: from its flags)."""
    if state.created is not None:
        return state.created
    first = state.history[0]
    return CaseCreated(
        identified_at=first.data.get("identified_at", "inland"),
        unaccompanied_child=state.unaccompanied_child,
        vulnerable=state.vulnerable,
        legal_aid_org=state.legal_aid_org,
        actor=first.actor,
    )


def _payload(entry: CaseEvent, on: date) -> ActionInput:
    """The act's body again, from what its entry recorded (amendments left out)."""
    model = input_model(Action(entry.action))
    fields = {k: v for k, v in entry.data.items() if k in model.model_fields}
    try:
        return model.model_validate({**fields, "on": on, "note": entry.note})
    except ValidationError as exc:  # pragma: no cover - the entry was validated when recorded
        raise InvalidInput("body", str(exc)) from None


def _instant_of(state: CaseState, on: date, recorded_at: datetime) -> datetime:
    """When an act dated `on` and recorded at `recorded_at` happened.

    An act recorded on its legal day happened when it was recorded (clocks in seconds, in the
    test packs, depend on that); one recorded later happened at the start of its day.
    """
    if local_date(state, recorded_at) == on:
        return recorded_at
    return datetime.combine(on, time(0), tzinfo=state.pack.tz)


def _fold(state: CaseState, history: Sequence[CaseEvent], *, now: datetime, today: date) -> _Fold:
    """Apply the record's acts in legal order from the case's creation, settling in between."""
    created = _created(state)
    dates = _corrected_dates(history)
    creation = history[0]
    identified_on = dates.get(creation.seq, creation.on)
    fold = new_case(
        case_id=state.case_id,
        family=state.family,
        identified_on=identified_on,
        identified_at=created.identified_at,
        unaccompanied_child=created.unaccompanied_child,
        vulnerable=created.vulnerable,
        legal_aid_org=created.legal_aid_org,
        actor=created.actor,
        recorded_at=creation.recorded_at,
        vulnerabilities=created.vulnerabilities,
    )
    fold.created = created
    fold.reference = state.reference
    # The referral rule the case was begun under (issue #19), never the creation's default.
    fold.referral_keeps_stage = state.referral_keeps_stage
    fold.history = [creation]
    fold.seq = max(e.seq for e in history)
    acts = sorted(
        (e for e in _acts(history)[1:] if e.action not in _RECORD_VALUES),
        key=lambda e: (dates.get(e.seq, e.on), e.seq),
    )
    displaced: list[CaseEvent] = []
    errors: dict[int, DomainError | InvalidInput] = {}
    settled_to = datetime.combine(identified_on, time(0), tzinfo=fold.pack.tz)
    # Within a day, acts are in typing order (the law does not order them, and of two
    # conflicting acts of one day the first typed stands). An act refused at its place waits
    # for the day's later acts: one typed before the act it needs of the same day (a
    # notification typed before that day's decision) finds its place after it.
    waiting: list[CaseEvent] = []
    for entry in acts:
        on = dates.get(entry.seq, entry.on)
        if waiting and dates.get(waiting[0].seq, waiting[0].on) < on:
            displaced.extend(waiting)
            waiting = []
        settled_to = max(settled_to, _instant_of(fold, on, entry.recorded_at))
        fold = settle(fold, settled_to, recorded_at=now).state
        try:
            fold = replay_act(fold, _placed(entry, on), _payload(entry, on), today)
        except (DomainError, InvalidInput) as exc:
            waiting.append(entry)
            errors[entry.seq] = exc
            continue
        retry = True
        while retry:
            retry = False
            for other in list(waiting):
                try:
                    fold = replay_act(fold, _placed(other, on), _payload(other, on), today)
                except (DomainError, InvalidInput):
                    continue
                waiting.remove(other)
                errors.pop(other.seq, None)
                retry = True
    displaced.extend(waiting)
    fold = settle(fold, max(now, settled_to), recorded_at=now).state
    return _Fold(fold, displaced, errors)


def _placed(entry: CaseEvent, on: date) -> CaseEvent:
    """The entry at its legal date (after corrections)."""
    return entry if on == entry.on else entry.model_copy(update={"on": on})


def _key(entry: CaseEvent) -> tuple[Any, ...]:
    """What identifies a derived item across re-derivations."""
    return (entry.action, entry.on, entry.data.get("clock"), entry.data.get("due"))


def _merge(
    before: CaseState,
    history: list[CaseEvent],
    entries: list[CaseEvent],
    fold: _Fold,
    *,
    cause: int,
    now: datetime,
) -> Applied:
    """The re-derived case: the history of `before` kept and (re)marked, plus what is new.

    Derived items that the fold no longer produces are retracted; the others keep their seq
    and recording time, and those it produces anew are appended. Acts are marked retracted
    while the record leaves them without a place (`retracted_by` the act that did), and
    for good when `retract_event` took them out.
    """
    produced = [e for e in fold.state.history if e.derived]
    standing = Counter(_key(e) for e in history if e.derived and not e.retracted)
    reproduced = Counter(_key(e) for e in produced)
    gone = standing - reproduced
    explicit = explicitly_retracted(history)
    displaced = {e.seq for e in fold.displaced}
    # An act that effects amended in the fold (an inadmissibility, say) keeps the amendment,
    # and its legal date as recorded (a correction is an entry of its own).
    folded = {e.seq: e for e in fold.state.history if not e.derived}
    new_seqs = {e.seq for e in entries}
    merged: list[CaseEvent] = []
    changed: list[CaseEvent] = []
    for entry in history:
        if entry.seq in new_seqs:
            entry = folded.get(entry.seq, entry).model_copy(update={"on": entry.on})
        if entry.derived:
            marks = (entry.retracted, entry.retracted_by)
            if not entry.retracted and gone[_key(entry)] > 0:
                gone[_key(entry)] -= 1
                marks = (True, cause)
        elif entry.seq in explicit:
            marks = (True, explicit[entry.seq])
        elif entry.seq in displaced:
            marks = (True, entry.retracted_by if entry.retracted else cause)
        else:
            marks = (False, None)
        if marks != (entry.retracted, entry.retracted_by):
            entry = entry.model_copy(update={"retracted": marks[0], "retracted_by": marks[1]})
            if entry.seq <= before.seq:
                changed.append(entry)
        merged.append(entry)
    seq = max((e.seq for e in entries), default=before.seq)
    # The derived items that stand again: produced now and already in the history.
    fresh = standing & reproduced
    appended: list[CaseEvent] = []
    for entry in produced:
        if fresh[_key(entry)] > 0:
            fresh[_key(entry)] -= 1
            continue
        seq += 1
        appended.append(entry.model_copy(update={"seq": seq, "recorded_at": now}))
    merged.extend(appended)
    result = fold.state.model_copy()
    result.history = merged
    result.seq = seq
    result.reminders_sent = list(before.reminders_sent)
    new_entries = [e for e in merged if e.seq in new_seqs]
    return Applied(result, [*changed, *new_entries, *appended])


def record_as_of(state: CaseState, at: datetime) -> CaseState:
    """The case as its legal record, as now known, gave it at a past instant `at`.

    The record then: the acts dated before that day, and those of that day recorded by `at`
    (one of the same day recorded later may have happened after `at`: acts carry a day, not
    an hour); corrections and retractions are in force whenever recorded, since they say what
    the record always should have been. Used to tell whether what the case said at `at` (a
    reminder sent then) still stands after a re-derivation.
    """
    day = local_date(state, at)
    dates = _corrected_dates(state.history)

    def then(entry: CaseEvent) -> bool:
        on = dates.get(entry.seq, entry.on)
        return on < day or (on == day and entry.recorded_at <= at)

    creation = state.history[0]
    kept = {creation.seq} | {e.seq for e in state.history[1:] if not e.derived and then(e)}
    # A correction applies to the act it corrected, and only if that act is in the record then.
    for entry in state.history:
        if entry.derived or entry.action not in _RECORD_VALUES:
            continue
        if entry.action == Action.CORRECT_EVENT.value:
            target = _latest_with_event(state.history, LegalEvent(entry.data["event"]), entry.seq)
            if target is None or target.seq not in kept:
                continue
        kept.add(entry.seq)
    history = [creation, *(e for e in state.history[1:] if e.seq in kept)]
    return _fold(state, history, now=at, today=day).state
