"""The transition table: every action from every stage, and the lifecycle paths of domain.md."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import Enum
from functools import cache
from types import UnionType
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from models.actions import DecideAdmissibilityInput, input_model
from models.case_state import _CONTAINERS
from models.enums import (
    PUBLIC_EVENTS,
    Action,
    AgeOutcome,
    AppealResult,
    ClockName,
    ClockStatus,
    DocumentKind,
    IdentifiedAt,
    LegalEvent,
    Outcome,
    Procedure,
    ReferralTarget,
    Stage,
)
from models.legal_record import ActRequest, record
from models.lifecycle import (
    TRANSITIONS,
    CaseState,
    DomainError,
    InvalidInput,
    allowed_actions,
    apply,
    new_case,
    settle,
    why_not,
)
from models.rules import pack_contents

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
TODAY = date(2026, 11, 23)


def make_case(family: str = "rs", *, child: bool = False, on: date = date(2026, 1, 2)) -> CaseState:
    return new_case(
        case_id="t-1",
        family=family,
        identified_on=on,
        identified_at=IdentifiedAt.BORDER,
        unaccompanied_child=child,
        vulnerable=child,
        legal_aid_org=None,
        actor="officer",
        recorded_at=NOW,
    )


def act(state: CaseState, action: Action, **fields: Any) -> CaseState:
    payload = input_model(action)(**fields)
    return apply(state, action, payload, actor="caseworker", recorded_at=NOW, today=TODAY).state


def rec(state: CaseState, action: Action, **fields: Any) -> CaseState:
    """Record an act through the legal record (corrections, retractions, late acts)."""
    payload = input_model(action)(**fields)
    return record(state, ActRequest(action, payload, "caseworker"), now=NOW, today=TODAY).state


def lodged_case(family: str = "rs", *, child: bool = False) -> CaseState:
    s = make_case(family, child=child)
    s = act(s, Action.MAKE_APPLICATION, on=date(2026, 1, 3))
    s = act(s, Action.REGISTER, on=date(2026, 1, 5))
    return act(s, Action.LODGE, on=date(2026, 1, 15))


def decided_case(outcome: Outcome, family: str = "rs") -> CaseState:
    s = lodged_case(family)
    s = act(s, Action.SCHEDULE_INTERVIEW, on=date(2026, 2, 1), interview_on=date(2026, 2, 10))
    s = act(s, Action.RECORD_INTERVIEW, on=date(2026, 2, 10), attended=True)
    s = act(s, Action.DECIDE, on=date(2026, 3, 2), outcome=outcome)
    return act(s, Action.NOTIFY_DECISION, on=date(2026, 3, 3))


def _state_in(stage: Stage) -> CaseState:
    s = make_case()
    return s.model_copy(update={"stage": stage})


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("action", list(Action))
def test_every_action_from_every_stage(stage: Stage, action: Action) -> None:
    """Either the table allows the action or the error names the stage and the allowed actions."""
    state = _state_in(stage)
    allowed = allowed_actions(state)
    reason = why_not(state, action)
    in_table = stage in TRANSITIONS[action].sources
    if reason is None:
        assert in_table
        assert action in allowed
        return
    assert action not in allowed
    payload = input_model(action).model_construct(on=date(2026, 1, 2))
    with pytest.raises(DomainError) as info:
        apply(state, action, payload, actor="x", recorded_at=NOW, today=TODAY)
    assert info.value.stage is stage
    assert info.value.allowed_actions == allowed
    body = info.value.to_dict()
    assert body["stage"] == stage.value
    assert action.value in body["detail"]


def test_terminal_stages_allow_nothing_but_closing_withdrawn() -> None:
    assert allowed_actions(_state_in(Stage.CLOSED)) == []
    assert Action.CLOSE in allowed_actions(_state_in(Stage.WITHDRAWN))


def test_path_to_integration() -> None:
    s = decided_case(Outcome.REFUGEE_STATUS)
    settled = settle(s, NOW, recorded_at=NOW).state
    assert settled.stage is Stage.INTEGRATION
    assert settled.final
    s = act(settled, Action.ISSUE_PERMIT, on=date(2026, 5, 1))
    s = act(s, Action.ISSUE_PERSONAL_ID, on=date(2026, 5, 2))
    s = act(s, Action.ISSUE_DOCUMENT, on=date(2026, 5, 3), kind="convention_travel_document")
    s = act(s, Action.REQUEST_FAMILY_REUNIFICATION, on=date(2026, 5, 4))
    s = act(s, Action.CLOSE, on=date(2026, 6, 1))
    assert s.stage is Stage.CLOSED
    assert allowed_actions(s) == []


def test_path_to_assisted_voluntary_return() -> None:
    s = decided_case(Outcome.REJECTED)
    s = act(s, Action.LODGE_APPEAL, on=date(2026, 3, 10))
    s = act(s, Action.DECIDE_APPEAL, on=date(2026, 6, 1), result=AppealResult.DISMISSED)
    # rs: the further appeal's 30 days (to Wed 1 Jul) first; final on 2 Jul without a suit.
    assert s.stage is Stage.APPEAL_DECIDED and not s.final
    s = settle(s, NOW, recorded_at=NOW).state
    assert s.stage is Stage.RETURN and s.final and s.stage_since == date(2026, 7, 2)
    s = act(s, Action.START_RETURN, on=date(2026, 7, 2))
    s = act(s, Action.RECORD_RETURN_CONSENT, on=date(2026, 7, 3))
    s = act(s, Action.RECORD_RISK_ASSESSMENT, on=date(2026, 7, 4), at_risk=False)
    s = act(s, Action.RECORD_DEPARTURE, on=date(2026, 7, 10))
    with pytest.raises(DomainError, match="reintegration"):
        act(s, Action.CLOSE, on=date(2026, 7, 11))
    s = act(s, Action.RECORD_REINTEGRATION, on=date(2026, 9, 10))
    s = act(s, Action.CLOSE, on=date(2026, 9, 11))
    assert s.stage is Stage.CLOSED


def test_risk_found_sends_case_back_to_asylum() -> None:
    s = decided_case(Outcome.REJECTED)
    s = settle(s, NOW, recorded_at=NOW).state
    assert s.stage is Stage.RETURN
    s = act(s, Action.START_RETURN, on=date(2026, 6, 2))
    s = act(s, Action.RECORD_RETURN_CONSENT, on=date(2026, 6, 3))
    s = act(s, Action.RECORD_RISK_ASSESSMENT, on=date(2026, 6, 4), at_risk=True)
    assert s.stage is Stage.APPLICATION_MADE
    assert not s.final and "subsequent" in s.facts


def test_appeal_needs_notified_negative_decision() -> None:
    s = decided_case(Outcome.REFUGEE_STATUS)
    with pytest.raises(DomainError, match="negative decision"):
        act(s, Action.LODGE_APPEAL, on=date(2026, 3, 10))


def test_remand_goes_back_to_first_instance() -> None:
    s = decided_case(Outcome.REJECTED)
    s = act(s, Action.LODGE_APPEAL, on=date(2026, 3, 10))
    s = act(s, Action.DECIDE_APPEAL, on=date(2026, 5, 1), result=AppealResult.QUASHED_REMANDED)
    assert s.stage is Stage.LODGED and s.outcome is None
    s = act(s, Action.DECIDE, on=date(2026, 6, 1), outcome=Outcome.SUBSIDIARY_PROTECTION)
    s = act(s, Action.NOTIFY_DECISION, on=date(2026, 6, 2))
    appeal = s.deadline(ClockName.APPEAL, date(2026, 6, 3))
    assert appeal is not None and appeal.trigger_date == date(2026, 6, 2)


def test_substituted_appeal_needs_outcome_and_decides_track() -> None:
    s = decided_case(Outcome.REJECTED)
    s = act(s, Action.LODGE_APPEAL, on=date(2026, 3, 10))
    with pytest.raises(InvalidInput) as info:
        act(s, Action.DECIDE_APPEAL, on=date(2026, 5, 1), result=AppealResult.SUBSTITUTED)
    assert info.value.field == "outcome"
    s = act(
        s,
        Action.DECIDE_APPEAL,
        on=date(2026, 5, 1),
        result=AppealResult.SUBSTITUTED,
        outcome=Outcome.SUBSIDIARY_PROTECTION,
    )
    assert s.stage is Stage.INTEGRATION


@pytest.mark.parametrize("procedure", [Procedure.ACCELERATED, Procedure.BORDER])
def test_unaccompanied_child_not_in_accelerated_or_border(procedure: Procedure) -> None:
    s = lodged_case(child=True)
    with pytest.raises(DomainError, match="unaccompanied child"):
        act(s, Action.ASSIGN_PROCEDURE, on=date(2026, 1, 16), procedure=procedure)
    ok = act(s, Action.ASSIGN_PROCEDURE, on=date(2026, 1, 16), procedure=Procedure.REGULAR)
    assert ok.procedure is Procedure.REGULAR


def test_the_pack_says_which_procedures_a_child_is_exempt_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #19: `child_exempt_procedures` decides, not the code; an adult is never exempt."""
    s = lodged_case(child=True)
    lenient = s.pack.model_copy(update={"child_exempt_procedures": [Procedure.BORDER]})
    monkeypatch.setattr(CaseState, "pack", property(lambda _: lenient))
    ok = act(s, Action.ASSIGN_PROCEDURE, on=date(2026, 1, 16), procedure=Procedure.ACCELERATED)
    assert ok.procedure is Procedure.ACCELERATED
    with pytest.raises(DomainError, match="child_exempt_procedures"):
        act(s, Action.ASSIGN_PROCEDURE, on=date(2026, 1, 16), procedure=Procedure.BORDER)
    adult = act(s, Action.RECORD_AGE_ASSESSMENT, on=date(2026, 1, 16), outcome="adult")
    assert not adult.unaccompanied_child and "unaccompanied_child" not in adult.facts
    ok = act(adult, Action.ASSIGN_PROCEDURE, on=date(2026, 1, 16), procedure=Procedure.BORDER)
    assert ok.procedure is Procedure.BORDER


