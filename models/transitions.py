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
    SEALED_DETAIL,
    ActionInput,
    CorrectEventInput,
    DecideAppealInput,
    DecideInput,
    ExtendDeadlineInput,
    IssueDocumentInput,
    MigrateRulesInput,
    OrderDetentionInput,
    PauseClockInput,
    RecordReturnDecisionInput,
    ReferralOutcomeInput,
    ResponsibilityRequestInput,
    ScheduleInterviewInput,
    input_model,
)
from models.enums import (
    Action,
    AppealResult,
    ClockName,
    ClockStatus,
    Detention,
    DocumentKind,
    LegalEvent,
    Outcome,
    Stage,
)
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
from models.track_guards import (
    consent_or_refusal,
    may_close_track,
    may_submit_for_resettlement,
    resettlement_submitted,
    reunification_pending,
    toleration_in_law,
    validate_departure_days,
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
    # In `appeal_decided` the window that matters is the further appeal's (tracks, issue 20).
    further = state.stage is Stage.APPEAL_DECIDED
    rule = state.pack.clock_for(
        ClockName.FURTHER_APPEAL if further else ClockName.APPEAL, state.situation()
    )
    if rule is not None and rule.period is not None:
        kind = "a further appeal" if further else "an appeal"
        return f"pack {state.pack_id} has {kind} window: the decision becomes final when it ends"
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
    return may_close_track(state)


def _document_possible(state: CaseState) -> str | None:
    if state.stage is Stage.INTEGRATION and not state.permit_issued:
        return "issue the residence permit first"
    return None


def _detained(state: CaseState) -> str | None:
    return None if state.detention is Detention.DETAINED else "the person is not detained"


def _pause_open(state: CaseState) -> str | None:
    return None if state.open_pause() is not None else "no clock is paused"


def _no_pause_open(state: CaseState) -> str | None:
    return "a pause is already running; resume it first" if state.open_pause() else None


def _represented_child(state: CaseState) -> str | None:
    if not state.unaccompanied_child:
        return "a representative is appointed for an unaccompanied child only"
    return "a representative was already appointed" if state.representative_appointed else None


def _referral_rule(state: CaseState) -> str | None:
    # Cases begun before issue #19 keep their rule: a referral only before the application.
    if not state.referral_keeps_stage and state.stage not in _PRE_REFERRAL:
        return "a referral is recorded before the application only in this case"
    return None


_PRE_REFERRAL = frozenset({Stage.IDENTIFIED, Stage.SCREENING})
"""Where a person may still decline to apply (`refer {to: none}`)."""


def _interview_in_language(state: CaseState) -> str | None:
    if state.interview_language is None:
        return "the interview has no language: schedule it with one"
    return None


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
    # A referral to a service never changes the stage (issue #19); `to: none` (the person
    # declines to apply) moves an identified or screened person to `referred`, and its effect
    # records the legal event `referred` then. Cases begun before keep their old rule.
    Action.REFER: Transition(
        OPEN_STAGES,
        None,
        guards=(_referral_rule,),
        description="Referred to asylum, child protection, trafficking support, medical care, "
        "return counselling or another service (the stage stays), or not seeking protection "
        "(to: none, before an application: referred).",
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
        frozenset({Stage.NOTIFIED, Stage.APPEAL_DECIDED}),
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
    # In the procedure: the document certifying applicant status (`kind: applicant_document`,
    # the `applicant_document` clock); on the integration track, after the permit, the others
    # (`validate_input` matches the kind to the stage).
    Action.ISSUE_DOCUMENT: Transition(
        IN_PROCEDURE | {Stage.INTEGRATION},
        None,
        guards=(_document_possible,),
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
            _not("departed", "departure is already recorded"),
        ),
    ),
    Action.RECORD_RISK_ASSESSMENT: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            consent_or_refusal,
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
            _needs("assisted_departure", "reintegration follows an assisted return only"),
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
                # Tracks (issue 20): resettled, or not (refused, or never submitted).
                Stage.RESETTLEMENT,
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
    # Protection track (issue #19): no procedural step among them, no legal event; each is
    # possible at any open stage (the interpreter only for a scheduled interview).
    Action.RECORD_VULNERABILITY: Transition(
        OPEN_STAGES,
        None,
        description="A vulnerability found (present) or no longer found; detail sealed in SQL.",
    ),
    Action.RECORD_REFERRAL_OUTCOME: Transition(
        OPEN_STAGES,
        None,
        guards=(_needs("referrals", "the case has no referral"),),
        description="A referral acknowledged by the service, or its outcome.",
    ),
    Action.RECORD_INFORMATION_GIVEN: Transition(
        OPEN_STAGES,
        None,
        description="Information on rights and the procedure given (language, oral or written).",
    ),
    Action.ASSIGN_INTERPRETER: Transition(
        frozenset({Stage.INTERVIEW_SCHEDULED}),
        None,
        guards=(_interview_in_language,),
        description="An interpreter of the pool for the scheduled interview's language.",
    ),
    Action.RECORD_AGE_ASSESSMENT: Transition(
        OPEN_STAGES,
        None,
        description="Age assessed: minor, adult (the unaccompanied-child flag is cleared) or "
        "inconclusive (the benefit of the doubt); method and findings sealed in SQL.",
    ),
    Action.RECORD_BEST_INTERESTS: Transition(
        OPEN_STAGES,
        None,
        guards=(_needs("unaccompanied_child", "a best-interests assessment is for a child"),),
        description="A best-interests assessment was made; its content sealed in SQL.",
    ),
    # Issue #19 (protection track b): reception and detention. None changes the stage; each is
    # open while the person is an applicant (accommodation and release also afterwards, until
    # the case is closed: a place is freed and a detention ended whatever the outcome).
    Action.ASSIGN_ACCOMMODATION: Transition(
        IN_PROCEDURE,
        None,
        description="A place in a reception centre (allowed in a full centre: over_capacity).",
    ),
    Action.END_ACCOMMODATION: Transition(
        OPEN_STAGES | {Stage.WITHDRAWN},
        None,
        guards=(_needs("accommodation_centre", "the person has no place in a centre"),),
    ),
    Action.ORDER_DETENTION: Transition(
        IN_PROCEDURE,
        None,  # the effect records `detained` for a detention, nothing for an alternative
        guards=(_not("detention", "a detention or an alternative is already in force"),),
    ),
    Action.REVIEW_DETENTION: Transition(
        OPEN_STAGES,
        None,
        LegalEvent.DETENTION_REVIEWED,
        (_detained,),
    ),
    Action.RELEASE_FROM_DETENTION: Transition(
        OPEN_STAGES | {Stage.WITHDRAWN},
        None,
        LegalEvent.RELEASED_FROM_DETENTION,
        (_needs("detention", "no detention or alternative is in force"),),
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
    # Tracks around a decision (issue 20, branch `tracks`).
    Action.LODGE_FURTHER_APPEAL: Transition(
        frozenset({Stage.APPEAL_DECIDED}),
        Stage.FURTHER_APPEAL_LODGED,
        LegalEvent.FURTHER_APPEAL_LODGED,
        description="A further appeal to a court against the negative appeal decision.",
    ),
    Action.DECIDE_FURTHER_APPEAL: Transition(
        frozenset({Stage.FURTHER_APPEAL_LODGED}),
        None,
        LegalEvent.FURTHER_APPEAL_DECIDED,
        description="Dismissed: final. Quashed and remanded: the appeal body decides again "
        "(appeal_lodged). Substituted: final with the court's outcome.",
    ),
    Action.REFUSE_RETURN_CONSENT: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            _needs("return_counselling", "open AVRR counselling first (start_return)"),
            _not("departed", "departure is already recorded"),
            _not("return_refused", "the refusal is already recorded"),
        ),
        description="AVRR refused or consent withdrawn: the return goes on without assistance "
        "(risk check, departure; no reintegration).",
    ),
    Action.RECORD_RETURN_DECISION: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            _not("departed", "departure is already recorded"),
            _not("return_decided", "the return decision is already recorded"),
        ),
        description="The return decision; the voluntary departure period it fixes runs from "
        "it where the pack's law bounds one.",
    ),
    Action.GRANT_TOLERATION: Transition(
        frozenset({Stage.RETURN}),
        Stage.TOLERATED,
        guards=(toleration_in_law, _not("departed", "departure is already recorded")),
        description="The person cannot be returned: toleration, where the pack's law has it.",
    ),
    Action.WITHDRAW_TOLERATION: Transition(
        frozenset({Stage.TOLERATED}),
        Stage.RETURN,
        description="The reason for toleration ceased: the return track again.",
    ),
    Action.IDENTIFY_FOR_RESETTLEMENT: Transition(
        PRE_APPLICATION,
        Stage.RESETTLEMENT,
        description="Identified as in need of resettlement (or a complementary pathway).",
    ),
    Action.SUBMIT_FOR_RESETTLEMENT: Transition(
        frozenset({Stage.RESETTLEMENT}),
        None,
        guards=(may_submit_for_resettlement,),
        description="Submitted to a resettlement state (again after a refusal).",
    ),
    Action.DECIDE_RESETTLEMENT: Transition(
        frozenset({Stage.RESETTLEMENT}),
        None,
        guards=(resettlement_submitted,),
        description="The resettlement state accepts or refuses.",
    ),
    Action.RECORD_RESETTLEMENT_DEPARTURE: Transition(
        frozenset({Stage.RESETTLEMENT}),
        None,
        guards=(
            _needs("resettlement_accepted", "no resettlement state has accepted the case"),
            _not("resettled", "the departure is already recorded"),
        ),
        description="Departed to the resettlement state: the case may close.",
    ),
    Action.DECIDE_FAMILY_REUNIFICATION: Transition(
        frozenset({Stage.INTEGRATION}),
        None,
        LegalEvent.FAMILY_REUNIFICATION_DECIDED,
        (reunification_pending,),
        description="The family reunification application granted or refused.",
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
    # Issue #19 (protection track b)
    ClockName.DETENTION_REVIEW: TRANSITIONS[Action.REVIEW_DETENTION].sources,
    ClockName.APPLICANT_DOCUMENT: IN_PROCEDURE,
    # Tracks around a decision (issue 20, branch `tracks`).
    ClockName.FURTHER_APPEAL: TRANSITIONS[Action.LODGE_FURTHER_APPEAL].sources,
    ClockName.VOLUNTARY_DEPARTURE: TRANSITIONS[Action.RECORD_DEPARTURE].sources,
    ClockName.FAMILY_REUNIFICATION: TRANSITIONS[Action.DECIDE_FAMILY_REUNIFICATION].sources,
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
    if getattr(payload, SEALED_DETAIL, None) is not None:
        # Special-category detail never enters a workflow (its history, its state): the API
        # keeps it in SQL, sealed, and sends the act without it.
        raise InvalidInput(SEALED_DETAIL, "detail is kept in SQL by the API, never in the case")
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
        case ScheduleInterviewInput() if payload.interpreter and not payload.language:
            raise InvalidInput("language", "an interpreter is assigned for a language: give it")
        case ReferralOutcomeInput() if not any(r.id == payload.referral for r in state.referrals):
            raise InvalidInput("referral", f"the case has no referral {payload.referral}")
        case ReferralOutcomeInput() if any(
            r.id == payload.referral and payload.on < r.on for r in state.referrals
        ):
            raise InvalidInput("on", "a referral is answered after it is made")
        case DecideAppealInput() if (payload.result is AppealResult.SUBSTITUTED) != (
            payload.outcome is not None
        ):
            raise InvalidInput(
                "outcome", "give an outcome exactly when the appeal body substitutes its decision"
            )
        case DecideInput() if payload.outcome is Outcome.IMPLICITLY_WITHDRAWN:
            raise InvalidInput("outcome", "implicit withdrawal is recorded with discontinue")
        case IssueDocumentInput():
            _validate_document(state, payload)
        case OrderDetentionInput() if payload.ground is not None:
            raise InvalidInput(
                "ground",
                "a detention ground is special-category data: the API keeps it sealed in SQL "
                "and it never reaches the workflow",
            )
        case CorrectEventInput() if payload.date > today:
            raise InvalidInput("date", f"{payload.date.isoformat()} is in the future")
        case ExtendDeadlineInput():
            _validate_extension(state, payload)
        case MigrateRulesInput():
            _validate_migration(state, payload)
        case RecordReturnDecisionInput() if payload.departure_days is not None:
            validate_departure_days(state, payload.departure_days)
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


def _validate_document(state: CaseState, payload: IssueDocumentInput) -> None:
    in_procedure = state.stage in IN_PROCEDURE
    if (payload.kind is DocumentKind.APPLICANT_DOCUMENT) != in_procedure:
        raise InvalidInput(
            "kind",
            "during the procedure only the applicant's document (applicant_document) is issued; "
            "it is not issued once the procedure has ended"
            if in_procedure
            else "the applicant's document is issued during the procedure only",
        )


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
