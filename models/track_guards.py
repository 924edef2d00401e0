"""Tracks around a decision (issue 20): the guards and the field check of their actions.

Beside `models.transitions`, which reads them in its table, so that module stays one a reader
can hold in their head. Each guard returns why the action is not allowed, or None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.enums import ClockName, LegalEvent, Stage
from models.errors import InvalidInput

if TYPE_CHECKING:
    # `models.case_state` builds on `models.transitions`, which imports this module.
    from models.case_state import CaseState


def toleration_in_law(state: CaseState) -> str | None:
    """Toleration needs a pack whose law has such a status."""
    if state.pack.toleration is None:
        return f"pack {state.pack_id} has no status for persons who cannot be returned"
    return None


def reunification_pending(state: CaseState) -> str | None:
    """A family reunification request awaits its decision."""
    if not state.family_reunification_requested:
        return "no family reunification was requested"
    if state.family_reunification_outcome is not None:
        return "the family reunification application is already decided"
    return None


def may_submit_for_resettlement(state: CaseState) -> str | None:
    """Not while a submission awaits its answer, nor after an acceptance."""
    if state.resettlement_to is not None and state.resettlement_accepted is None:
        return f"the submission to {state.resettlement_to} awaits its answer"
    if state.resettlement_accepted:
        return "a resettlement state has accepted the case"
    return None


def resettlement_submitted(state: CaseState) -> str | None:
    """A submission to a resettlement state awaits its answer."""
    if state.resettlement_to is None or state.resettlement_accepted is not None:
        return "no submission to a resettlement state awaits an answer"
    return None


def consent_or_refusal(state: CaseState) -> str | None:
    """The risk check follows the AVRR consent, or its refusal (a return without assistance)."""
    if state.return_consent or state.return_refused:
        return None
    return "record the return consent, or its refusal, first"


def validate_departure_days(state: CaseState, days: int) -> None:
    """The period a return decision fixes lies within the pack's bounds (422 otherwise)."""
    rule = state.pack.clock_for(ClockName.VOLUNTARY_DEPARTURE, state.situation())
    bounds = rule.days_bounds() if rule is not None else None
    if rule is None or bounds is None:
        raise InvalidInput(
            "departure_days",
            f"pack {state.pack_id} sets no period for voluntary departure; leave it out",
        )
    low, high = bounds
    if not low <= days <= high:
        raise InvalidInput(
            "departure_days",
            f"the period for voluntary departure is {low} to {high} days ({rule.citation})",
        )


def may_close_track(state: CaseState) -> str | None:
    """What a track still waits for before its case may close (None: nothing)."""
    match state.stage:
        case Stage.INTEGRATION if (
            # Only where the request started the pack's decision clock.
            state.last(LegalEvent.FAMILY_REUNIFICATION_REQUESTED) is not None
            and state.family_reunification_outcome is None
        ):
            return "the family reunification application has not been decided yet"
        case Stage.RESETTLEMENT if state.resettlement_accepted and not state.resettled:
            return "accepted for resettlement: record the departure first"
        case Stage.RESETTLEMENT if (
            state.resettlement_to is not None and state.resettlement_accepted is None
        ):
            return f"the submission to {state.resettlement_to} awaits its answer"
        case Stage.RETURN if state.assisted_departure and not state.reintegrated:
            # An assisted return's reintegration support started with the departure; the case
            # stays open until its follow-up is recorded.
            return "the assisted return's reintegration follow-up has not been recorded yet"
    return None