def test_reopening_only_inside_window() -> None:
    s = lodged_case("eu")  # lodged 15 Jan 2026: eu-2013, which has a 9-month reopen window
    s = act(s, Action.DISCONTINUE, on=date(2026, 2, 1))
    assert Action.REQUEST_REOPENING in allowed_actions(s)
    late = settle(s, NOW, recorded_at=NOW).state  # 23 Nov 2026: window ended 2 Nov
    assert late.stage is Stage.CLOSED
    inside = act(s, Action.REQUEST_REOPENING, on=date(2026, 4, 1))
    assert inside.stage is Stage.LODGED
    decision = inside.deadline(ClockName.DECISION, date(2026, 4, 2))
    assert decision is not None and decision.status is ClockStatus.RUNNING
    assert decision.pause_days == 59  # 1 Feb inclusive to 1 Apr exclusive


def test_no_reopen_clock_means_close() -> None:
    s = lodged_case("rs")
    s = act(s, Action.DISCONTINUE, on=date(2026, 2, 1))
    assert why_not(s, Action.REQUEST_REOPENING) is not None
    assert act(s, Action.CLOSE, on=date(2026, 2, 2)).stage is Stage.CLOSED


def test_referral_and_screening() -> None:
    s = make_case("eu")
    s = act(s, Action.COMPLETE_SCREENING, on=date(2026, 1, 3))
    # A referral to a service keeps the stage (issue #19); declining to apply moves it.
    s = act(s, Action.REFER, on=date(2026, 1, 3), to=ReferralTarget.CHILD_PROTECTION)
    assert s.stage is Stage.SCREENING
    assert [r.to for r in s.referrals] == [ReferralTarget.CHILD_PROTECTION]
    s = act(s, Action.REFER, on=date(2026, 1, 3), to=ReferralTarget.NONE)
    assert s.stage is Stage.REFERRED
    assert act(s, Action.CLOSE, on=date(2026, 1, 4)).stage is Stage.CLOSED


