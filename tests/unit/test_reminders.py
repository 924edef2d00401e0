"""Reminder planning (models/reminders.py): which reminders are due, and when the next one is.

The case: Serbia (rs-2023), lodged Thursday 15 January 2026. Its running clocks are the decision
(3 months: Wednesday 15 April 2026, a working day) and labour-market access (6 months, an
entitlement: 15 July 2026). Belgrade is UTC+2 in summer time, so the start of a local day is
22:00 UTC the day before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models import rules
from models.actions import input_model
from models.enums import Action, ClockName, IdentifiedAt, Outcome
from models.lifecycle import CaseState, apply, new_case
from models.reminders import (
    ReminderRequest,
    SentReminder,
    due_reminders,
    forget_sent,
    mark_sent,
    next_reminder_at,
    owed_anew,
    planned_reminders,
    reminder_key,
    request_for,
    retraction_for,
    sent,
    stale_reminders,
    why_not_standing,
)

RECORDED = datetime(2026, 1, 15, 9, tzinfo=UTC)
OFFSETS = [7, 2]
DECISION_DUE = date(2026, 4, 15)
LABOUR_DUE = date(2026, 7, 15)
DECISION_7D = datetime(2026, 4, 7, 22, tzinfo=UTC)  # start of 8 April in Belgrade
DECISION_2D = datetime(2026, 4, 12, 22, tzinfo=UTC)  # start of 13 April in Belgrade
LABOUR_7D = datetime(2026, 7, 7, 22, tzinfo=UTC)


def act(state: CaseState, action: Action, on: date, **fields: Any) -> CaseState:
    payload = input_model(action)(on=on, **fields)
    today = max(on, date(2026, 1, 15))
    return apply(state, action, payload, actor="cw", recorded_at=RECORDED, today=today).state


def lodged(org: str | None = "org-a", family: str = "rs") -> CaseState:
    s = new_case(
        case_id="c-1",
        family=family,
        identified_on=date(2026, 1, 2),
        identified_at=IdentifiedAt.BORDER,
        unaccompanied_child=False,
        vulnerable=False,
        legal_aid_org=org,
        actor="officer",
        recorded_at=RECORDED,
    )
    s = act(s, Action.MAKE_APPLICATION, date(2026, 1, 3))
    s = act(s, Action.REGISTER, date(2026, 1, 5))
    return act(s, Action.LODGE, date(2026, 1, 15))


def keys(state: CaseState, now: datetime) -> list[str]:
    return [r.key for r in planned_reminders(state, OFFSETS, now)]


def test_plan_of_a_lodged_case() -> None:
    s = lodged()
    plan = planned_reminders(s, OFFSETS, RECORDED)
    assert [(r.clock, r.due, r.offset_days, r.at) for r in plan] == [
        (ClockName.DECISION, DECISION_DUE, 7, DECISION_7D),
        (ClockName.DECISION, DECISION_DUE, 2, DECISION_2D),
        (ClockName.LABOUR_MARKET_ACCESS, LABOUR_DUE, 7, LABOUR_7D),
        (ClockName.LABOUR_MARKET_ACCESS, LABOUR_DUE, 2, datetime(2026, 7, 12, 22, tzinfo=UTC)),
    ]
    assert {r.org for r in plan} == {"org-a"}
    assert plan[0].key == "c-1:decision:2026-04-15:7d"
    assert plan[0].key == reminder_key("c-1", ClockName.DECISION, DECISION_DUE, 7)


def test_no_org_no_reminders() -> None:
    s = lodged(org=None)
    assert planned_reminders(s, OFFSETS, RECORDED) == []
    assert next_reminder_at(s, OFFSETS, RECORDED) is None
    late = DECISION_2D + timedelta(hours=1)
    assert due_reminders(s, OFFSETS, late).send == []


def test_next_instant_and_due_exactly_then() -> None:
    s = lodged()
    assert next_reminder_at(s, OFFSETS, RECORDED) == DECISION_7D
    before = due_reminders(s, OFFSETS, DECISION_7D - timedelta(seconds=1))
    assert before.send == [] and before.passed_over == []
    at = due_reminders(s, OFFSETS, DECISION_7D)
    assert [r.key for r in at.send] == ["c-1:decision:2026-04-15:7d"]
    assert at.passed_over == []
    assert request_for(s, at.send[0], DECISION_7D).days_left == 7
    # Once sent, the next wake-up is the two-day reminder, which reports two days left.
    s = mark_sent(s, [at.send[0].key])
    assert due_reminders(s, OFFSETS, DECISION_7D + timedelta(hours=5)).send == []
    assert next_reminder_at(s, OFFSETS, DECISION_7D) == DECISION_2D
    two = due_reminders(s, OFFSETS, DECISION_2D)
    assert [(r.clock, r.offset_days) for r in two.send] == [(ClockName.DECISION, 2)]
    assert request_for(s, two.send[0], DECISION_2D).days_left == 2
    s = mark_sent(s, [two.send[0].key])
    assert next_reminder_at(s, OFFSETS, DECISION_2D) == LABOUR_7D


def test_catching_up_sends_the_most_urgent_only() -> None:
    s = lodged()
    now = datetime(2026, 4, 14, 10, tzinfo=UTC)  # the day before the decision is due
    due = due_reminders(s, OFFSETS, now)
    assert [r.key for r in due.send] == ["c-1:decision:2026-04-15:2d"]
    assert due.passed_over == ["c-1:decision:2026-04-15:7d"]
    assert request_for(s, due.send[0], now).days_left == 1
    s = mark_sent(s, [*due.passed_over, *(r.key for r in due.send)])
    assert due_reminders(s, OFFSETS, now).send == []
    assert next_reminder_at(s, OFFSETS, now) == LABOUR_7D


def test_met_and_cancelled_deadlines_get_none() -> None:
    s = lodged()
    s = act(s, Action.DECIDE, date(2026, 4, 1), outcome=Outcome.REJECTED)
    # The decision met the decision clock and cancelled labour-market access: nothing is left.
    after = datetime(2026, 4, 2, tzinfo=UTC)
    assert planned_reminders(s, OFFSETS, after) == []
    assert due_reminders(s, OFFSETS, LABOUR_7D).send == []
    # Notification starts the 15-day appeal window (to 17 April), which is reminded of.
    s = act(s, Action.NOTIFY_DECISION, date(2026, 4, 2))
    assert keys(s, after) == ["c-1:appeal:2026-04-17:7d", "c-1:appeal:2026-04-17:2d"]
    s = act(s, Action.LODGE_APPEAL, date(2026, 4, 3))
    assert planned_reminders(s, OFFSETS, datetime(2026, 4, 4, tzinfo=UTC)) == []


def test_rescheduled_deadline_gets_new_reminders() -> None:
    s = lodged()
    sent = due_reminders(s, OFFSETS, DECISION_7D).send[0]
    s = mark_sent(s, [sent.key])
    s = act(s, Action.EXTEND_DEADLINE, date(2026, 4, 8), clock="decision", reason="complex")
    now = datetime(2026, 4, 8, 12, tzinfo=UTC)
    plan = [r for r in planned_reminders(s, OFFSETS, now) if r.clock is ClockName.DECISION]
    # 3 + 3 months from 15 January: 15 July 2026, a new date, so new reminders (7 and 2 days).
    assert [(r.due, r.offset_days) for r in plan] == [(LABOUR_DUE, 7), (LABOUR_DUE, 2)]
    assert sent.key not in {r.key for r in plan}
    assert due_reminders(s, OFFSETS, now).send == []


def test_paused_clocks_get_none_until_resumed() -> None:
    s = lodged()
    s = act(s, Action.PAUSE_CLOCK, date(2026, 3, 1), reason="absent", attributable_to="applicant")
    assert planned_reminders(s, OFFSETS, datetime(2026, 4, 14, tzinfo=UTC)) == []
    s = act(s, Action.RESUME_CLOCK, date(2026, 3, 11))
    # Ten days of pause move both clocks ten days later, with fresh reminders.
    plan = planned_reminders(s, OFFSETS, datetime(2026, 3, 12, tzinfo=UTC))
    assert {(r.clock, r.due) for r in plan} == {
        (ClockName.DECISION, date(2026, 4, 27)),
        (ClockName.LABOUR_MARKET_ACCESS, date(2026, 7, 25)),
    }


def test_closed_or_withdrawn_cases_get_none() -> None:
    s = act(lodged(), Action.WITHDRAW, date(2026, 2, 1))
    assert planned_reminders(s, OFFSETS, datetime(2026, 4, 14, tzinfo=UTC)) == []


def test_offsets_are_configurable() -> None:
    s = lodged()
    plan = planned_reminders(s, [14, -3, 14, 0], RECORDED)
    # Negative offsets are ignored, duplicates collapse; on the due day itself an act can still
    # be done, but an entitlement has already arrived at the start of its day.
    assert [(r.clock, r.offset_days) for r in plan] == [
        (ClockName.DECISION, 14),
        (ClockName.DECISION, 0),
        (ClockName.LABOUR_MARKET_ACCESS, 14),
    ]
    assert plan[1].at == datetime(2026, 4, 14, 22, tzinfo=UTC)


def test_mark_sent_copies_and_deduplicates() -> None:
    s = lodged()
    t = mark_sent(mark_sent(s, ["a", "b"]), ["b", "c"])
    assert t.reminders_sent == ["a", "b", "c"]
    assert s.reminders_sent == []


def test_a_new_org_is_owed_the_reminders_its_predecessor_got() -> None:
    now = datetime(2026, 4, 10, 10, tzinfo=UTC)  # after the 7-day reminder, before the 2-day
    sent = mark_sent(lodged(), ["c-1:decision:2026-04-15:7d"])
    assert due_reminders(sent, OFFSETS, now).send == []
    moved = act(sent, Action.ASSIGN_LEGAL_AID, date(2026, 4, 10), org="org-b")
    assert owed_anew(sent, moved)
    again = forget_sent(moved)
    assert moved.reminders_sent == ["c-1:decision:2026-04-15:7d"]  # a copy was changed
    [reminder] = due_reminders(again, OFFSETS, now).send
    assert (reminder.org, reminder.key) == ("org-b", "c-1:decision:2026-04-15:7d")
    assert request_for(again, reminder, now).days_left == 5
    # The same org again, no org, or nothing sent yet: nothing is owed anew.
    same = act(sent, Action.ASSIGN_LEGAL_AID, date(2026, 4, 10), org="org-a")
    assert not owed_anew(sent, same)
    assert not owed_anew(sent, act(sent, Action.ASSIGN_LEGAL_AID, date(2026, 4, 10), org=None))
    fresh = lodged()
    assert not owed_anew(fresh, act(fresh, Action.ASSIGN_LEGAL_AID, date(2026, 4, 10), org="b"))


def test_body_is_the_contract_and_nothing_more() -> None:
    request = ReminderRequest(
        key="c-1:appeal:2026-04-17:2d",
        case_id="c-1",
        org="org-a",
        clock=ClockName.APPEAL,
        due=date(2026, 4, 17),
        days_left=2,
    )
    assert json.loads(request.body()) == {
        "kind": "reminder",
        "case_id": "c-1",
        "clock": "appeal",
        "due": "2026-04-17",
        "days_left": 2,
    }
    assert request.body() == request.body()  # the same bytes on every retry


@pytest.fixture
def test_packs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The seconds-based test pack, for this test only."""
    folder = Path(__file__).resolve().parents[1] / "packs"
    monkeypatch.setattr(rules, "_pack_dirs", [*rules._pack_dirs, folder])
    rules.all_packs.cache_clear()
    yield
    monkeypatch.undo()
    rules.all_packs.cache_clear()


