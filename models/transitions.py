"""What may happen in which stage: the one transition table, its guards and the field checks.

`TRANSITIONS` is the single source of truth for what may happen in which stage. The workflow's
update validators, the API's `allowed_actions` and the docs all read it. A guard or the table
refusing an action is a conflict with the case (`DomainError`, 409); `validate_input` checks the
fields that depend on the case (`InvalidInput`, 422).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from models.actions import (
    ActionInput,
    CorrectEventInput,
    DecideAppealInput,
    DecideInput,
    ExtendDeadlineInput,
    MigrateRulesInput,
    PauseClockInput,
    ResponsibilityRequestInput,
    ScheduleInterviewInput,
    input_model,
)
from models.enums import Action, AppealResult, ClockName, ClockStatus, LegalEvent, Outcome, Stage
from models.errors import DomainError, InvalidInput
from models.rules import PackError, get_pack
from models.stages import (
    EXAMINATION,
    IN_PROCEDURE,
    NEGATIVE_FOR_APPEAL,
    OPEN_STAGES,
    PRE_APPLICATION,
    TERMINAL_STAGES,
)

if TYPE_CHECKING:
    # Only for the annotations: `models.case_state` builds on this module (a clock ends with the
    # stages `CLOCK_ACT_STAGES` names), so importing it here at run time would be a cycle.
    from models.case_state import CaseState

StateGuard = Callable[["CaseState"], str | None]
"""Returns why the action is not allowed in this state, or None."""


@dataclass(frozen=True)
class Transition:
    """Where an action may be taken, what must hold, and which legal event it records."""

    sources: frozenset[Stage]
    target: Stage | None
    """The stage after the action; None = the stage stays (or the effect decides it)."""
    event: LegalEvent | None = None
    guards: tuple[StateGuard, ...] = field(default_factory=tuple)
    description: str = ""


def _needs(flag: str, message: str) -> StateGuard:
    def guard(state: CaseState) -> str | None:
        return None if getattr(state, flag) else message

    return guard


def _not(flag: str, message: str) -> StateGuard:
    def guard(state: CaseState) -> str | None:
        return message if getattr(state, flag) else None

    return guard


def _appeal_possible(state: CaseState) -> str | None:
    if state.outcome not in NEGATIVE_FOR_APPEAL:
        return "an appeal needs a notified negative decision"
    if state.pack.clock_for(ClockName.APPEAL, state.situation()) is None:
        return f"pack {state.pack_id} has no appeal against this decision"
    return None


def _no_appeal_clock(state: CaseState) -> str | None:
    rule = state.pack.clock_for(ClockName.APPEAL, state.situation())
    if rule is not None and rule.period is not None:
        return f"pack {state.pack_id} has an appeal window: the decision becomes final when it ends"
    return None


def _reopen_clock(state: CaseState) -> str | None:
    rule = state.pack.clock_for(ClockName.REOPEN_WINDOW, state.situation())
    if rule is None or rule.period is None:
        return f"pack {state.pack_id} provides no reopening; close the case instead"
    return None


def _may_close(state: CaseState) -> str | None:
    match state.stage:
        case Stage.DISCONTINUED:
            rule = state.pack.clock_for(ClockName.REOPEN_WINDOW, state.situation())
            if rule is not None and rule.period is not None:
                return "the reopen window is still open; the case closes when it ends"
        case Stage.INTEGRATION if not state.permit_issued:
            return "the residence permit has not been issued yet"
        case Stage.RETURN if not state.departed:
            return "departure has not been recorded yet"
    return None


def _pause_open(state: CaseState) -> str | None:
    return None if state.open_pause() is not None else "no clock is paused"


def _no_pause_open(state: CaseState) -> str | None:
    return "a pause is already running; resume it first" if state.open_pause() else None


def _represented_child(state: CaseState) -> str | None:
    if not state.unaccompanied_child:
        return "a representative is appointed for an unaccompanied child only"
    return "a representative was already appointed" if state.representative_appointed else None


def _extendable_clock(state: CaseState) -> str | None:
    situation = state.situation()
    for name in state.pack.clock_names():
        rule = state.pack.clock_for(name, situation)
        if rule is None or not rule.can_extend(state.extensions.get(name, 0)):
            continue
        current = state.deadline(name, state.last_action_on)
        if current is not None and current.status in _EXTENDABLE:
            return None
    return "no running clock of the case can be extended"


_EXTENDABLE = (ClockStatus.RUNNING, ClockStatus.PAUSED, ClockStatus.EXPIRED)
"""Statuses of a clock that an extension can still move (the guard and the field check agree)."""


def _responsibility_law(state: CaseState) -> str | None:
    if ClockName.RESPONSIBILITY_REQUEST not in state.pack.clock_names():
        return f"pack {state.pack_id} has no responsibility (Dublin/AMMR) procedure"
    return None


_RESPONSIBILITY_SOURCES = frozenset({Stage.LODGED, Stage.ADMISSIBILITY})
"""Where a responsibility request can be made: after lodging, before any decision."""


# --------------------------------------------------------------------------------------------
# The transition table

_ACTIVE = OPEN_STAGES - {Stage.DISCONTINUED}

TRANSITIONS: dict[Action, Transition] = {
    Action.COMPLETE_SCREENING: Transition(
        frozenset({Stage.IDENTIFIED}),
        Stage.SCREENING,
        LegalEvent.SCREENED,
        description="Screening/profiling done; the person awaits referral or applies.",
    ),
    Action.REFER: Transition(
        frozenset({Stage.IDENTIFIED, Stage.SCREENING}),
        Stage.REFERRED,
        LegalEvent.REFERRED,
        description="Referred to asylum, child protection, trafficking support, return "
        "counselling, or not seeking protection.",
    ),
    Action.MAKE_APPLICATION: Transition(
        PRE_APPLICATION, Stage.APPLICATION_MADE, LegalEvent.MADE, description="Application made."
    ),
    Action.REGISTER: Transition(
        frozenset({Stage.APPLICATION_MADE}), Stage.REGISTERED, LegalEvent.REGISTERED
    ),
    Action.LODGE: Transition(
        frozenset({Stage.REGISTERED}),
        Stage.LODGED,
        LegalEvent.LODGED,
        description="Application lodged; pins the rule pack for good (APR Art 79(3)).",
    ),
    Action.ASSIGN_PROCEDURE: Transition(
        frozenset(
            {
                Stage.APPLICATION_MADE,
                Stage.REGISTERED,
                Stage.LODGED,
                Stage.INTERVIEW_SCHEDULED,
                Stage.INTERVIEWED,
            }
        ),
        None,
        LegalEvent.PROCEDURE_ASSIGNED,
        description="Admissibility moves a lodged case into the admissibility stage.",
    ),
    Action.APPOINT_REPRESENTATIVE: Transition(
        _ACTIVE - TERMINAL_STAGES,
        None,
        LegalEvent.REPRESENTATIVE_APPOINTED,
        (_represented_child,),
    ),
    Action.RECORD_RECEPTION_ASSESSMENT: Transition(
        EXAMINATION,
        None,
        LegalEvent.RECEPTION_ASSESSED,
        (_not("reception_assessed", "the reception needs assessment is already recorded"),),
    ),
    Action.DECIDE_ADMISSIBILITY: Transition(
        frozenset({Stage.LODGED, Stage.ADMISSIBILITY}),
        None,
        LegalEvent.ADMISSIBILITY_DECIDED,
        description="Admissible: examination goes on (lodged). Inadmissible: decided.",
    ),
    Action.SCHEDULE_INTERVIEW: Transition(
        frozenset({Stage.LODGED, Stage.INTERVIEW_SCHEDULED}), Stage.INTERVIEW_SCHEDULED
    ),
    Action.RECORD_INTERVIEW: Transition(
        frozenset({Stage.INTERVIEW_SCHEDULED}),
        None,
        description="Attended: interviewed. Missed: back to lodged, flagged.",
    ),
    Action.EXTEND_DEADLINE: Transition(_ACTIVE, None, guards=(_extendable_clock,)),
    Action.DECIDE: Transition(
        frozenset({Stage.LODGED, Stage.INTERVIEWED}), Stage.DECIDED, LegalEvent.DECIDED
    ),
    Action.NOTIFY_DECISION: Transition(
        frozenset({Stage.DECIDED}), Stage.NOTIFIED, LegalEvent.NOTIFIED
    ),
    Action.LODGE_APPEAL: Transition(
        frozenset({Stage.NOTIFIED, Stage.DISCONTINUED}),
        Stage.APPEAL_LODGED,
        LegalEvent.APPEAL_LODGED,
        (_appeal_possible,),
    ),
    Action.DECIDE_APPEAL: Transition(
        frozenset({Stage.APPEAL_LODGED}),
        None,
        LegalEvent.APPEAL_DECIDED,
        description="Dismissed: final. Quashed and remanded: lodged. Substituted: final.",
    ),
    Action.MAKE_FINAL: Transition(
        frozenset({Stage.NOTIFIED}),
        None,
        LegalEvent.FINAL,
        (_no_appeal_clock,),
        description="Only where the pack has no appeal clock; enters integration or return.",
    ),
    Action.RECORD_CONTACT: Transition(OPEN_STAGES, None),
    Action.REPORT_ABSCONDED: Transition(
        IN_PROCEDURE, None, guards=(_not("absconded", "already reported absconded"),)
    ),
    Action.REVIEW_ABANDONMENT: Transition(
        IN_PROCEDURE,
        None,
        guards=(_needs("presumed_abandoned", "the case is not presumed abandoned"),),
        description="Confirm: discontinued (implicit withdrawal). Lift: back to active.",
    ),
    Action.DISCONTINUE: Transition(
        EXAMINATION, Stage.DISCONTINUED, LegalEvent.DISCONTINUED, description="Implicit withdrawal."
    ),
    Action.REQUEST_REOPENING: Transition(
        frozenset({Stage.DISCONTINUED}), None, LegalEvent.REOPENING_REQUESTED, (_reopen_clock,)
    ),
    Action.WITHDRAW: Transition(
        PRE_APPLICATION | IN_PROCEDURE | {Stage.DISCONTINUED},
        Stage.WITHDRAWN,
        LegalEvent.WITHDRAWN,
    ),
    Action.PAUSE_CLOCK: Transition(
        IN_PROCEDURE | {Stage.SCREENING}, None, guards=(_no_pause_open,)
    ),
    Action.RESUME_CLOCK: Transition(OPEN_STAGES, None, guards=(_pause_open,)),
    Action.CORRECT_EVENT: Transition(OPEN_STAGES, None),
    Action.RETRACT_EVENT: Transition(
        OPEN_STAGES | {Stage.WITHDRAWN},
        None,
        description="An act recorded by mistake: the case is recomputed as if it never was.",
    ),
    Action.ISSUE_PERSONAL_ID: Transition(
        IN_PROCEDURE | {Stage.INTEGRATION},
        None,
        guards=(_not("personal_id_issued", "a personal ID number was already issued"),),
    ),
    Action.ISSUE_PERMIT: Transition(
        frozenset({Stage.INTEGRATION}),
        None,
        guards=(_not("permit_issued", "the permit was already issued"),),
    ),
    Action.ISSUE_DOCUMENT: Transition(
        frozenset({Stage.INTEGRATION}),
        None,
        guards=(_needs("permit_issued", "issue the residence permit first"),),
    ),
    Action.REQUEST_FAMILY_REUNIFICATION: Transition(
        frozenset({Stage.INTEGRATION}),
        None,
        guards=(_not("family_reunification_requested", "already requested"),),
    ),
    Action.START_RETURN: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(_not("return_counselling", "AVRR counselling is already open"),),
    ),
    Action.RECORD_RETURN_CONSENT: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            _needs("return_counselling", "open AVRR counselling first (start_return)"),
            _not("return_consent", "consent is already recorded"),
        ),
    ),
    Action.RECORD_RISK_ASSESSMENT: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            _needs("return_consent", "record the return consent first"),
            _not("risk_assessed", "the risk check is already recorded"),
        ),
        description="At risk: back to asylum (a subsequent application is made).",
    ),
    Action.RECORD_DEPARTURE: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            _needs("risk_assessed", "the pre-departure risk check has not been recorded"),
            _not("departed", "departure is already recorded"),
        ),
    ),
    Action.RECORD_REINTEGRATION: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            _needs("departed", "departure has not been recorded yet"),
            _not("reintegrated", "reintegration follow-up is already recorded"),
        ),
    ),
    Action.ASSIGN_CASEWORKER: Transition(OPEN_STAGES, None),
    Action.ASSIGN_LEGAL_AID: Transition(OPEN_STAGES, None),
    Action.CLOSE: Transition(
        frozenset(
            {
                Stage.REFERRED,
                Stage.WITHDRAWN,
                Stage.INTEGRATION,
                Stage.RETURN,
                Stage.DISCONTINUED,
            }
        ),
        Stage.CLOSED,
        LegalEvent.CLOSED,
        (_may_close,),
    ),
    # Not a procedural step: no target stage and no legal event, in every stage whose workflow
    # still runs (a closed case's workflow has ended). A withdrawn case's file stays readable,
    # so the person may still give or revoke consent to a monitor reading it.
    Action.RECORD_MONITOR_CONSENT: Transition(
        OPEN_STAGES | {Stage.WITHDRAWN},
        None,
        description="The person's consent to monitors reading the file (given=false revokes).",
    ),
    # Responsibility procedure (Dublin III / AMMR, issue 20): EU law, so only packs that carry
    # its clocks (eu, pl) allow it.
    Action.REQUEST_TAKE_CHARGE: Transition(
        _RESPONSIBILITY_SOURCES,
        Stage.RESPONSIBILITY_REQUESTED,
        LegalEvent.RESPONSIBILITY_REQUESTED,
        (_responsibility_law,),
        description="Ask another Member State to take charge (604/2013 Art 21; 2024/1351 Art 39).",
    ),
    Action.REQUEST_TAKE_BACK: Transition(
        _RESPONSIBILITY_SOURCES,
        Stage.RESPONSIBILITY_REQUESTED,
        LegalEvent.RESPONSIBILITY_REQUESTED,
        (_responsibility_law,),
        description="Take-back request (604/2013 Art 23) or notification (2024/1351 Art 41).",
    ),
    Action.RECORD_RESPONSIBILITY_REPLY: Transition(
        frozenset({Stage.RESPONSIBILITY_REQUESTED}),
        None,
        description="Accepted: transfer pending. Refused: the examination goes on here. "
        "Silence: the engine records the acceptance when the reply period ends.",
    ),
    Action.RECORD_TRANSFER: Transition(
        frozenset({Stage.TRANSFER_PENDING}),
        Stage.CLOSED,
        LegalEvent.TRANSFERRED,
        description="Handed over to the responsible state: the case leaves this state's "
        "procedure (closed).",
    ),
    Action.MIGRATE_RULES: Transition(
        OPEN_STAGES,
        None,
        guards=(_needs("pack_pinned", "the case is not pinned to a pack yet (lodge it first)"),),
        description="Administrators only (`asylumflow rules migrate`): the case moves to "
        "another content of its pinned pack, recorded in its history.",
    ),
}

assert set(TRANSITIONS) == set(Action), "every action needs a row in the transition table"

_DECIDING = frozenset(
    {Stage.LODGED, Stage.ADMISSIBILITY, Stage.INTERVIEW_SCHEDULED, Stage.INTERVIEWED}
)

CLOCK_ACT_STAGES: dict[ClockName, frozenset[Stage]] = {
    ClockName.SCREENING: frozenset({Stage.IDENTIFIED}),
    ClockName.REGISTRATION: TRANSITIONS[Action.REGISTER].sources,
    ClockName.LODGING: frozenset({Stage.APPLICATION_MADE, Stage.REGISTERED}),
    ClockName.UASC_REPRESENTATIVE: TRANSITIONS[Action.APPOINT_REPRESENTATIVE].sources,
    ClockName.RECEPTION_NEEDS_ASSESSMENT: TRANSITIONS[Action.RECORD_RECEPTION_ASSESSMENT].sources,
    ClockName.ADMISSIBILITY_DECISION: TRANSITIONS[Action.DECIDE_ADMISSIBILITY].sources,
    ClockName.DECISION: _DECIDING,
    ClockName.BORDER_PROCEDURE: _DECIDING,
    ClockName.APPEAL: TRANSITIONS[Action.LODGE_APPEAL].sources,
    ClockName.REOPEN_WINDOW: TRANSITIONS[Action.REQUEST_REOPENING].sources,
    # Responsibility procedure (issue 20)
    ClockName.RESPONSIBILITY_REQUEST: _RESPONSIBILITY_SOURCES,
    ClockName.RESPONSIBILITY_REPLY: frozenset({Stage.RESPONSIBILITY_REQUESTED}),
    ClockName.TRANSFER: frozenset({Stage.TRANSFER_PENDING}),
}
"""Where each clock's act can still be done (domain.md, "Clocks end with their stage").