def test_a_referral_is_answered_after_it_is_made() -> None:
    s = act(make_case("eu"), Action.REFER, on=date(2026, 1, 5), to=ReferralTarget.MEDICAL_CARE)
    (referral,) = s.referrals
    with pytest.raises(InvalidInput) as early:
        act(
            s,
            Action.RECORD_REFERRAL_OUTCOME,
            on=date(2026, 1, 4),
            referral=referral.id,
            acknowledged=True,
        )
    assert early.value.field == "on"
    s = act(
        s,
        Action.RECORD_REFERRAL_OUTCOME,
        on=date(2026, 1, 6),
        referral=referral.id,
        outcome="declined",
    )
    assert (s.referrals[0].outcome, s.referrals[0].acknowledged_on) == ("declined", None)


def test_cases_begun_before_issue_19_keep_the_old_referral_rule() -> None:
    s = make_case("eu").model_copy(update={"referral_keeps_stage": False})
    s = act(s, Action.REFER, on=date(2026, 1, 3), to=ReferralTarget.CHILD_PROTECTION)
    assert s.stage is Stage.REFERRED


def test_explicit_withdrawal_closes() -> None:
    s = act(lodged_case(), Action.WITHDRAW, on=date(2026, 2, 1))
    assert s.stage is Stage.WITHDRAWN
    decision = s.deadline(ClockName.DECISION, TODAY)
    assert decision is not None and decision.status is ClockStatus.CANCELLED
    assert act(s, Action.CLOSE, on=date(2026, 2, 2)).stage is Stage.CLOSED