@pytest.mark.usefixtures("test_packs")
def test_clocks_in_seconds_get_none() -> None:
    s = new_case(
        case_id="c-2",
        family="tst",
        identified_on=date(2026, 1, 2),
        identified_at=IdentifiedAt.INLAND,
        unaccompanied_child=False,
        vulnerable=False,
        legal_aid_org="org-a",
        actor="officer",
        recorded_at=RECORDED,
    )
    s = act(s, Action.MAKE_APPLICATION, date(2026, 1, 2))
    s = act(s, Action.REGISTER, date(2026, 1, 2))
    s = act(s, Action.LODGE, date(2026, 1, 2))
    now = RECORDED + timedelta(seconds=1)
    assert {d.clock for d in s.deadlines(date(2026, 1, 15), now) if d.status == "running"}
    assert planned_reminders(s, OFFSETS, now) == []


# ---------------------------------------------------------------------------------------------
# Withdrawn reminders: what the record, as now known, said when a reminder was sent


def _recorded(state: CaseState, action: Action, on: date, at: datetime, **fields: Any) -> CaseState:
    """Record an act at instant `at` through the legal record (late acts re-derive)."""
    from models.legal_record import ActRequest, record_all

    request = ActRequest(action, input_model(action)(on=on, **fields), "cw")
    today = at.astimezone(rules.get_pack("rs-2023").tz).date()
    return record_all(state, [request], now=at, today=today).state