Beside the transition table, and built from it where the act is one action: once a case has
left all of a clock's stages, an authority clock past due is `missed` (a breach on record, not
a task) and a running one `cancelled`; a return to such a stage (a remand, a reopening) makes
it `expired` or `running` again. Entitlements (labour-market access) are not listed: they do
not end with a stage."""


def why_not(state: CaseState, action: Action) -> str | None:
    """Why `action` is not allowed in the case's current state (None if it is)."""
    transition = TRANSITIONS[action]
    if state.stage not in transition.sources:
        return f"{action.value} is not allowed in stage {state.stage.value}"
    for guard in transition.guards:
        reason = guard(state)
        if reason is not None:
            return f"{action.value}: {reason}"
    return None


SYSTEM_ACTIONS = frozenset({Action.MIGRATE_RULES})
"""Acts an administrator's tool records (`asylumflow rules migrate`), never a user of the API:
not listed among a case's allowed actions."""


def allowed_actions(state: CaseState) -> list[Action]:
    """Every action the table allows in the case's current state, in table order."""
    return [a for a in TRANSITIONS if a not in SYSTEM_ACTIONS and why_not(state, a) is None]


def check_allowed(state: CaseState, action: Action) -> None:
    """Raise DomainError naming the stage and the allowed actions if `action` is not allowed."""
    reason = why_not(state, action)
    if reason is not None:
        raise DomainError(reason, state.stage, allowed_actions(state))