def test_on_in_future_or_before_what_it_follows_is_invalid() -> None:
    s = lodged_case()
    with pytest.raises(InvalidInput) as future:
        act(s, Action.RECORD_CONTACT, on=date(2027, 1, 1))
    assert future.value.field == "on"
    # A side act may be dated back to the identification, not before it.
    assert rec(s, Action.RECORD_CONTACT, on=date(2026, 1, 2)).last_contact_on == date(2026, 1, 15)
    with pytest.raises(InvalidInput) as before_identified:
        rec(s, Action.RECORD_CONTACT, on=date(2026, 1, 1))
    assert before_identified.value.field == "on"
    # An act the stage allows, dated before the act it follows (lodging, 15 Jan): 422 on `on`.
    with pytest.raises(InvalidInput) as before_lodging:
        rec(s, Action.DECIDE, on=date(2026, 1, 14), outcome="rejected")
    assert before_lodging.value.field == "on"


def test_abandonment_watch_and_lifting() -> None:
    s = lodged_case()
    # No contact since lodging (15 Jan); 30 days later the case is presumed abandoned.
    s = settle(s, datetime(2026, 2, 20, tzinfo=UTC), recorded_at=NOW).state
    assert s.presumed_abandoned and s.abandoned_since == date(2026, 2, 14)
    assert s.stage is Stage.LODGED  # never discontinued automatically
    lifted = act(s, Action.RECORD_CONTACT, on=date(2026, 2, 21))
    assert not lifted.presumed_abandoned
    assert [e.action for e in lifted.history[-2:]] == ["record_contact", "abandonment_lifted"]
    confirmed = act(s, Action.REVIEW_ABANDONMENT, on=date(2026, 2, 21), confirm=True)
    assert confirmed.stage is Stage.DISCONTINUED


def test_pause_and_resume_moves_labour_market_date() -> None:
    s = lodged_case()
    before = s.deadline(ClockName.LABOUR_MARKET_ACCESS, date(2026, 2, 1))
    assert before is not None and before.due == date(2026, 7, 15)
    s = act(
        s, Action.PAUSE_CLOCK, on=date(2026, 3, 1), reason="documents", attributable_to="applicant"
    )
    s = act(s, Action.RESUME_CLOCK, on=date(2026, 3, 11))
    after = s.deadline(ClockName.LABOUR_MARKET_ACCESS, date(2026, 3, 12))
    assert after is not None and after.due == date(2026, 7, 25) and after.pause_days == 10


def test_authority_pause_moves_nothing() -> None:
    s = lodged_case()
    s = act(s, Action.PAUSE_CLOCK, on=date(2026, 3, 1), reason="staff", attributable_to="authority")
    s = act(s, Action.RESUME_CLOCK, on=date(2026, 3, 11))
    after = s.deadline(ClockName.LABOUR_MARKET_ACCESS, date(2026, 3, 12))
    assert after is not None and after.due == date(2026, 7, 15)


def test_correct_lodging_date_repins_pack() -> None:
    s = make_case("eu", on=date(2026, 6, 1))
    s = act(s, Action.MAKE_APPLICATION, on=date(2026, 6, 1))
    s = act(s, Action.REGISTER, on=date(2026, 6, 3))
    s = act(s, Action.LODGE, on=date(2026, 6, 10))
    assert s.pack_id == "eu-2013" and s.pack_pinned
    s = rec(s, Action.CORRECT_EVENT, on=date(2026, 6, 20), event="lodged", date=date(2026, 6, 12))
    assert s.pack_id == "eu-2024"
    lma = s.deadline(ClockName.LABOUR_MARKET_ACCESS, date(2026, 6, 20))
    assert lma is not None and lma.due == date(2026, 12, 3) and lma.recomputed_at_lodging


def test_extension_steps_and_cap() -> None:
    s = lodged_case()  # rs: 3 months, +3, +3, cap 12
    s = act(s, Action.EXTEND_DEADLINE, on=date(2026, 4, 1), clock="decision", reason="complex")
    s = act(s, Action.EXTEND_DEADLINE, on=date(2026, 4, 2), clock="decision", reason="exceptional")
    d = s.deadline(ClockName.DECISION, date(2026, 4, 3))
    assert d is not None and d.period == "9 months" and d.due == date(2026, 10, 15)
    with pytest.raises(DomainError, match="no running clock"):
        act(s, Action.EXTEND_DEADLINE, on=date(2026, 4, 3), clock="decision", reason="again")