def _sent_7d(state: CaseState) -> tuple[CaseState, SentReminder]:
    """The decision clock's 7-day reminder, sent at its instant."""
    (reminder,) = due_reminders(state, [7], DECISION_7D).send
    return state, sent(request_for(state, reminder, DECISION_7D), DECISION_7D)


AFTER = datetime(2026, 4, 9, 10, tzinfo=UTC)
"""When the late acts below are recorded: the day after the 7-day reminder."""


def test_a_reminder_stands_while_the_record_bears_it_out() -> None:
    state, reminder = _sent_7d(lodged())
    assert reminder.due == DECISION_DUE and reminder.days_left == 7
    assert why_not_standing(state, reminder) is None
    # A contact before it, or a decision after it, changes nothing it said.
    contact = _recorded(state, Action.RECORD_CONTACT, date(2026, 3, 1), AFTER)
    assert why_not_standing(contact, reminder) is None
    later = _recorded(state, Action.DECIDE, date(2026, 4, 9), AFTER, outcome=Outcome.REJECTED)
    assert why_not_standing(later, reminder) is None
    assert stale_reminders(later, [reminder], date(2026, 4, 9)) == []


def test_a_decision_dated_before_the_reminder_withdraws_it() -> None:
    state, reminder = _sent_7d(lodged())
    decided = _recorded(state, Action.DECIDE, date(2026, 4, 2), AFTER, outcome=Outcome.REJECTED)
    assert why_not_standing(decided, reminder) == "met"
    assert stale_reminders(decided, [reminder], date(2026, 4, 2)) == [(reminder, "met")]
    # Once: a reminder already withdrawn is not withdrawn again.
    done = reminder.model_copy(update={"retracted": True})
    assert stale_reminders(decided, [done], date.min) == []
    # Acts of the reminder's own day recorded after it may have happened after it.
    same_day = _recorded(state, Action.DECIDE, date(2026, 4, 8), AFTER, outcome=Outcome.REJECTED)
    assert why_not_standing(same_day, reminder) is None


def test_a_correction_or_a_retraction_withdraws_it() -> None:
    state, reminder = _sent_7d(lodged())
    corrected = _recorded(
        state, Action.CORRECT_EVENT, date(2026, 4, 9), AFTER, event="lodged", date=date(2026, 1, 8)
    )
    assert why_not_standing(corrected, reminder) == "due_changed"
    lodge = next(e for e in state.history if e.action == "lodge")
    retracted = _recorded(
        state, Action.RETRACT_EVENT, date(2026, 4, 9), AFTER, seq=lodge.seq, reason="wrong case"
    )
    assert why_not_standing(retracted, reminder) == "clock_gone"


def test_the_retraction_body_is_signed_like_a_reminder() -> None:
    _, reminder = _sent_7d(lodged())
    request = retraction_for("c-1", reminder, "met")
    assert request.key == f"{reminder.key}:retracted"
    assert request.reminder_key == reminder.key
    assert json.loads(request.body()) == {
        "kind": "reminder_retracted",
        "case_id": "c-1",
        "clock": "decision",
        "due": "2026-04-15",
        "reason": "met",
    }
    assert (
        request.body()
        == json.dumps(request.payload(), separators=(",", ":"), sort_keys=True).encode()
    )
