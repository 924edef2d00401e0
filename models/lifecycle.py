"""The case lifecycle: state, the one transition table, and the pure `apply`.

`TRANSITIONS` is the single source of truth for what may happen in which stage. The workflow's
update validators, the API's `allowed_actions` and the docs all read it. `apply` never performs I/O
and never reads a clock: the caller passes the recording instant and today's date.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, Field

from models.actions import (
    ActionInput,
    AssignCaseworkerInput,
    AssignLegalAidInput,
    AssignProcedureInput,
    CorrectEventInput,
    DecideAdmissibilityInput,
    DecideAppealInput,
    DecideInput,
    ExtendDeadlineInput,
    IssueDocumentInput,
    LodgeInput,
    MakeApplicationInput,
    MigrateRulesInput,
    PauseClockInput,
    RecordInterviewInput,
    ReferInput,
    ReviewAbandonmentInput,
    RiskAssessmentInput,
    ScheduleInterviewInput,
    input_model,
)
from models.deadlines import Deadline, Occurrence, Pause, compute_deadlines, fires_at
from models.enums import (
    Action,
    Actor,
    AppealResult,
    ClockKind,
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
from models.rules import PackError, RulePack, Situation, get_pack, governing_pack

# --------------------------------------------------------------------------------------------
# Errors


class DomainError(Exception):
    """An action the case's current stage or state does not allow (HTTP 409)."""

    def __init__(self, detail: str, stage: Stage, allowed_actions: list[Action]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.stage = stage
        self.allowed_actions = allowed_actions

    conflict: dict[str, Any] | None = None
    """The recorded act that stands in the way (`seq`, `action`, `on`), where one does."""
    index: int | None = None
    """In a batch, the item refused."""

    def to_dict(self) -> dict[str, Any]:
        """The 409 body: detail, current stage, allowed actions (and the conflicting act)."""
        body: dict[str, Any] = {
            "detail": self.detail,
            "stage": self.stage.value,
            "allowed_actions": [a.value for a in self.allowed_actions],
        }
        if self.conflict is not None:
            body["conflict"] = self.conflict
        return body


class InvalidInput(Exception):
    """A field of an action's body is wrong for this case (HTTP 422 naming the field)."""

    index: int | None = None
    """In a batch, the item refused."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


# --------------------------------------------------------------------------------------------
# State


class CaseEvent(BaseModel):
    """One entry of a case's history."""

    # Frozen: `apply` and `settle` copy a state's lists but share the events already recorded,
    # so an event, once in a history, belongs to every later state of the case. Nothing may
    # change it (its `data` included); an action that must amend the event it has just recorded
    # replaces it (`_amend`). (A comment, not the docstring: that is the schema's description.)
    model_config = ConfigDict(frozen=True)

    seq: int
    actor: str
    action: str
    event: LegalEvent | None = None
    on: date
    recorded_at: datetime
    note: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    derived: bool = False
    """Concluded by the engine (a clock expired, a decision became final...), not an act."""
    retracted: bool = False
    """A later-recorded act or correction showed it to be false; it counts nowhere else."""
    retracted_by: int | None = None


class CaseCreated(BaseModel):
    """What the case was created with: the start of every re-derivation of its record."""

    model_config = ConfigDict(frozen=True)

    identified_at: IdentifiedAt
    unaccompanied_child: bool
    vulnerable: bool
    legal_aid_org: str | None
    actor: str


class CaseState(BaseModel):
    """Everything the rules need about one case. Holds no personal data."""

    case_id: str
    legal_time: bool = False
    """The record follows legal dates (see models.legal_record). False only in cases begun
    before it, which replay their old behaviour until they continue as new."""
    created: CaseCreated | None = None
    reference: str | None = None
    """The readable reference given at creation (None in cases begun before references)."""
    family: str
    pack_id: str
    pack_version: str
    pack_pinned: bool = False
    pack_digest: str | None = None
    """The content the case computes with (`RulePack.digest`): fixed by lodging, moved only by
    `migrate_rules`. None in cases pinned before digests, which follow the current file."""
    pack_pins: dict[str, str] = Field(
        default_factory=dict,
        description="The content (digest) the case is bound to for each pack id it was pinned "
        "under; a corrected pack file does not move it (shared/domain.md, pinning)",
    )
    provisional_pack_id: str | None = None
    identified_on: date
    stage: Stage = Stage.IDENTIFIED
    stage_since: date
    stage_log: list[tuple[Stage, date]] = Field(
        default_factory=list, description="Every stage the case entered, with the day"
    )
    procedure: Procedure = Procedure.REGULAR
    grounds: str | None = None
    outcome: Outcome | None = None
    facts: list[str] = Field(default_factory=list)
    unaccompanied_child: bool = False
    vulnerable: bool = False
    referral: ReferralTarget | None = None
    occurrences: list[Occurrence] = Field(default_factory=list)
    pauses: list[Pause] = Field(default_factory=list)
    extensions: dict[ClockName, int] = Field(default_factory=dict)
    history: list[CaseEvent] = Field(default_factory=list)
    last_action_on: date
    last_contact_on: date
    presumed_abandoned: bool = False
    abandoned_since: date | None = None
    absconded: bool = False
    missed_interview: bool = False
    interview_on: date | None = None
    representative_appointed: bool = False
    reception_assessed: bool = False
    final: bool = False
    stage_before_discontinuation: Stage | None = None
    personal_id_issued: bool = False
    permit_issued: bool = False
    documents: list[DocumentKind] = Field(default_factory=list)
    family_reunification_requested: bool = False
    return_counselling: bool = False
    return_consent: bool = False
    risk_assessed: bool = False
    departed: bool = False
    reintegrated: bool = False
    labour_market_reached_on: date | None = None
    settled_clocks: list[str] = Field(
        default_factory=list,
        description="Clock instances whose expiry or arrival was already acted on",
    )
    assignee: str | None = None
    legal_aid_org: str | None = None
    seq: int = 0
    reminders_sent: list[str] = Field(
        default_factory=list,
        description="Keys of deadline reminders already sent or passed over (models.reminders)",
    )

    @property
    def pack(self) -> RulePack:
        """The rule pack governing this case now (provisional until lodging).

        A pinned case computes with the content it was pinned to, even after the pack's file
        was corrected under the same id (the earlier content is kept as superseded).
        """
        return get_pack(self.pack_id, self.pack_digest if self.pack_pinned else None)

    @property
    def provisional_pack(self) -> RulePack | None:
        """The pack that applied before lodging pinned another one (None if the same)."""
        if not self.pack_pinned or self.provisional_pack_id in (None, self.pack_id):
            return None
        return get_pack(self.provisional_pack_id)

    def situation(self) -> Situation:
        """What the pack's clock variants are chosen by."""
        return Situation(
            procedure=self.procedure,
            outcome=self.outcome,
            facts=frozenset(self.facts),
            grounds=self.grounds,
        )

    def last(self, event: LegalEvent) -> Occurrence | None:
        """The latest occurrence of a legal event."""
        found = [o for o in self.occurrences if o.event is event]
        return max(found, key=lambda o: o.seq) if found else None

    def deadlines(self, as_of: date, now: datetime | None = None) -> list[Deadline]:
        """Every clock of the case, its current instance, with status as of `as_of` (or `now`).

        Clocks end with their stage (domain.md): once the case has left every stage in which a
        clock's act can still be done, an authority clock that was past due is `missed` and a
        clock still running is `cancelled`.
        """
        deadlines = compute_deadlines(
            self.pack,
            self.occurrences,
            self.situation(),
            as_of=as_of,
            now=now,
            pauses=self.pauses,
            extensions=self.extensions,
            provisional=self.provisional_pack,
        )
        for d in deadlines if self.legal_time else ():
            left_on = self.left_stages_on(d.clock)
            if left_on is None or d.status not in _ENDED_WITH_STAGE:
                continue
            past_due = d.due < left_on and d.kind is ClockKind.ACT
            if past_due and d.actor is Actor.AUTHORITY:
                d.status = ClockStatus.MISSED
            elif not past_due or d.status is not ClockStatus.EXPIRED:
                d.status = ClockStatus.CANCELLED
        return deadlines

    def left_stages_on(self, clock: ClockName) -> date | None:
        """The day the case left the last stage where `clock`'s act can be done (None if not)."""
        stages = CLOCK_ACT_STAGES.get(clock)
        if stages is None or self.stage in stages:
            return None
        left_on = self.stage_since
        for stage, since in reversed(self.stage_log):
            if stage in stages:
                break
            left_on = since
        return left_on

    def deadline(self, clock: ClockName, as_of: date) -> Deadline | None:
        """The current instance of one clock, if the case has it."""
        return next((d for d in self.deadlines(as_of) if d.clock is clock), None)

    def open_pause(self) -> Pause | None:
        """The pause still running, if any."""
        return next((p for p in self.pauses if p.end is None), None)

    @property
    def entitled_but_blocked(self) -> bool:
        """Labour-market access reached, no personal ID number, procedure not ended."""
        return (
            self.labour_market_reached_on is not None
            and not self.personal_id_issued
            and not self.final
            and self.stage not in TERMINAL_STAGES
        )

    @property
    def abandonment_watch_until(self) -> date | None:
        """The day the no-contact watch fires (None where the case is not watched)."""
        if not self.legal_time:
            watched = self.stage in IN_PROCEDURE - {Stage.DECIDED}
        else:
            watched = self.stage in WATCHED_STAGES and not self.final
        if self.presumed_abandoned or not watched:
            return None
        return self.last_contact_on + timedelta(days=self.pack.no_contact_days)

    def flags(
        self, as_of: date, now: datetime | None = None, deadlines: list[Deadline] | None = None
    ) -> list[str]:
        """Flags shown beside the stage: presumed_abandoned, overdue, entitled_but_blocked..."""
        result: list[str] = []
        if self.presumed_abandoned:
            result.append("presumed_abandoned")
        if any(
            d.status is ClockStatus.EXPIRED and d.actor is Actor.AUTHORITY
            for d in (deadlines if deadlines is not None else self.deadlines(as_of, now))
        ):
            result.append("overdue")
        if self.entitled_but_blocked:
            result.append("entitled_but_blocked")
        if self.absconded:
            result.append("absconded")
        if self.open_pause() is not None:
            result.append("clock_paused")
        if self.unaccompanied_child:
            result.append("unaccompanied_child")
        if self.vulnerable:
            result.append("vulnerable")
        return result


_CONTAINERS = tuple(
    name for name, f in CaseState.model_fields.items() if get_origin(f.annotation) in (list, dict)
)
"""The fields of `CaseState` that hold a list or a dict (`_fork` gives each copy its own)."""


def _fork(state: CaseState) -> CaseState:
    """A copy of `state` to change: its own lists and dicts, the items in them shared.

    A deep copy costs time in proportion to the case's history, and every action made four of
    them (the validator's dry run, `apply`, two `settle`s). Copying the containers is enough: their
    items are immutable (strings, enums, numbers and the frozen `CaseEvent`, `Occurrence` and
    `Pause`), and the changes `apply` and `settle` make set the state's own fields, or append to,
    replace items of or reassign its lists and dicts; none changes an item in place.
    """
    new = state.model_copy()
    # Through `__dict__`, as `model_copy` itself does: assigning the fields would add them to
    # the copy's fields-set, which a deep copy leaves as it was.
    new.__dict__.update({name: copy(state.__dict__[name]) for name in _CONTAINERS})
    return new


# --------------------------------------------------------------------------------------------
# Stage groups

PRE_APPLICATION = frozenset({Stage.IDENTIFIED, Stage.SCREENING, Stage.REFERRED})
EXAMINATION = frozenset(
    {
        Stage.APPLICATION_MADE,
        Stage.REGISTERED,
        Stage.LODGED,
        Stage.ADMISSIBILITY,
        Stage.INTERVIEW_SCHEDULED,
        Stage.INTERVIEWED,
    }
)
IN_PROCEDURE = EXAMINATION | {Stage.DECIDED, Stage.NOTIFIED, Stage.APPEAL_LODGED}
TERMINAL_STAGES = frozenset({Stage.WITHDRAWN, Stage.CLOSED})
OPEN_STAGES = frozenset(Stage) - TERMINAL_STAGES
WATCHED_STAGES = EXAMINATION
"""Stages in which the applicant is expected to keep in touch (the no-contact watch runs):
from the application to the first-instance decision (domain.md)."""
NEGATIVE_FOR_APPEAL = frozenset(
    {
        Outcome.REJECTED,
        Outcome.MANIFESTLY_UNFOUNDED,
        Outcome.INADMISSIBLE,
        Outcome.IMPLICITLY_WITHDRAWN,
    }
)

APPLICANT_SIDE_ACTIONS = frozenset(
    {
        Action.MAKE_APPLICATION,
        Action.REGISTER,
        Action.LODGE,
        Action.LODGE_APPEAL,
        Action.RECORD_CONTACT,
        Action.REQUEST_REOPENING,
        Action.RECORD_RETURN_CONSENT,
        Action.REQUEST_FAMILY_REUNIFICATION,
    }
)
"""Acts that show the applicant is engaging: they lift a presumption of abandonment."""


# --------------------------------------------------------------------------------------------
# The transition table

StateGuard = Callable[[CaseState], str | None]
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


_ENDED_WITH_STAGE = (
    ClockStatus.RUNNING,
    ClockStatus.PAUSED,
    ClockStatus.EXPIRED,
    ClockStatus.CANCELLED,
)
"""Statuses a clock can have when its stage ends (met, late and reached stay as they are)."""
_EXTENDABLE = (ClockStatus.RUNNING, ClockStatus.PAUSED, ClockStatus.EXPIRED)
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
# Creating a case


def new_case(
    *,
    case_id: str,
    family: str,
    identified_on: date,
    identified_at: IdentifiedAt,
    unaccompanied_child: bool,
    vulnerable: bool,
    legal_aid_org: str | None,
    actor: str,
    recorded_at: datetime,
) -> CaseState:
    """A case as a border officer identifies it; the pack is provisional."""
    pack, _ = governing_pack(family, made=None, lodged=None, fallback=identified_on)
    facts = ["identified_at_border"] if identified_at is IdentifiedAt.BORDER else []
    if unaccompanied_child:
        facts.append("unaccompanied_child")
    state = CaseState(
        case_id=case_id,
        legal_time=True,
        created=CaseCreated(
            identified_at=identified_at,
            unaccompanied_child=unaccompanied_child,
            vulnerable=vulnerable,
            legal_aid_org=legal_aid_org,
            actor=actor,
        ),
        family=family,
        pack_id=pack.id,
        pack_version=pack.version,
        pack_digest=pack.digest,
        provisional_pack_id=pack.id,
        identified_on=identified_on,
        stage_since=identified_on,
        facts=facts,
        unaccompanied_child=unaccompanied_child,
        vulnerable=vulnerable or unaccompanied_child,
        legal_aid_org=legal_aid_org,
        last_action_on=identified_on,
        last_contact_on=identified_on,
    )
    _record(
        state,
        actor=actor,
        action="identify",
        event=LegalEvent.IDENTIFIED,
        on=identified_on,
        recorded_at=recorded_at,
        data={"identified_at": identified_at.value},
    )
    return state


# --------------------------------------------------------------------------------------------
# Applying an action


@dataclass
class Applied:
    """The result of an accepted action: the new state and what it appended to history."""

    state: CaseState
    events: list[CaseEvent]


def _record(
    state: CaseState,
    *,
    actor: str,
    action: str,
    on: date,
    recorded_at: datetime,
    event: LegalEvent | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    derived: bool = False,
) -> CaseEvent:
    state.seq += 1
    entry = CaseEvent(
        seq=state.seq,
        actor=actor,
        action=action,
        event=event,
        on=on,
        recorded_at=recorded_at,
        note=note,
        data=data or {},
        derived=derived,
    )
    state.history.append(entry)
    if event is not None:
        occur(state, event, on, recorded_at)
    return entry


def occur(state: CaseState, event: LegalEvent, on: date, at: datetime) -> None:
    """Add a legal event to the clocks' inputs, ordered after every earlier one.

    The order is the order of the legal record (acts are applied in legal order), not the
    history's `seq`, which is the order of recording.
    """
    ordinal = state.occurrences[-1].seq + 1 if state.occurrences else 1
    state.occurrences.append(Occurrence(event=event, on=on, seq=ordinal, at=at))


def _amend(state: CaseState, entry: CaseEvent, **changes: Any) -> CaseEvent:
    """Replace `entry`, just recorded on `state`, by a copy with `changes`; returns the copy.

    Events are frozen because later states share them; an effect that learns more about the act
    it records (an inadmissibility, a corrected date) amends the new entry this way instead.
    """
    # The entry is the latest or nearly so: search from the end, by identity.
    index = next(i for i in range(len(state.history) - 1, -1, -1) if state.history[i] is entry)
    amended = entry.model_copy(update=changes)
    state.history[index] = amended
    return amended


def _set_stage(state: CaseState, stage: Stage, on: date) -> None:
    if stage is not state.stage:
        if not state.stage_log:
            state.stage_log.append((state.stage, state.stage_since))
        state.stage = stage
        state.stage_since = on
        state.stage_log.append((stage, on))
        if state.legal_time and stage not in WATCHED_STAGES | {Stage.DISCONTINUED}:
            # The no-contact watch ends with the first-instance decision: a presumption of
            # abandonment means nothing in a decided, final or closed case.
            state.presumed_abandoned, state.abandoned_since = False, None


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


def apply(
    state: CaseState,
    action: Action,
    payload: ActionInput,
    *,
    actor: str,
    recorded_at: datetime,
    today: date,
) -> Applied:
    """Apply an action to a copy of `state` (which is left as it was), as the latest act.

    The building block of `models.legal_record.record`, which places an act by its legal date
    and handles corrections and retractions (acts about the record itself): callers record
    through it.

    The copy shares the recorded events, occurrences and pauses with `state` (see `_fork`), so
    the cost does not grow with the case's history: a dry run (the update validator's) is cheap.

    Raises:
        DomainError: the stage or state does not allow the action (names stage and allowed ones).
        InvalidInput: a field is wrong for this case (future date, date before the last act...).
    """
    check_allowed(state, action)
    validate_input(state, action, payload, today)
    new = _fork(state)
    start = len(new.history)
    entry = _record(
        new,
        actor=actor,
        action=action.value,
        event=TRANSITIONS[action].event,
        on=payload.on,
        recorded_at=recorded_at,
        note=payload.note,
        data=payload.model_dump(mode="json", exclude={"on", "note"}, exclude_none=True),
    )
    _take_effect(new, action, payload, entry)
    return Applied(new, new.history[start:])


def replay_act(state: CaseState, entry: CaseEvent, payload: ActionInput, today: date) -> CaseState:
    """Apply an act already in the record (same `seq`) to a copy of `state`.

    Used when the case is re-derived from its legal record: the act is checked against the state
    at its legal date exactly as when it was first recorded.

    Raises:
        DomainError: the act is not allowed at its place in the legal record.
        InvalidInput: a field of the act is wrong for the case at that place.
    """
    action = Action(entry.action)
    check_allowed(state, action)
    validate_input(state, action, payload, today)
    new = _fork(state)
    new.seq = max(new.seq, entry.seq)
    new.history.append(entry)
    event = TRANSITIONS[action].event
    if event is not None:
        occur(new, event, entry.on, entry.recorded_at)
    _take_effect(new, action, payload, entry)
    return new


def _take_effect(new: CaseState, action: Action, payload: ActionInput, entry: CaseEvent) -> None:
    """The act's consequences on the state, once its entry is in the history."""
    new.last_action_on = max(new.last_action_on, payload.on)
    # Effects see the stage the action was taken in (discontinue remembers it for reopening).
    effect = _EFFECTS.get(action)
    if effect is not None:
        effect(new, payload, entry, entry.actor, entry.recorded_at)
    target = TRANSITIONS[action].target
    if target is not None:
        _set_stage(new, target, payload.on)
    if action in APPLICANT_SIDE_ACTIONS:
        _applicant_engaged(new, payload.on, entry.actor, entry.recorded_at)


Effect = Callable[[CaseState, Any, CaseEvent, str, datetime], None]


def _applicant_engaged(state: CaseState, on: date, actor: str, recorded_at: datetime) -> None:
    """A contact or applicant-side act: resets the no-contact watch and lifts a presumption."""
    state.last_contact_on = max(state.last_contact_on, on)
    if state.absconded:
        state.absconded = False
        state.pauses = [
            p.model_copy(update={"end": on}) if p.end is None and p.reason == "absconded" else p
            for p in state.pauses
        ]
    if state.presumed_abandoned:
        state.presumed_abandoned = False
        state.abandoned_since = None
        _record(
            state,
            actor="system",
            action="abandonment_lifted",
            on=on,
            recorded_at=recorded_at,
            note="the applicant engaged again; presumption of abandonment lifted",
            data={"recorded_by": actor},
            derived=True,
        )


def _make_application(state: CaseState, p: MakeApplicationInput, *_: Any) -> None:
    for fact, on in (("to_other_authority", p.to_other_authority), ("mass_influx", p.mass_influx)):
        if on and fact not in state.facts:
            state.facts.append(fact)
    if not state.pack_pinned:
        pack = governing_pack(state.family, made=p.on, lodged=None, fallback=p.on)[0]
        state.pack_id, state.pack_version = pack.id, pack.version
        state.pack_digest = pack.digest
        state.provisional_pack_id = pack.id


def _refer(state: CaseState, p: ReferInput, *_: Any) -> None:
    state.referral = p.to


def _lodge(state: CaseState, p: LodgeInput, entry: CaseEvent, *_: Any) -> None:
    if p.subsequent and "subsequent" not in state.facts:
        state.facts.append("subsequent")
    _pin_pack(state, entry)


def _pin_pack(state: CaseState, entry: CaseEvent | None = None) -> None:
    """Lodging pins the pack in force on the lodging date; clocks are recomputed under it.

    The pin is the pack's id and the digest of its content, written into the lodging's entry
    (`data.rule_pack`): a re-derivation of the case replays it, so a pack file corrected since
    does not move the case. Which version is in force is judged with the contents the case is
    already bound to (`pack_pins`).
    """
    made, lodged = state.last(LegalEvent.MADE), state.last(LegalEvent.LODGED)
    if lodged is None:
        return
    recorded = entry.data.get("rule_pack") if entry is not None else None
    if isinstance(recorded, dict) and {"id", "digest"} <= recorded.keys():
        state.pack_pins[str(recorded["id"])] = str(recorded["digest"])
    _repin(state, made.on if made else None, lodged.on)
    pin = {"id": state.pack_id, "digest": state.pack_digest}
    if entry is not None and recorded != pin:
        _amend(state, entry, data={**entry.data, "rule_pack": pin})


def _repin(state: CaseState, made: date | None, lodged: date) -> None:
    """Pin the version in force on `lodged`, judged with the case's pinned contents."""
    pack, _ = governing_pack(
        state.family,
        made=made,
        lodged=lodged,
        fallback=state.identified_on,
        pins=state.pack_pins,
    )
    state.pack_pins[pack.id] = pack.digest
    state.pack_id, state.pack_version, state.pack_pinned = pack.id, pack.version, True
    state.pack_digest = pack.digest


def _migrate_rules(state: CaseState, p: MigrateRulesInput, entry: CaseEvent, *_: Any) -> None:
    """Bind the case to another content of a pack it is pinned under (same id only).

    The pack in force on the lodging date is then judged again with that content: a corrected
    `valid_from` can leave the lodging date to the version before (`rs-2023` from 1 February
    2024: a case lodged in between falls to `rs-2018`), which is pinning by lodging date, not a
    move across ids chosen by anyone.
    """
    made, lodged = state.last(LegalEvent.MADE), state.last(LegalEvent.LODGED)
    before = {"id": state.pack_id, "digest": state.pack_digest}
    from_digest = state.pack_pins.get(p.pack, state.pack.digest)
    state.pack_pins[p.pack] = get_pack(p.pack, p.to_digest).digest
    if lodged is not None:
        _repin(state, made.on if made else None, lodged.on)
    _amend(
        state,
        entry,
        data={
            **entry.data,
            "from_digest": from_digest,
            "to_digest": state.pack_pins[p.pack],
            "rule_pack_before": before,
            "rule_pack": {"id": state.pack_id, "digest": state.pack_digest},
        },
    )


def _withdraw_entitlement(state: CaseState, on: date, recorded_at: datetime) -> None:
    """Labour-market access reached is withdrawn where the pack says so (RCD 2024 Art 17(1))."""
    rule = state.pack.clock_for(ClockName.LABOUR_MARKET_ACCESS, state.situation())
    if rule is None or state.labour_market_reached_on is None:
        return
    if rule.withdrawn(state.situation()):
        _record(
            state,
            actor="system",
            action="entitlement_withdrawn",
            on=on,
            recorded_at=recorded_at,
            note=f"labour-market access withdrawn ({rule.citation})",
            data={"clock": ClockName.LABOUR_MARKET_ACCESS.value, "rule": state.pack.rule_ref(rule)},
            derived=True,
        )
        state.labour_market_reached_on = None


def _assign_procedure(
    state: CaseState, p: AssignProcedureInput, entry: CaseEvent, actor: str, recorded_at: datetime
) -> None:
    if state.unaccompanied_child and p.procedure in (Procedure.ACCELERATED, Procedure.BORDER):
        raise DomainError(
            f"an unaccompanied child cannot be put in the {p.procedure.value} procedure",
            state.stage,
            [a for a in allowed_actions(state)],
        )
    state.procedure, state.grounds = p.procedure, p.grounds
    _withdraw_entitlement(state, p.on, recorded_at)
    if p.procedure is Procedure.ADMISSIBILITY and state.stage is Stage.LODGED:
        _set_stage(state, Stage.ADMISSIBILITY, p.on)


def _decide_admissibility(
    state: CaseState, p: DecideAdmissibilityInput, entry: CaseEvent, *_: Any
) -> None:
    if p.admissible:
        _set_stage(state, Stage.LODGED, p.on)
        return
    state.outcome, state.grounds = Outcome.INADMISSIBLE, p.ground
    entry = _amend(state, entry, data={**entry.data, "outcome": Outcome.INADMISSIBLE.value})
    occur(state, LegalEvent.DECIDED, p.on, entry.recorded_at)
    _set_stage(state, Stage.DECIDED, p.on)


def _schedule_interview(state: CaseState, p: ScheduleInterviewInput, *_: Any) -> None:
    state.interview_on = p.interview_on


def _record_interview(
    state: CaseState, p: RecordInterviewInput, entry: CaseEvent, actor: str, recorded_at: datetime
) -> None:
    if p.attended:
        state.missed_interview = False
        _set_stage(state, Stage.INTERVIEWED, p.on)
        _applicant_engaged(state, p.on, actor, recorded_at)
    else:
        state.missed_interview = True
        _set_stage(state, Stage.LODGED, p.on)


def _extend(state: CaseState, p: ExtendDeadlineInput, *_: Any) -> None:
    state.extensions[p.clock] = state.extensions.get(p.clock, 0) + 1


def _decide(state: CaseState, p: DecideInput, *_: Any) -> None:
    state.outcome = p.outcome
    if p.grounds:
        state.grounds = p.grounds


def _become_final(state: CaseState, on: date) -> None:
    """A final decision sends the case to integration (positive) or return (negative)."""
    state.final = True
    positive = state.outcome is not None and state.outcome.is_positive
    _set_stage(state, Stage.INTEGRATION if positive else Stage.RETURN, on)


def _decide_appeal(state: CaseState, p: DecideAppealInput, entry: CaseEvent, *_: Any) -> None:
    against_discontinuation = state.outcome is Outcome.IMPLICITLY_WITHDRAWN
    if p.result is AppealResult.DISMISSED:
        if against_discontinuation:
            _set_stage(state, Stage.DISCONTINUED, p.on)
            return
        occur(state, LegalEvent.FINAL, p.on, entry.recorded_at)
        _become_final(state, p.on)
    elif p.result is AppealResult.QUASHED_REMANDED or against_discontinuation:
        state.outcome = None
        if "remanded" not in state.facts:
            state.facts.append("remanded")
        _set_stage(state, Stage.LODGED, p.on)
    else:
        state.outcome = p.outcome
        occur(state, LegalEvent.FINAL, p.on, entry.recorded_at)
        _become_final(state, p.on)


def _make_final(state: CaseState, p: ActionInput, *_: Any) -> None:
    _become_final(state, p.on)


def _report_absconded(
    state: CaseState, p: ActionInput, entry: CaseEvent, actor: str, recorded_at: datetime
) -> None:
    state.absconded = True
    if state.open_pause() is None:
        state.pauses.append(Pause(start=p.on, reason="absconded"))
    if not state.presumed_abandoned:
        state.presumed_abandoned, state.abandoned_since = True, p.on


def _review_abandonment(
    state: CaseState, p: ReviewAbandonmentInput, entry: CaseEvent, actor: str, recorded_at: datetime
) -> None:
    if p.confirm:
        if state.stage not in EXAMINATION:
            raise DomainError(
                "review_abandonment: a case can only be discontinued before its decision",
                state.stage,
                allowed_actions(state),
            )
        _discontinue(state, p, entry, actor, recorded_at)
        entry = _amend(state, entry, event=LegalEvent.DISCONTINUED)
        occur(state, LegalEvent.DISCONTINUED, p.on, entry.recorded_at)
        _set_stage(state, Stage.DISCONTINUED, p.on)
    else:
        state.presumed_abandoned, state.abandoned_since = False, None
        state.last_contact_on = max(state.last_contact_on, p.on)


def _discontinue(state: CaseState, p: ActionInput, *_: Any) -> None:
    state.stage_before_discontinuation = state.stage
    state.outcome = Outcome.IMPLICITLY_WITHDRAWN
    state.presumed_abandoned, state.abandoned_since = False, None


def _request_reopening(state: CaseState, p: ActionInput, *_: Any) -> None:
    window = state.deadline(ClockName.REOPEN_WINDOW, p.on)
    if window is not None and window.status is ClockStatus.EXPIRED:
        raise DomainError(
            f"request_reopening: the reopen window ended on {window.due.isoformat()}",
            state.stage,
            allowed_actions(state),
        )
    discontinued = state.last(LegalEvent.DISCONTINUED)
    if discontinued is not None:
        # The time the case stood discontinued is the applicant's delay: clocks run on after it.
        state.pauses.append(Pause(start=discontinued.on, end=p.on, reason="implicit withdrawal"))
    state.outcome = None
    _set_stage(state, state.stage_before_discontinuation or Stage.LODGED, p.on)
    state.stage_before_discontinuation = None


def _withdraw(state: CaseState, p: ActionInput, *_: Any) -> None:
    state.presumed_abandoned, state.abandoned_since = False, None


def _pause(state: CaseState, p: PauseClockInput, *_: Any) -> None:
    state.pauses.append(
        Pause(start=p.on, attributable_to=p.attributable_to, clocks=p.clocks, reason=p.reason)
    )


def _resume(state: CaseState, p: ActionInput, *_: Any) -> None:
    state.pauses = [
        q.model_copy(update={"end": p.on}) if q.end is None else q for q in state.pauses
    ]
    state.absconded = False


def _appoint_representative(state: CaseState, *_: Any) -> None:
    state.representative_appointed = True


def _reception_assessed(state: CaseState, *_: Any) -> None:
    state.reception_assessed = True


def _issue_personal_id(state: CaseState, *_: Any) -> None:
    state.personal_id_issued = True


def _issue_permit(state: CaseState, *_: Any) -> None:
    state.permit_issued = True


def _issue_document(state: CaseState, p: IssueDocumentInput, *_: Any) -> None:
    if p.kind is DocumentKind.CONVENTION_TRAVEL_DOCUMENT and state.outcome is not (
        Outcome.REFUGEE_STATUS
    ):
        raise DomainError(
            "issue_document: a Convention Travel Document is for recognised refugees only",
            state.stage,
            allowed_actions(state),
        )
    state.documents.append(p.kind)


def _family_reunification(state: CaseState, *_: Any) -> None:
    state.family_reunification_requested = True


def _start_return(state: CaseState, *_: Any) -> None:
    state.return_counselling = True


def _return_consent(state: CaseState, *_: Any) -> None:
    state.return_consent = True


def _risk_assessment(state: CaseState, p: RiskAssessmentInput, entry: CaseEvent, *_: Any) -> None:
    if not p.at_risk:
        state.risk_assessed = True
        return
    # Non-refoulement: the person is channelled back to asylum with a subsequent application.
    entry = _amend(state, entry, event=LegalEvent.MADE)
    occur(state, LegalEvent.MADE, p.on, entry.recorded_at)
    state.final = False
    state.outcome = None
    state.return_counselling = state.return_consent = False
    if "subsequent" not in state.facts:
        state.facts.append("subsequent")
    _set_stage(state, Stage.APPLICATION_MADE, p.on)


def _record_departure(state: CaseState, *_: Any) -> None:
    state.departed = True


def _record_reintegration(state: CaseState, *_: Any) -> None:
    state.reintegrated = True


def _assign_caseworker(state: CaseState, p: AssignCaseworkerInput, *_: Any) -> None:
    state.assignee = p.user


def _assign_legal_aid(state: CaseState, p: AssignLegalAidInput, *_: Any) -> None:
    state.legal_aid_org = p.org


def _close(state: CaseState, *_: Any) -> None:
    state.presumed_abandoned = False


_EFFECTS: dict[Action, Effect] = {
    Action.REFER: _refer,
    Action.MAKE_APPLICATION: _make_application,
    Action.LODGE: _lodge,
    Action.ASSIGN_PROCEDURE: _assign_procedure,
    Action.APPOINT_REPRESENTATIVE: _appoint_representative,
    Action.RECORD_RECEPTION_ASSESSMENT: _reception_assessed,
    Action.DECIDE_ADMISSIBILITY: _decide_admissibility,
    Action.SCHEDULE_INTERVIEW: _schedule_interview,
    Action.RECORD_INTERVIEW: _record_interview,
    Action.EXTEND_DEADLINE: _extend,
    Action.DECIDE: _decide,
    Action.DECIDE_APPEAL: _decide_appeal,
    Action.MAKE_FINAL: _make_final,
    Action.REPORT_ABSCONDED: _report_absconded,
    Action.REVIEW_ABANDONMENT: _review_abandonment,
    Action.DISCONTINUE: _discontinue,
    Action.REQUEST_REOPENING: _request_reopening,
    Action.WITHDRAW: _withdraw,
    Action.PAUSE_CLOCK: _pause,
    Action.RESUME_CLOCK: _resume,
    Action.ISSUE_PERSONAL_ID: _issue_personal_id,
    Action.ISSUE_PERMIT: _issue_permit,
    Action.ISSUE_DOCUMENT: _issue_document,
    Action.REQUEST_FAMILY_REUNIFICATION: _family_reunification,
    Action.START_RETURN: _start_return,
    Action.RECORD_RETURN_CONSENT: _return_consent,
    Action.RECORD_RISK_ASSESSMENT: _risk_assessment,
    Action.RECORD_DEPARTURE: _record_departure,
    Action.RECORD_REINTEGRATION: _record_reintegration,
    Action.ASSIGN_CASEWORKER: _assign_caseworker,
    Action.ASSIGN_LEGAL_AID: _assign_legal_aid,
    Action.CLOSE: _close,
    Action.MIGRATE_RULES: _migrate_rules,
}


# --------------------------------------------------------------------------------------------
# What happens when time passes (the workflow's timers call this; pure like `apply`)


def _instance_key(deadline: Deadline) -> str:
    return f"{deadline.trigger.value}:{deadline.clock.value}:{deadline.trigger_date.isoformat()}"


def next_wakeup(state: CaseState, now: datetime) -> tuple[datetime | None, str | None]:
    """The earliest instant something is due: a running clock or the no-contact watch.

    Returns the instant (UTC) and what falls due then (a clock name, or `no_contact`).
    """
    if state.stage in TERMINAL_STAGES:
        return None, None
    candidates: list[tuple[datetime, str]] = [
        (d.fires_at, d.clock.value)
        for d in state.deadlines(local_date(state, now), now)
        # Expired or reached but not yet acted on counts too: it fell due while the workflow
        # was busy, and its wake-up is now.
        if d.status in _DUE_OR_RUNNING and _instance_key(d) not in state.settled_clocks
    ]
    watch = state.abandonment_watch_until
    if watch is not None:
        # The watch falls due at the start of its day, like an entitlement.
        candidates.append((fires_at(watch, ClockKind.ENTITLEMENT, state.pack), "no_contact"))
    if not candidates:
        return None, None
    return min(candidates)


_DUE_OR_RUNNING = (ClockStatus.RUNNING, ClockStatus.EXPIRED, ClockStatus.REACHED)


def local_date(state: CaseState, now: datetime) -> date:
    """The calendar day `now` falls on in the case's jurisdiction."""
    return now.astimezone(state.pack.tz).date()


def settle(state: CaseState, now: datetime, *, recorded_at: datetime) -> Applied:
    """Act on every clock and watch that fell due by `now` and was not yet acted on.

    Expiries have consequences: labour-market access reached is recorded as an entitlement; an
    authority's deadline passing is recorded as overdue; the appeal window passing without an
    appeal makes the decision final (integration or return); the reopen window passing closes the
    case; the no-contact watch flags the case as presumed abandoned (never discontinued).

    When nothing is due (after most actions, and on most of the main loop's passes) `state`
    itself is returned, not a copy, with no events; otherwise a copy (see `_fork`).
    """
    due: list[Deadline] | None = _due_clocks(state, now)
    if not due and _watch_due(state, now) is None:
        return Applied(state, [])
    new = _fork(state)
    start = len(new.history)
    # Settling one clock can start or end others (finality starts nothing, but is ordered), so
    # repeat until nothing more falls due.
    for _ in range(20):
        changed = False
        # The first pass acts on what was found due on `state` (the copy is equal to it).
        if due is None:
            due = _due_clocks(new, now)
        for d in due:
            new.settled_clocks.append(_settle_key(d))
            _clock_consequence(new, d, recorded_at)
            changed = True
        due = None
        # After the clocks' consequences, which can start or end the watch (none changes the
        # pack, so the local day is the one the clocks were found due on).
        watch = _watch_due(new, now)
        if watch is not None:
            new.presumed_abandoned, new.abandoned_since = True, watch
            _record(
                new,
                actor="system",
                action="presumed_abandoned",
                on=watch,
                recorded_at=recorded_at,
                data={"days_without_contact": new.pack.no_contact_days},
                derived=True,
            )
            changed = True
        if not changed:
            break
    return Applied(new, new.history[start:])


def _due_clocks(state: CaseState, now: datetime) -> list[Deadline]:
    """The clocks of `state` due by `now` and not yet acted on, in the order they fell due."""
    # In that order, so a late catch-up records history chronologically.
    deadlines = sorted(state.deadlines(local_date(state, now), now), key=lambda d: d.fires_at)
    # One deadline per clock, so no instance key repeats within one pass.
    return [
        d
        for d in deadlines
        if d.fires_at <= now
        and d.status in (ClockStatus.EXPIRED, ClockStatus.REACHED, ClockStatus.MISSED)
        and _settle_key(d) not in state.settled_clocks
    ]


def _settle_key(deadline: Deadline) -> str:
    """What marks a clock instance as acted on (its expiry, and separately its being missed)."""
    key = _instance_key(deadline)
    return f"missed:{key}" if deadline.status is ClockStatus.MISSED else key


def _watch_due(state: CaseState, now: datetime) -> date | None:
    """The day the no-contact watch fell due, if it did by `now` (None otherwise)."""
    watch = state.abandonment_watch_until
    return watch if watch is not None and local_date(state, now) >= watch else None


def _clock_consequence(state: CaseState, d: Deadline, recorded_at: datetime) -> None:
    day_after = d.due + timedelta(days=1)
    data: dict[str, Any] = {"clock": d.clock.value, "due": d.due.isoformat(), "rule": d.rule}
    if d.status is ClockStatus.MISSED:
        # A breach on record: the case left the stages where the act could be done.
        left_on = state.left_stages_on(d.clock) or state.stage_since
        _record(
            state,
            actor="system",
            action="deadline_missed",
            on=left_on,
            recorded_at=recorded_at,
            data=data,
            derived=True,
        )
        return
    if d.status is ClockStatus.REACHED:
        if d.clock is ClockName.LABOUR_MARKET_ACCESS:
            state.labour_market_reached_on = d.due
            data["personal_id_issued"] = state.personal_id_issued
        _record(
            state,
            actor="system",
            action="entitlement_reached",
            on=d.due,
            recorded_at=recorded_at,
            data=data,
            derived=True,
        )
        return
    _record(
        state,
        actor="system",
        action="deadline_expired",
        on=day_after,
        recorded_at=recorded_at,
        data=data,
        derived=True,
    )
    if d.clock is ClockName.APPEAL and state.stage is Stage.NOTIFIED:
        _record(
            state,
            actor="system",
            action="decision_final",
            event=LegalEvent.FINAL,
            on=day_after,
            recorded_at=recorded_at,
            note="no appeal within the appeal window",
            derived=True,
        )
        _become_final(state, day_after)
    elif d.clock is ClockName.REOPEN_WINDOW and state.stage is Stage.DISCONTINUED:
        _record(
            state,
            actor="system",
            action="closed",
            event=LegalEvent.CLOSED,
            on=day_after,
            recorded_at=recorded_at,
            note="reopen window ended",
            derived=True,
        )
        _set_stage(state, Stage.CLOSED, day_after)
    elif d.clock is ClockName.APPEAL and state.stage is Stage.DISCONTINUED:
        pass  # the discontinuation stands; the reopen window (if any) keeps running
    elif (
        d.actor is Actor.APPLICANT and d.clock is ClockName.LODGING and not state.presumed_abandoned
    ):
        state.presumed_abandoned, state.abandoned_since = True, day_after


def as_public_dict(state: CaseState, now: datetime) -> dict[str, Any]:
    """The case as shared/api.md shows it (without personal data, which lives in SQL)."""
    as_of = local_date(state, now)
    deadlines = state.deadlines(as_of, now)
    waiting = waiting_for(state, deadlines)
    return {
        "id": state.case_id,
        "reference": state.reference,
        "stage": state.stage.value,
        "stage_since": state.stage_since.isoformat(),
        "procedure": state.procedure.value,
        "jurisdiction": state.family,
        "outcome": state.outcome.value if state.outcome else None,
        "final": state.final,
        "rule_pack": {
            "id": state.pack_id,
            "version": state.pack_version,
            "pinned": state.pack_pinned,
            "digest": state.pack_digest or state.pack.digest,
        },
        "deadlines": [d.model_dump(mode="json") for d in deadlines],
        "allowed_actions": [a.value for a in allowed_actions(state)],
        "waiting_for": waiting,
        "flags": state.flags(as_of, now, deadlines),
        "personal_id_issued": state.personal_id_issued,
        "assignee": state.assignee,
        "legal_aid_org": state.legal_aid_org,
        "last_contact_on": state.last_contact_on.isoformat(),
    }


def waiting_for(state: CaseState, deadlines: list[Deadline]) -> dict[str, Any] | None:
    """What the case waits for next and until when (the earliest running clock)."""
    running = sorted(
        (d for d in deadlines if d.status in (ClockStatus.RUNNING, ClockStatus.PAUSED)),
        key=lambda d: d.due,
    )
    if running:
        d = running[0]
        what = (
            f"{d.clock.value.replace('_', ' ')} (entitlement)"
            if d.kind is ClockKind.ENTITLEMENT
            else f"{d.clock.value.replace('_', ' ')} by the {d.actor.value}"
        )
        return {"what": what, "clock": d.clock.value, "until": d.due.isoformat()}
    if state.stage in TERMINAL_STAGES:
        return None
    nxt = allowed_actions(state)
    return {"what": f"next action: {nxt[0].value}" if nxt else "nothing", "until": None}