def test_wakeup_includes_clocks_due_but_not_yet_settled() -> None:
    """A clock that fell due while the workflow was busy must still wake it (no lost timers)."""
    from models.lifecycle import next_wakeup

    s = lodged_case()  # rs: labour-market access due 15 Jul 2026 (start of day, Belgrade)
    s = s.model_copy(update={"last_contact_on": date(2026, 11, 1)})
    late = datetime(2026, 8, 1, tzinfo=UTC)
    wake_at, what = next_wakeup(s, late)
    assert what is not None
    assert wake_at is not None and wake_at <= late
    settled = settle(s, late, recorded_at=late).state
    wake_after, _ = next_wakeup(settled, late)
    assert wake_after is None or wake_after > late


# --------------------------------------------------------------------------------------------
# Copy-on-write: `apply` and `settle` share recorded items with the state they start from, so
# nothing may change the state they were given (bench/RESULTS.md §3).

Body = dict[str, Any]


def _bodies(action: Action, state: CaseState) -> list[Body]:
    """Valid bodies of `action` for `state`, one per branch its effect can take."""
    on = state.last_action_on
    match action:
        case Action.REFER:
            return [{"to": ReferralTarget.ASYLUM}, {"to": ReferralTarget.MEDICAL_CARE}] + (
                [{"to": ReferralTarget.NONE}]
                if state.stage in (Stage.IDENTIFIED, Stage.SCREENING)
                else []
            )
        case Action.MAKE_APPLICATION:
            return [{}, {"to_other_authority": True, "mass_influx": True}]
        case Action.LODGE:
            return [{}, {"subsequent": True}]
        case Action.ASSIGN_PROCEDURE:
            return [
                {"procedure": Procedure.ADMISSIBILITY, "grounds": "safe third country"},
                {"procedure": Procedure.BORDER},
            ]
        case Action.DECIDE_ADMISSIBILITY:
            return [{"admissible": True}, {"admissible": False, "ground": "first country"}]
        case Action.SCHEDULE_INTERVIEW:
            return [
                {"interview_on": on + timedelta(days=5)},
                {"interview_on": on + timedelta(days=5), "language": "fa"},
                {"interview_on": on + timedelta(days=5), "language": "fa", "interpreter": "i-1"},
            ]
        case Action.RECORD_INTERVIEW:
            return [
                {"attended": True},
                {"attended": False},
                {"attended": False, "missed_by": "authority"},
            ]
        case Action.EXTEND_DEADLINE:
            return [{"clock": c, "reason": "complex"} for c in state.pack.clock_names()]
        case Action.DECIDE:
            return [
                {"outcome": Outcome.REJECTED},
                {"outcome": Outcome.REFUGEE_STATUS, "grounds": "x"},
            ]
        case Action.DECIDE_APPEAL:
            return [
                {"result": AppealResult.DISMISSED},
                {"result": AppealResult.QUASHED_REMANDED},
                {"result": AppealResult.SUBSTITUTED, "outcome": Outcome.SUBSIDIARY_PROTECTION},
            ]
        case Action.REVIEW_ABANDONMENT:
            return [{"confirm": True}, {"confirm": False}]
        case Action.MIGRATE_RULES:
            # Every other content of the pinned pack (a superseded one, in these states).
            return [
                {"pack": state.pack_id, "to_digest": p.digest}
                for p in pack_contents(state.pack_id)
                if p.digest != state.pack.digest
            ]
        case Action.PAUSE_CLOCK:
            return [
                {"reason": "documents", "attributable_to": "applicant"},
                {"reason": "staff", "attributable_to": "authority", "clocks": ["decision"]},
            ]
        case Action.CORRECT_EVENT:
            events = {o.event for o in state.occurrences} & set(PUBLIC_EVENTS)
            return [{"event": e, "date": last.on} for e in events if (last := state.last(e))]
        case Action.ISSUE_DOCUMENT:
            in_procedure = state.stage is not Stage.INTEGRATION
            return [
                {"kind": k}
                for k in DocumentKind
                if (k is DocumentKind.APPLICANT_DOCUMENT) == in_procedure
            ]
        case Action.RECORD_RISK_ASSESSMENT:
            return [{"at_risk": False}, {"at_risk": True}]
        case Action.ASSIGN_CASEWORKER:
            return [{"user": "caseworker-2"}]
        case Action.ASSIGN_LEGAL_AID:
            return [{"org": "ngo-2"}]
        case Action.RECORD_MONITOR_CONSENT:
            return [{"given": True}, {"given": False}]
        # Protection track (issue #19)
        case Action.COMPLETE_SCREENING:
            return [{}, {"needs": ["unaccompanied_child", "torture_survivor"]}]
        case Action.RECORD_VULNERABILITY:
            return [
                {"kind": "unaccompanied_child", "present": True},
                {"kind": "unaccompanied_child", "present": False},
                {"kind": "pregnancy", "present": True},
            ]
        case Action.RECORD_REFERRAL_OUTCOME:
            return [
                {"referral": r.id, "acknowledged": True, "outcome": "accepted"}
                for r in state.referrals[:1]
            ]
        case Action.RECORD_INFORMATION_GIVEN:
            return [{"language": "ar", "form": "written"}]
        case Action.ASSIGN_INTERPRETER:
            return [{"interpreter": "interp-1"}]
        case Action.RECORD_AGE_ASSESSMENT:
            return [{"outcome": o} for o in AgeOutcome] + [
                {"outcome": "minor", "unaccompanied": True}
            ]
        case Action.ASSIGN_ACCOMMODATION:
            return [{"centre": "centre-1"}]
        case Action.ORDER_DETENTION:
            return [{"alternative": False}, {"alternative": True}]
        case Action.REVIEW_DETENTION:
            return [{"continued": True}, {"continued": False}]
        case Action.DECIDE_FURTHER_APPEAL:
            return [
                {"result": AppealResult.DISMISSED},
                {"result": AppealResult.QUASHED_REMANDED},
                {"result": AppealResult.SUBSTITUTED, "outcome": Outcome.REFUGEE_STATUS},
            ]
        case Action.REFUSE_RETURN_CONSENT:
            return [{"withdrawn": False}, {"withdrawn": True}]
        case Action.SUBMIT_FOR_RESETTLEMENT:
            return [{"to_state": "SE"}]
        case Action.DECIDE_RESETTLEMENT:
            return [{"accepted": True}, {"accepted": False}]
        case Action.DECIDE_FAMILY_REUNIFICATION:
            return [{"outcome": "granted"}, {"outcome": "refused"}]
        case Action.RECORD_RETURN_DECISION:
            return [{}, {"departure_days": 30}, {"departure_days": 3}]
        case Action.REQUEST_TAKE_CHARGE | Action.REQUEST_TAKE_BACK:
            return [{"to_state": "DE"}, {"to_state": "AT", "eurodac_hit_on": on}]
        case Action.RECORD_RESPONSIBILITY_REPLY:
            return [{"accepted": True}, {"accepted": False}]
        case _:
            return [{}]