# --------------------------------------------------------------------------------------------
# Field checks that depend on the case (422)


def validate_input(state: CaseState, action: Action, payload: ActionInput, today: date) -> None:
    """Field checks that depend on the case: raise InvalidInput (422) naming the field."""
    if not isinstance(payload, input_model(action)):
        raise InvalidInput("body", f"{action.value} takes {input_model(action).__name__}")
    if payload.on > today:
        raise InvalidInput("on", f"{payload.on.isoformat()} is in the future")
    if payload.on < state.identified_on:
        raise InvalidInput(
            "on",
            f"{payload.on.isoformat()} is before the person was identified "
            f"({state.identified_on.isoformat()})",
        )
    match payload:
        case ScheduleInterviewInput() if payload.interview_on < payload.on:
            raise InvalidInput("interview_on", "the interview cannot be before it is scheduled")
        case DecideAppealInput() if (payload.result is AppealResult.SUBSTITUTED) != (
            payload.outcome is not None
        ):
            raise InvalidInput(
                "outcome", "give an outcome exactly when the appeal body substitutes its decision"
            )
        case DecideInput() if payload.outcome is Outcome.IMPLICITLY_WITHDRAWN:
            raise InvalidInput("outcome", "implicit withdrawal is recorded with discontinue")
        case CorrectEventInput() if payload.date > today:
            raise InvalidInput("date", f"{payload.date.isoformat()} is in the future")
        case ExtendDeadlineInput():
            _validate_extension(state, payload)
        case MigrateRulesInput():
            _validate_migration(state, payload)
        case ResponsibilityRequestInput() if (
            payload.eurodac_hit_on is not None and payload.eurodac_hit_on > payload.on
        ):
            raise InvalidInput("eurodac_hit_on", "the hit cannot be after the request")
        case PauseClockInput() if payload.clocks:
            unknown = [c for c in payload.clocks if c not in state.pack.clock_names()]
            if unknown:
                raise InvalidInput(
                    "clocks", f"pack {state.pack_id} has no clock {unknown[0].value}"
                )
        case _:
            pass
    if action is Action.RESUME_CLOCK:
        pause = state.open_pause()
        if pause is not None and payload.on < pause.start:
            raise InvalidInput("on", "a pause cannot end before it started")


