"""Legal time on the pure model: the record follows the legal dates of acts, not typing order.

The convergence property (api.md, "Legal time and recording time"): for any valid set of acts
with legal dates, recording them one at a time, late, in any order the lifecycle allows, ends in
the same stage, deadlines, flags and non-retracted items as recording them in one batch.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.enums import Action, ClockName, ClockStatus, Stage
from models.legal_record import record, record_all
from models.lifecycle import CaseState, DomainError, InvalidInput
from tests.legal_records import NOW, TODAY, Act, fresh, records, req


def rec(state: CaseState, action: Action, **fields: Any) -> CaseState:
    """Record one act today (late, if its date is in the past)."""
    return record(state, req(action, **fields), now=NOW, today=TODAY).state


def standing(state: CaseState, action: str) -> list[date]:
    """The legal dates of the non-retracted items of one kind."""
    return [e.on for e in state.history if e.action == action and not e.retracted]


def retracted(state: CaseState, action: str) -> list[date]:
    """The legal dates of the retracted items of one kind."""
    return [e.on for e in state.history if e.action == action and e.retracted]


def clock(state: CaseState, name: ClockName) -> Any:
    """The current instance of one clock."""
    found = state.deadline(name, TODAY)
    assert found is not None, name
    return found


# --------------------------------------------------------------------------------------------
# Worked examples


def test_readme_walkthrough_entered_one_at_a_time_in_december() -> None:
    """Issue case 1: identified, made 1 Sep, registered 2 Sep, lodged 5 Sep, typed in December."""
    s = fresh(date(2026, 9, 1))
    s = rec(s, Action.MAKE_APPLICATION, on=date(2026, 9, 1))
    s = rec(s, Action.REGISTER, on=date(2026, 9, 2))
    s = rec(s, Action.LODGE, on=date(2026, 9, 5))
    assert s.stage is Stage.LODGED
    # rs: lodging within 15 days of registration (due 17 Sep), met on 5 Sep.
    assert clock(s, ClockName.LODGING).status is ClockStatus.MET
    # The expiry typed in after `register` (due 17 Sep, on 18 Sep) was false: retracted.
    assert retracted(s, "deadline_expired") == [date(2026, 9, 18)]
    assert standing(s, "deadline_expired") == []
    # One presumption stands: 30 days after the last contact (lodging on 5 Sep).
    assert standing(s, "presumed_abandoned") == [date(2026, 10, 5)]
    assert date(2026, 10, 1) in retracted(s, "presumed_abandoned")
    assert s.presumed_abandoned
    # The same acts in one batch give the same record.
    batch = record_all(
        fresh(date(2026, 9, 1)),
        [
            req(Action.MAKE_APPLICATION, on=date(2026, 9, 1)),
            req(Action.REGISTER, on=date(2026, 9, 2)),
            req(Action.LODGE, on=date(2026, 9, 5)),
        ],
        now=NOW,
        today=TODAY,
    ).state
    assert _summary(batch) == _summary(s)


def _notified_rejection(notified: date) -> CaseState:
    made = notified - timedelta(days=60)
    s = fresh(made)
    for action, on, fields in [
        (Action.MAKE_APPLICATION, made, {}),
        (Action.REGISTER, made + timedelta(days=1), {}),
        (Action.LODGE, made + timedelta(days=2), {}),
        (Action.DECIDE, notified - timedelta(days=1), {"outcome": "rejected"}),
        (Action.NOTIFY_DECISION, notified, {}),
    ]:
        s = rec(s, action, on=on, **fields)
    return s


def test_appeal_lodged_in_time_and_recorded_late_is_accepted() -> None:
    """Issue case 2: notified 20 days ago, appealed 10 days ago, recorded today."""
    s = _notified_rejection(TODAY - timedelta(days=20))
    assert s.stage is Stage.RETURN and s.final  # the 15-day window (rs, regular) ended
    s = rec(s, Action.START_RETURN, on=TODAY - timedelta(days=2))
    appealed = rec(s, Action.LODGE_APPEAL, on=TODAY - timedelta(days=10))
    assert appealed.stage is Stage.APPEAL_LODGED and not appealed.final
    assert standing(appealed, "decision_final") == []
    assert retracted(appealed, "decision_final")
    # The return track that followed the false finality is retracted with it.
    start_return = next(e for e in appealed.history if e.action == "start_return")
    appeal = next(e for e in appealed.history if e.action == "lodge_appeal")
    assert start_return.retracted and start_return.retracted_by == appeal.seq
    assert clock(appealed, ClockName.APPEAL).status is ClockStatus.MET


def test_late_appeal_is_refused_where_a_departure_stands() -> None:
    s = _notified_rejection(TODAY - timedelta(days=40))
    for action, fields in [
        (Action.START_RETURN, {}),
        (Action.RECORD_RETURN_CONSENT, {}),
        (Action.RECORD_RISK_ASSESSMENT, {"at_risk": False}),
        (Action.RECORD_DEPARTURE, {}),
    ]:
        s = rec(s, action, on=TODAY - timedelta(days=5), **fields)
    with pytest.raises(DomainError) as refused:
        rec(s, Action.LODGE_APPEAL, on=TODAY - timedelta(days=30))
    assert refused.value.conflict is not None
    assert refused.value.conflict["action"] == "record_departure"


def test_correcting_notification_later_after_finality_reopens_the_window() -> None:
    """Issue case 3: the decision was really delivered later; the appeal window moves."""
    s = _notified_rejection(TODAY - timedelta(days=30))
    assert s.final
    s = rec(
        s,
        Action.CORRECT_EVENT,
        on=TODAY,
        event="notified",
        date=TODAY - timedelta(days=3),
    )
    assert s.stage is Stage.NOTIFIED and not s.final
    assert clock(s, ClockName.APPEAL).status is ClockStatus.RUNNING
    assert retracted(s, "decision_final") and not standing(s, "decision_final")


def test_retract_event_removes_a_mistaken_pause_with_its_resume() -> None:
    lodged = date(2026, 6, 3)
    s = fresh(date(2026, 6, 1))
    s = rec(s, Action.MAKE_APPLICATION, on=date(2026, 6, 1))
    s = rec(s, Action.REGISTER, on=date(2026, 6, 2))
    s = rec(s, Action.LODGE, on=lodged)
    due_before = clock(s, ClockName.LABOUR_MARKET_ACCESS).due
    s = rec(s, Action.PAUSE_CLOCK, on=date(2026, 7, 1), reason="x", attributable_to="applicant")
    s = rec(s, Action.RESUME_CLOCK, on=date(2026, 7, 11))
    assert clock(s, ClockName.LABOUR_MARKET_ACCESS).due == due_before + timedelta(days=10)
    pause = next(e for e in s.history if e.action == "pause_clock")
    s = rec(s, Action.RETRACT_EVENT, on=TODAY, seq=pause.seq, reason="wrong case")
    assert clock(s, ClockName.LABOUR_MARKET_ACCESS).due == due_before
    assert all(e.retracted for e in s.history if e.action in ("pause_clock", "resume_clock"))
    with pytest.raises(InvalidInput) as again:
        rec(s, Action.RETRACT_EVENT, on=TODAY, seq=pause.seq, reason="twice")
    assert again.value.field == "seq"
    retraction = next(e for e in s.history if e.action == "retract_event")
    with pytest.raises(InvalidInput):
        rec(s, Action.RETRACT_EVENT, on=TODAY, seq=retraction.seq, reason="undo")
    with pytest.raises(InvalidInput):
        rec(s, Action.RETRACT_EVENT, on=TODAY, seq=1, reason="creation")


def test_retracting_an_act_another_needs_is_refused() -> None:
    s = _notified_rejection(TODAY - timedelta(days=3))
    register = next(e for e in s.history if e.action == "register")
    with pytest.raises(DomainError) as refused:
        rec(s, Action.RETRACT_EVENT, on=TODAY, seq=register.seq, reason="mistake")
    assert refused.value.conflict is not None and refused.value.conflict["action"] == "lodge"


def test_a_decision_after_its_deadline_is_late() -> None:
    """Issue case 6."""
    s = fresh(date(2025, 1, 2))
    s = rec(s, Action.MAKE_APPLICATION, on=date(2025, 1, 2))
    s = rec(s, Action.REGISTER, on=date(2025, 1, 3))
    s = rec(s, Action.LODGE, on=date(2025, 1, 6))
    s = rec(s, Action.DECIDE, on=date(2025, 12, 1), outcome="refugee_status")
    decision = clock(s, ClockName.DECISION)
    assert decision.status is ClockStatus.LATE
    assert decision.days_late == (date(2025, 12, 1) - decision.due).days > 0


def test_an_authority_clock_past_due_is_missed_once_its_stage_is_left() -> None:
    """Issue case 5: a final case is not overdue for what can no longer be done."""
    # rs registration has no clock; eu-2013 does: 3 working days after the application.
    e = fresh(date(2026, 1, 5), family="eu")
    e = rec(e, Action.MAKE_APPLICATION, on=date(2026, 1, 5))
    assert clock(e, ClockName.REGISTRATION).status is ClockStatus.EXPIRED
    assert "overdue" in e.flags(TODAY)
    e = rec(e, Action.WITHDRAW, on=date(2026, 2, 1))
    reg = clock(e, ClockName.REGISTRATION)
    assert reg.status is ClockStatus.MISSED, reg
    assert "overdue" not in e.flags(TODAY)
    assert standing(e, "deadline_missed") == [date(2026, 2, 1)]


def test_no_contact_watch_ends_with_the_first_instance_decision() -> None:
    s = _notified_rejection(TODAY - timedelta(days=200))
    assert s.stage is Stage.RETURN
    assert not s.presumed_abandoned
    assert s.abandonment_watch_until is None


# --------------------------------------------------------------------------------------------
# The convergence property


def _effective(state: CaseState) -> list[tuple[str, date]]:
    """The non-retracted acts with their legal dates after corrections."""
    corrected = {
        e.data["previous_date"]: date.fromisoformat(e.data["date"])
        for e in state.history
        if e.action == "correct_event" and not e.retracted
    }
    return sorted(
        (e.action, corrected.get(e.on.isoformat(), e.on) if e.action == "lodge" else e.on)
        for e in state.history
        if not e.retracted and not e.derived and e.action not in ("correct_event", "retract_event")
    )


def _summary(state: CaseState) -> dict[str, Any]:
    return {
        "stage": state.stage,
        "deadlines": [d.model_dump(exclude={"fires_at"}) for d in state.deadlines(TODAY, NOW)],
        "flags": state.flags(TODAY, NOW),
        "derived": sorted(
            (e.action, e.on, str(e.data.get("clock")))
            for e in state.history
            if e.derived and not e.retracted
        ),
        "acts": _effective(state),
    }


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=records(), data=st.data())
def test_recording_one_at_a_time_in_any_order_converges_to_the_batch(
    case: tuple[date, list[Act]], data: st.DataObject
) -> None:
    start, acts = case
    batch = record_all(fresh(start), [a.request() for a in acts], now=NOW, today=TODAY).state
    order = data.draw(st.permutations(range(len(acts))), label="typing order")
    # Mistakes typed on the way: a lodging under a wrong date corrected later, and a contact
    # that never happened, retracted.
    wrong_lodging = data.draw(st.booleans(), label="lodging typed with a wrong date")
    phantom = data.draw(st.booleans(), label="a contact recorded by mistake")
    state = fresh(start)
    pending = [acts[i] for i in order]
    refused: dict[Act, Exception] = {}
    while pending:
        progress = False
        for act in list(pending):
            lodge_on = acts[1].on if wrong_lodging and act.action is Action.LODGE else None
            try:
                state = record(state, act.request(lodge_on), now=NOW, today=TODAY).state
            except (DomainError, InvalidInput) as exc:
                refused[act] = exc
                continue
            pending.remove(act)
            progress = True
            if lodge_on is not None and lodge_on != act.on:
                state = rec(state, Action.CORRECT_EVENT, on=TODAY, event="lodged", date=act.on)
            if phantom and act.action is Action.LODGE:
                state = rec(state, Action.RECORD_CONTACT, on=act.on)
                mistaken = max(
                    (e for e in state.history if e.action == "record_contact"), key=lambda e: e.seq
                )
                state = rec(state, Action.RETRACT_EVENT, on=TODAY, seq=mistaken.seq, reason="x")
        assert progress, {a: str(refused.get(a)) for a in pending}
    assert _summary(state) == _summary(batch)