@cache
def _representative_states() -> dict[str, CaseState]:
    """Cases in every stage reached the real way, with pauses, flags and settled clocks."""
    states: dict[str, CaseState] = {f"stage {s.value}": _state_in(s) for s in Stage}
    fresh = make_case()
    states["screened"] = act(fresh, Action.COMPLETE_SCREENING, on=date(2026, 1, 3))
    states["child lodged"] = lodged_case(child=True)
    lodged = lodged_case()
    states["lodged"] = lodged
    # Protection track (issue #19): a referral awaiting its answer, an interview in a language.
    states["referred to medical care"] = act(
        lodged, Action.REFER, on=date(2026, 1, 16), to=ReferralTarget.MEDICAL_CARE
    )
    states["interview waiting for an interpreter"] = act(
        lodged,
        Action.SCHEDULE_INTERVIEW,
        on=date(2026, 2, 1),
        interview_on=date(2026, 2, 10),
        language="ps",
    )
    states["admissibility"] = act(
        lodged, Action.ASSIGN_PROCEDURE, on=date(2026, 1, 16), procedure=Procedure.ADMISSIBILITY
    )
    scheduled = act(
        lodged, Action.SCHEDULE_INTERVIEW, on=date(2026, 2, 1), interview_on=date(2026, 2, 10)
    )
    states["interview scheduled"] = scheduled
    interviewed = act(scheduled, Action.RECORD_INTERVIEW, on=date(2026, 2, 10), attended=True)
    states["interviewed"] = interviewed
    states["decided"] = act(interviewed, Action.DECIDE, on=date(2026, 3, 2), outcome="rejected")
    paused = act(
        lodged, Action.PAUSE_CLOCK, on=date(2026, 2, 1), reason="docs", attributable_to="applicant"
    )
    states["paused"] = paused
    states["absconded"] = act(lodged, Action.REPORT_ABSCONDED, on=date(2026, 2, 1))
    # Issue #19 (protection track b): accommodated, detained, in an alternative to detention.
    states["accommodated"] = act(
        lodged, Action.ASSIGN_ACCOMMODATION, on=date(2026, 1, 16), centre="centre-1"
    )
    states["detained"] = act(lodged, Action.ORDER_DETENTION, on=date(2026, 1, 16))
    states["alternative to detention"] = act(
        lodged, Action.ORDER_DETENTION, on=date(2026, 1, 16), alternative=True
    )
    states["presumed abandoned"] = settle(
        lodged, datetime(2026, 2, 20, tzinfo=UTC), recorded_at=NOW
    ).state
    rejected = decided_case(Outcome.REJECTED)
    states["notified negative"] = rejected
    states["notified positive"] = decided_case(Outcome.REFUGEE_STATUS)
    states["notified, no appeal window"] = decided_case(Outcome.REJECTED, "eu")
    states["appeal lodged"] = act(rejected, Action.LODGE_APPEAL, on=date(2026, 3, 10))
    states["discontinued, reopen window"] = act(
        lodged_case("eu"), Action.DISCONTINUE, on=date(2026, 2, 1)
    )
    integration = settle(decided_case(Outcome.REFUGEE_STATUS), NOW, recorded_at=NOW).state
    states["integration"] = integration
    states["permit issued"] = act(integration, Action.ISSUE_PERMIT, on=date(2026, 11, 23))
    ret = settle(rejected, NOW, recorded_at=NOW).state
    states["return"] = ret
    ret = act(ret, Action.START_RETURN, on=date(2026, 11, 23))
    states["return counselling"] = ret
    ret = act(ret, Action.RECORD_RETURN_CONSENT, on=date(2026, 11, 23))
    states["return consent"] = ret
    ret = act(ret, Action.RECORD_RISK_ASSESSMENT, on=date(2026, 11, 23), at_risk=False)
    states["risk assessed"] = ret
    states["departed"] = act(ret, Action.RECORD_DEPARTURE, on=date(2026, 11, 23))
    # Tracks around a decision (issue 20): the further appeal and a refused AVRR.
    appeal_decided = act(
        states["appeal lodged"],
        Action.DECIDE_APPEAL,
        on=date(2026, 11, 2),
        result=AppealResult.DISMISSED,
    )
    states["appeal decided"] = appeal_decided
    states["further appeal lodged"] = act(
        appeal_decided, Action.LODGE_FURTHER_APPEAL, on=date(2026, 11, 20)
    )
    states["return refused"] = act(
        states["return counselling"], Action.REFUSE_RETURN_CONSENT, on=date(2026, 11, 23)
    )
    pl_return = settle(decided_case(Outcome.REJECTED, "pl"), NOW, recorded_at=NOW).state
    states["pl return"] = pl_return
    states["tolerated"] = act(pl_return, Action.GRANT_TOLERATION, on=date(2026, 11, 23))
    resettlement = act(make_case(), Action.IDENTIFY_FOR_RESETTLEMENT, on=date(2026, 1, 3))
    states["resettlement"] = resettlement
    submitted = act(
        resettlement, Action.SUBMIT_FOR_RESETTLEMENT, on=date(2026, 2, 1), to_state="SE"
    )
    states["submitted for resettlement"] = submitted
    states["accepted for resettlement"] = act(
        submitted, Action.DECIDE_RESETTLEMENT, on=date(2026, 4, 1), accepted=True
    )
    states["family reunification requested"] = act(
        states["permit issued"], Action.REQUEST_FAMILY_REUNIFICATION, on=date(2026, 11, 23)
    )
    # Responsibility procedure (issue 20): EU law, so an eu case.
    eu_lodged = lodged_case("eu")
    states["eu lodged"] = eu_lodged
    requested = act(eu_lodged, Action.REQUEST_TAKE_CHARGE, on=date(2026, 2, 1), to_state="DE")
    states["responsibility requested"] = requested
    states["transfer pending"] = act(
        requested, Action.RECORD_RESPONSIBILITY_REPLY, on=date(2026, 2, 10), accepted=True
    )
    return states


