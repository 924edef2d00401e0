"""Tracks around a decision (issue 20): what their actions do to a case.

Beside `models.effects`, whose table of effects names these, so that module stays one a reader
can hold in their head. Each has the signature of an `Effect`.
"""

from __future__ import annotations

from typing import Any

from models.actions import (
    ActionInput,
    DecideFamilyReunificationInput,
    DecideResettlementInput,
    RecordReturnDecisionInput,
    SubmitForResettlementInput,
)
from models.case_state import CaseEvent, CaseState, amend, occur
from models.enums import ClockName, LegalEvent


def family_reunification(state: CaseState, p: ActionInput, entry: CaseEvent, *_: Any) -> None:
    """`request_family_reunification`: the flag, and the decision clock where the pack has one."""
    state.family_reunification_requested = True
    if state.pack.clock_for(ClockName.FAMILY_REUNIFICATION, state.situation()) is not None:
        # Starts the decision clock (tracks, issue 20). Only under a pack with it, so that
        # older histories' requests record nothing new.
        amend(state, entry, event=LegalEvent.FAMILY_REUNIFICATION_REQUESTED)
        occur(state, LegalEvent.FAMILY_REUNIFICATION_REQUESTED, p.on, entry.recorded_at)


def identify_for_resettlement(state: CaseState, *_: Any) -> None:
    """`identify_for_resettlement`: the case enters the resettlement stage (the table's target)."""
    # A referral or screening flag of the pre-application stages no longer applies.
    state.presumed_abandoned, state.abandoned_since = False, None


def submit_for_resettlement(state: CaseState, p: SubmitForResettlementInput, *_: Any) -> None:
    """`submit_for_resettlement`: the state submitted to; its answer is awaited."""
    state.resettlement_to, state.resettlement_accepted = p.to_state, None


def decide_resettlement(state: CaseState, p: DecideResettlementInput, *_: Any) -> None:
    """`decide_resettlement`: the resettlement state's answer."""
    state.resettlement_accepted = p.accepted


def record_resettlement_departure(state: CaseState, *_: Any) -> None:
    """`record_resettlement_departure`: resettled (Eurostat counts the person on this day)."""
    state.resettled = True


def decide_family_reunification(
    state: CaseState, p: DecideFamilyReunificationInput, *_: Any
) -> None:
    """`decide_family_reunification`: granted or refused (meets the decision clock)."""
    state.family_reunification_outcome = p.outcome


def refuse_return_consent(state: CaseState, *_: Any) -> None:
    """`refuse_return_consent`: AVRR refused or consent withdrawn."""
    # The return goes on without assistance; a risk check already recorded stays valid.
    state.return_consent = False
    state.return_refused = True


def record_departure(state: CaseState, p: ActionInput, entry: CaseEvent, *_: Any) -> None:
    """`record_departure`: departed; meets the voluntary departure period after a decision."""
    state.departed = True
    if state.return_decided:
        # Meets the voluntary departure period (tracks, issue 20). Only after a recorded return
        # decision, so that older histories' departures record nothing new.
        amend(state, entry, event=LegalEvent.DEPARTED)
        occur(state, LegalEvent.DEPARTED, p.on, entry.recorded_at)


def record_return_decision(
    state: CaseState, p: RecordReturnDecisionInput, entry: CaseEvent, *_: Any
) -> None:
    """`record_return_decision`: starts the voluntary departure period it fixes, if any."""
    state.return_decided = True
    entry = amend(state, entry, event=LegalEvent.RETURN_DECIDED)
    occur(state, LegalEvent.RETURN_DECIDED, p.on, entry.recorded_at, days=p.departure_days)
