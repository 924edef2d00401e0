"""What may happen in which stage: the one transition table, its guards and the field checks.

`TRANSITIONS` is the single source of truth for what may happen in which stage. The workflow's
update validators, the API's `allowed_actions` and the docs all read it. A guard or the table
refusing an action is a conflict with the case (`DomainError`, 409); `validate_input` checks the
fields that depend on the case (`InvalidInput`, 422).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models.enums import (
    Action,
    ClockName,
    LegalEvent,
    Stage,
)
from models.errors import DomainError
from models.guards import (
    RESPONSIBILITY_SOURCES,
    StateGuard,
    appeal_possible,
    document_possible,
    extendable_clock,
    interview_in_language,
    is_detained,
    may_close,
    needs,
    needs_not,
    no_appeal_clock,
    no_pause_open,
    pause_open,
    referral_rule,
    reopen_clock,
    represented_child,
    responsibility_law,
)
from models.stages import (
    EXAMINATION,
    IN_PROCEDURE,
    OPEN_STAGES,
    PRE_APPLICATION,
    TERMINAL_STAGES,
)
from models.track_guards import (
    consent_or_refusal,
    may_submit_for_resettlement,
    resettlement_submitted,
    reunification_pending,
    toleration_in_law,
)

if TYPE_CHECKING:
    # Only for the annotations: `models.case_state` builds on this module (a clock ends with the
    # stages `CLOCK_ACT_STAGES` names), so importing it here at run time would be a cycle.
    from models.case_state import CaseState


@dataclass(frozen=True)
class Transition:
    """Where an action may be taken, what must hold, and which legal event it records."""

    sources: frozenset[Stage]
    target: Stage | None
    """The stage after the action; None = the stage stays (or the effect decides it)."""
    event: LegalEvent | None = None
    guards: tuple[StateGuard, ...] = field(default_factory=tuple)
    description: str = ""


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
        guards=(referral_rule,),
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
        (represented_child,),
    ),
    Action.RECORD_RECEPTION_ASSESSMENT: Transition(
        EXAMINATION,
        None,
        LegalEvent.RECEPTION_ASSESSED,
        (needs_not("reception_assessed", "the reception needs assessment is already recorded"),),
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
    Action.EXTEND_DEADLINE: Transition(_ACTIVE, None, guards=(extendable_clock,)),
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
        (appeal_possible,),
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
        (no_appeal_clock,),
        description="Only where the pack has no appeal clock; enters integration or return.",
    ),
    Action.RECORD_CONTACT: Transition(OPEN_STAGES, None),
    Action.REPORT_ABSCONDED: Transition(
        IN_PROCEDURE, None, guards=(needs_not("absconded", "already reported absconded"),)
    ),
    Action.REVIEW_ABANDONMENT: Transition(
        IN_PROCEDURE,
        None,
        guards=(needs("presumed_abandoned", "the case is not presumed abandoned"),),
        description="Confirm: discontinued (implicit withdrawal). Lift: back to active.",
    ),
    Action.DISCONTINUE: Transition(
        EXAMINATION, Stage.DISCONTINUED, LegalEvent.DISCONTINUED, description="Implicit withdrawal."
    ),
    Action.REQUEST_REOPENING: Transition(
        frozenset({Stage.DISCONTINUED}), None, LegalEvent.REOPENING_REQUESTED, (reopen_clock,)
    ),
    Action.WITHDRAW: Transition(
        PRE_APPLICATION | IN_PROCEDURE | {Stage.DISCONTINUED},
        Stage.WITHDRAWN,
        LegalEvent.WITHDRAWN,
    ),
    Action.PAUSE_CLOCK: Transition(IN_PROCEDURE | {Stage.SCREENING}, None, guards=(no_pause_open,)),
    Action.RESUME_CLOCK: Transition(OPEN_STAGES, None, guards=(pause_open,)),
    Action.CORRECT_EVENT: Transition(OPEN_STAGES, None),
    Action.RETRACT_EVENT: Transition(
        OPEN_STAGES | {Stage.WITHDRAWN},
        None,
        description="An act recorded by mistake: the case is recomputed as if it never was.",
    ),
    Action.ISSUE_PERSONAL_ID: Transition(
        IN_PROCEDURE | {Stage.INTEGRATION},
        None,
        guards=(needs_not("personal_id_issued", "a personal ID number was already issued"),),
    ),
    Action.ISSUE_PERMIT: Transition(
        frozenset({Stage.INTEGRATION}),
        None,
        guards=(needs_not("permit_issued", "the permit was already issued"),),
    ),
    # In the procedure: the document certifying applicant status (`kind: applicant_document`,
    # the `applicant_document` clock); on the integration track, after the permit, the others
    # (`validate_input` matches the kind to the stage).
    Action.ISSUE_DOCUMENT: Transition(
        IN_PROCEDURE | {Stage.INTEGRATION},
        None,
        guards=(document_possible,),
    ),
    Action.REQUEST_FAMILY_REUNIFICATION: Transition(
        frozenset({Stage.INTEGRATION}),
        None,
        guards=(needs_not("family_reunification_requested", "already requested"),),
    ),
    Action.START_RETURN: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(needs_not("return_counselling", "AVRR counselling is already open"),),
    ),
    Action.RECORD_RETURN_CONSENT: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            needs("return_counselling", "open AVRR counselling first (start_return)"),
            needs_not("return_consent", "consent is already recorded"),
            needs_not("departed", "departure is already recorded"),
        ),
    ),
    Action.RECORD_RISK_ASSESSMENT: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            consent_or_refusal,
            needs_not("risk_assessed", "the risk check is already recorded"),
        ),
        description="At risk: back to asylum (a subsequent application is made).",
    ),
    Action.RECORD_DEPARTURE: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            needs("risk_assessed", "the pre-departure risk check has not been recorded"),
            needs_not("departed", "departure is already recorded"),
        ),
    ),
    Action.RECORD_REINTEGRATION: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            needs("departed", "departure has not been recorded yet"),
            needs("assisted_departure", "reintegration follows an assisted return only"),
            needs_not("reintegrated", "reintegration follow-up is already recorded"),
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
        (may_close,),
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
        guards=(needs("referrals", "the case has no referral"),),
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
        guards=(interview_in_language,),
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
        guards=(needs("unaccompanied_child", "a best-interests assessment is for a child"),),
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
        guards=(needs("accommodation_centre", "the person has no place in a centre"),),
    ),
    Action.ORDER_DETENTION: Transition(
        IN_PROCEDURE,
        None,  # the effect records `detained` for a detention, nothing for an alternative
        guards=(needs_not("detention", "a detention or an alternative is already in force"),),
    ),
    Action.REVIEW_DETENTION: Transition(
        OPEN_STAGES,
        None,
        LegalEvent.DETENTION_REVIEWED,
        (is_detained,),
    ),
    Action.RELEASE_FROM_DETENTION: Transition(
        OPEN_STAGES | {Stage.WITHDRAWN},
        None,
        LegalEvent.RELEASED_FROM_DETENTION,
        (needs("detention", "no detention or alternative is in force"),),
    ),
    # Responsibility procedure (Dublin III / AMMR, issue 20): EU law, so only packs that carry
    # its clocks (eu, pl) allow it.
    Action.REQUEST_TAKE_CHARGE: Transition(
        RESPONSIBILITY_SOURCES,
        Stage.RESPONSIBILITY_REQUESTED,
        LegalEvent.RESPONSIBILITY_REQUESTED,
        (responsibility_law,),
        description="Ask another Member State to take charge (604/2013 Art 21; 2024/1351 Art 39).",
    ),
    Action.REQUEST_TAKE_BACK: Transition(
        RESPONSIBILITY_SOURCES,
        Stage.RESPONSIBILITY_REQUESTED,
        LegalEvent.RESPONSIBILITY_REQUESTED,
        (responsibility_law,),
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
        guards=(needs("pack_pinned", "the case is not pinned to a pack yet (lodge it first)"),),
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
            needs("return_counselling", "open AVRR counselling first (start_return)"),
            needs_not("departed", "departure is already recorded"),
            needs_not("return_refused", "the refusal is already recorded"),
        ),
        description="AVRR refused or consent withdrawn: the return goes on without assistance "
        "(risk check, departure; no reintegration).",
    ),
    Action.RECORD_RETURN_DECISION: Transition(
        frozenset({Stage.RETURN}),
        None,
        guards=(
            needs_not("departed", "departure is already recorded"),
            needs_not("return_decided", "the return decision is already recorded"),
        ),
        description="The return decision; the voluntary departure period it fixes runs from "
        "it where the pack's law bounds one.",
    ),
    Action.GRANT_TOLERATION: Transition(
        frozenset({Stage.RETURN}),
        Stage.TOLERATED,
        guards=(toleration_in_law, needs_not("departed", "departure is already recorded")),
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
            needs("resettlement_accepted", "no resettlement state has accepted the case"),
            needs_not("resettled", "the departure is already recorded"),
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
    ClockName.RESPONSIBILITY_REQUEST: RESPONSIBILITY_SOURCES,
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