@pytest.mark.parametrize(
    "action", [a for a in TRANSITIONS if a not in (Action.CORRECT_EVENT, Action.RETRACT_EVENT)]
)
def test_apply_leaves_the_state_it_was_given_unchanged(action: Action) -> None:
    """Every action, on every state that allows it, in every branch: the input state is intact.

    Also when the effect rejects the action after recording it on the copy (an unaccompanied
    child in the border procedure, say). The copy shares the recorded events, so its cost does
    not grow with the history.
    """
    accepted = 0
    for name, state in _representative_states().items():
        if why_not(state, action) is not None:
            continue
        for body in _bodies(action, state):
            before = state.model_copy(deep=True)
            dumped = state.model_dump(mode="json")
            payload = input_model(action)(on=state.last_action_on, **body)
            try:
                applied = apply(state, action, payload, actor="x", recorded_at=NOW, today=TODAY)
            except (DomainError, InvalidInput):
                pass
            else:
                accepted += 1
                new = applied.state
                assert new is not state
                for field in ("history", "occurrences", "pauses", "facts", "settled_clocks"):
                    assert getattr(new, field) is not getattr(state, field), (name, field)
                assert all(a is b for a, b in zip(state.history, new.history, strict=False))
                assert new.history[: len(state.history)] == state.history
                # The new state is whole: changing it further (as `settle` does) is safe too.
                settle(new, NOW, recorded_at=NOW)
            assert state == before, (name, body)
            assert state.model_dump(mode="json") == dumped, (name, body)
    assert accepted, f"no representative state accepts {action.value}"


