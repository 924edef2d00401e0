"""The guards of the transition table: why an action is not allowed in a state, or None.

Beside `models.transitions`, which names them in its table, so that module stays one a reader
can hold in their head (the tracks of issue 20 have theirs in `models.track_guards`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from models.enums import ClockName, ClockStatus, Detention, Stage
from models.stages import NEGATIVE_FOR_APPEAL
from models.track_guards import may_close_track

if TYPE_CHECKING:
    # `models.case_state` builds on `models.transitions`, which imports this module.
    from models.case_state import CaseState

StateGuard = Callable[["CaseState"], str | None]
"""Returns why the action is not allowed in this state, or None."""


def needs(flag: str, message: str) -> StateGuard:
    """A guard: the state flag `flag` must be set, else `message`."""

    def guard(state: CaseState) -> str | None:
        return None if getattr(state, flag) else message

    return guard


def needs_not(flag: str, message: str) -> StateGuard:
    """A guard: the state flag `flag` must not be set, else `message`."""

    def guard(state: CaseState) -> str | None:
        return message if getattr(state, flag) else None

    return guard


def appeal_possible(state: CaseState) -> str | None:
    """An appeal needs a notified negative decision and a pack with an appeal."""
    if state.outcome not in NEGATIVE_FOR_APPEAL:
        return "an appeal needs a notified negative decision"
    if state.pack.clock_for(ClockName.APPEAL, state.situation()) is None:
        return f"pack {state.pack_id} has no appeal against this decision"
    return None


def no_appeal_clock(state: CaseState) -> str | None:
    """Only where no appeal window makes the decision final by itself."""
    # In `appeal_decided` the window that matters is the further appeal's (tracks, issue 20).
    further = state.stage is Stage.APPEAL_DECIDED
    rule = state.pack.clock_for(
        ClockName.FURTHER_APPEAL if further else ClockName.APPEAL, state.situation()
    )
    if rule is not None and rule.period is not None:
        kind = "a further appeal" if further else "an appeal"
        return f"pack {state.pack_id} has {kind} window: the decision becomes final when it ends"
    return None


def reopen_clock(state: CaseState) -> str | None:
    """Reopening needs a pack that provides it."""
    rule = state.pack.clock_for(ClockName.REOPEN_WINDOW, state.situation())
    if rule is None or rule.period is None:
        return f"pack {state.pack_id} provides no reopening; close the case instead"
    return None


def may_close(state: CaseState) -> str | None:
    """What must be done before a case in this stage may close."""
    match state.stage:
        case Stage.DISCONTINUED:
            rule = state.pack.clock_for(ClockName.REOPEN_WINDOW, state.situation())
            if rule is not None and rule.period is not None:
                return "the reopen window is still open; the case closes when it ends"
        case Stage.INTEGRATION if not state.permit_issued:
            return "the residence permit has not been issued yet"
        case Stage.RETURN if not state.departed:
            return "departure has not been recorded yet"
    return may_close_track(state)


def document_possible(state: CaseState) -> str | None:
    """Whether a document may be issued now."""
    if state.stage is Stage.INTEGRATION and not state.permit_issued:
        return "issue the residence permit first"
    return None


def is_detained(state: CaseState) -> str | None:
    """A detention (not an alternative) is in force."""
    return None if state.detention is Detention.DETAINED else "the person is not detained"


def pause_open(state: CaseState) -> str | None:
    """A pause is running."""
    return None if state.open_pause() is not None else "no clock is paused"


def no_pause_open(state: CaseState) -> str | None:
    """No pause is running."""
    return "a pause is already running; resume it first" if state.open_pause() else None


def represented_child(state: CaseState) -> str | None:
    """A representative is appointed once, for an unaccompanied child."""
    if not state.unaccompanied_child:
        return "a representative is appointed for an unaccompanied child only"
    return "a representative was already appointed" if state.representative_appointed else None


def referral_rule(state: CaseState) -> str | None:
    """Declining to apply ends the pre-application track only."""
    # Cases begun before issue #19 keep their rule: a referral only before the application.
    if not state.referral_keeps_stage and state.stage not in PRE_REFERRAL:
        return "a referral is recorded before the application only in this case"
    return None


PRE_REFERRAL = frozenset({Stage.IDENTIFIED, Stage.SCREENING})
"""Where a person may still decline to apply (`refer {to: none}`)."""


def interview_in_language(state: CaseState) -> str | None:
    """The scheduled interview is in a language."""
    if state.interview_language is None:
        return "the interview has no language: schedule it with one"
    return None


def extendable_clock(state: CaseState) -> str | None:
    """Some clock of the case may still be extended."""
    situation = state.situation()
    for name in state.pack.clock_names():
        rule = state.pack.clock_for(name, situation)
        if rule is None or not rule.can_extend(state.extensions.get(name, 0)):
            continue
        current = state.deadline(name, state.last_action_on)
        if current is not None and current.status in EXTENDABLE:
            return None
    return "no running clock of the case can be extended"


EXTENDABLE = (ClockStatus.RUNNING, ClockStatus.PAUSED, ClockStatus.EXPIRED)
"""Statuses of a clock that an extension can still move (the guard and the field check agree)."""


def responsibility_law(state: CaseState) -> str | None:
    """The pack carries the responsibility (Dublin/AMMR) procedure."""
    if ClockName.RESPONSIBILITY_REQUEST not in state.pack.clock_names():
        return f"pack {state.pack_id} has no responsibility (Dublin/AMMR) procedure"
    return None


RESPONSIBILITY_SOURCES = frozenset({Stage.LODGED, Stage.ADMISSIBILITY})
"""Where a responsibility request can be made: after lodging, before any decision."""