def _validate_migration(state: CaseState, payload: MigrateRulesInput) -> None:
    if payload.pack not in state.pack_pins and payload.pack != state.pack_id:
        raise InvalidInput(
            "pack",
            f"the case is pinned to {state.pack_id}, not {payload.pack}: a migration never "
            "moves a case across pack ids",
        )
    try:
        get_pack(payload.pack, payload.to_digest)
    except PackError as exc:
        raise InvalidInput("to_digest", str(exc)) from None
    if state.pack_pins.get(payload.pack, state.pack.digest) == payload.to_digest:
        raise InvalidInput("to_digest", f"the case already uses this content of {payload.pack}")


def _validate_extension(state: CaseState, payload: ExtendDeadlineInput) -> None:
    rule = state.pack.clock_for(payload.clock, state.situation())
    current = state.deadline(payload.clock, payload.on)
    if rule is None or current is None:
        raise InvalidInput("clock", f"the case has no {payload.clock.value} clock to extend")
    if current.status not in _EXTENDABLE:
        raise InvalidInput("clock", f"the {payload.clock.value} clock is {current.status.value}")
    if not rule.can_extend(state.extensions.get(payload.clock, 0)):
        raise InvalidInput("clock", f"no extension of {payload.clock.value} is left")
    if (
        payload.clock is ClockName.TRANSFER
        and state.extensions.get(ClockName.TRANSFER, 0) >= 1
        and not state.absconded
    ):
        # 604/2013 Art 29(2): one year at most on imprisonment, 18 months only on absconding.
        raise InvalidInput(
            "clock",
            "the transfer period goes beyond one year only if the person absconded "
            "(report_absconded first; Regulation 604/2013 Art 29(2))",
        )