def test_settle_with_nothing_due_returns_the_same_state() -> None:
    s = lodged_case()  # lodged 15 Jan 2026: nothing falls due before February
    now = datetime(2026, 1, 20, 12, tzinfo=UTC)
    settled = settle(s, now, recorded_at=now)
    assert settled.state is s
    assert settled.events == []


def test_settle_with_something_due_leaves_the_input_unchanged() -> None:
    s = decided_case(Outcome.REJECTED)
    before = s.model_copy(deep=True)
    settled = settle(s, NOW, recorded_at=NOW)
    assert settled.events and settled.state is not s
    assert settled.state.stage is Stage.RETURN
    assert s == before
    assert settled.state.history[: len(s.history)] == s.history
    # Settled again at the same instant, nothing more is due: the same object comes back.
    again = settle(settled.state, NOW, recorded_at=NOW)
    assert again.state is settled.state and again.events == []


def test_recorded_items_are_frozen() -> None:
    s = lodged_case()
    with pytest.raises(ValidationError):
        s.history[0].note = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.occurrences[0].on = TODAY  # type: ignore[misc]
    paused = act(
        s, Action.PAUSE_CLOCK, on=date(2026, 2, 1), reason="x", attributable_to="applicant"
    )
    with pytest.raises(ValidationError):
        paused.pauses[0].end = TODAY  # type: ignore[misc]


def _immutable(tp: Any) -> bool:
    """Whether values of type `tp` cannot change in place (scalars, enums, frozen models)."""
    if get_origin(tp) in (Union, UnionType, tuple):
        return all(_immutable(a) for a in get_args(tp))
    if tp in (str, int, bool, float, date, datetime, type(None)):
        return True
    if isinstance(tp, type) and issubclass(tp, Enum):
        return True
    return (
        isinstance(tp, type) and issubclass(tp, BaseModel) and bool(tp.model_config.get("frozen"))
    )


def test_case_state_holds_only_immutable_items() -> None:
    """What `fork` relies on: every field is immutable, or a list/dict of immutable items."""
    for name, info in CaseState.model_fields.items():
        tp = info.annotation
        if get_origin(tp) in (list, dict):
            assert name in _CONTAINERS, name
            assert all(_immutable(a) for a in get_args(tp)), name
        else:
            assert _immutable(tp), name


def test_amended_events_are_replaced_not_changed() -> None:
    """An effect that completes its own event (inadmissible, corrected) replaces it in history."""
    s = act(lodged_case(), Action.ASSIGN_PROCEDURE, on=date(2026, 1, 16), procedure="admissibility")
    decided = apply(
        s,
        Action.DECIDE_ADMISSIBILITY,
        DecideAdmissibilityInput(on=date(2026, 1, 20), admissible=False),
        actor="x",
        recorded_at=NOW,
        today=TODAY,
    )
    assert [e.data for e in decided.events] == [{"admissible": False, "outcome": "inadmissible"}]
    assert decided.events[0] is decided.state.history[-1]
    corrected = rec(
        s, Action.CORRECT_EVENT, on=date(2026, 1, 20), event="lodged", date=date(2026, 1, 14)
    )
    correction = next(e for e in corrected.history if e.action == "correct_event")
    assert correction.data == {
        "event": "lodged",
        "date": "2026-01-14",
        "previous_date": "2026-01-15",
    }
    abandoned = settle(lodged_case(), datetime(2026, 2, 20, tzinfo=UTC), recorded_at=NOW).state
    confirmed = act(abandoned, Action.REVIEW_ABANDONMENT, on=date(2026, 2, 21), confirm=True)
    assert confirmed.history[-1].event is LegalEvent.DISCONTINUED
    # Occurrences are numbered in legal order (the clocks' order), not by the history's seq.
    assert confirmed.occurrences[-1].event is LegalEvent.DISCONTINUED
    assert [o.seq for o in confirmed.occurrences] == list(range(1, len(confirmed.occurrences) + 1))
