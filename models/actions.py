"""The body of each action (shared/api.md): validated before it reaches the transition table.

The API uses these models for request validation (a bad field is a 422 naming it) and the
workflow receives them as update arguments, so one definition serves both.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from models.enums import (
    PUBLIC_EVENTS,
    Action,
    AgeOutcome,
    AppealResult,
    Attribution,
    ClockName,
    DocumentKind,
    InformationForm,
    LegalEvent,
    MissedBy,
    Outcome,
    Procedure,
    ReferralOutcome,
    ReferralTarget,
    ReunificationOutcome,
    Vulnerability,
)

_NOTE_MAX = 4000


def _iso_date_only(value: object) -> object:
    """Refuse numbers for dates: pydantic would read `0` as 1970-01-01 (api.md: ISO strings)."""
    if isinstance(value, int | float | bool):
        raise ValueError("a date is an ISO string YYYY-MM-DD, not a number")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]
"""A date given as an ISO string (or a `date`), never as a number."""


class ActionInput(BaseModel):
    """Fields every action has: the legal date of the act and an optional note."""

    model_config = ConfigDict(extra="forbid")

    on: IsoDate = Field(description="Legal date of the act (not in the future)")
    note: str | None = Field(default=None, max_length=_NOTE_MAX)


_DETAIL_MAX = 4000

SEALED_DETAIL = "detail"
"""The field of protection acts that holds special-category detail (health, age assessment,
trafficking...). The API takes it out of the body before the act reaches the workflow and keeps
it in SQL, sealed (`core/sealed.py`); the workflow refuses an act that still carries it."""


def _detail_field() -> Any:
    return Field(
        default=None,
        max_length=_DETAIL_MAX,
        description="Special-category detail: kept in SQL (sealed where a key is set), "
        "never in the workflow",
    )


class ScreeningInput(ActionInput):
    """`complete_screening`: profiling done; the needs found are recorded as vulnerabilities."""

    needs: list[Vulnerability] = Field(
        default_factory=list, description="Vulnerabilities found at screening (may be none)"
    )
    detail: str | None = _detail_field()


class ReferInput(ActionInput):
    """`refer`: a referral to a service, at any open stage.

    It never changes the stage, except `to: none` (the person declines to apply for
    protection), which moves the case to `referred` before an application is made.
    """

    to: ReferralTarget
    declines_to_apply: bool | None = Field(
        default=None,
        description="Only with `to: none` (where it is the default): the person does not seek "
        "protection; the case moves to `referred`",
    )
    detail: str | None = _detail_field()

    @model_validator(mode="after")
    def _declining(self) -> ReferInput:
        if self.to is ReferralTarget.NONE and self.declines_to_apply is False:
            raise ValueError("`to: none` means the person declines to apply")
        if self.to is not ReferralTarget.NONE and self.declines_to_apply:
            raise ValueError("declines_to_apply goes with `to: none` only")
        return self

    @property
    def declines(self) -> bool:
        """Whether the person declines to apply (the one referral that moves the stage)."""
        return self.to is ReferralTarget.NONE


class ReferralOutcomeInput(ActionInput):
    """`record_referral_outcome`: the service acknowledged the referral, or answered it."""

    referral: int = Field(ge=1, description="The `id` of the referral (the `refer` act's seq)")
    acknowledged: bool | None = None
    outcome: ReferralOutcome | None = None
    detail: str | None = _detail_field()

    @model_validator(mode="after")
    def _something(self) -> ReferralOutcomeInput:
        if not self.acknowledged and self.outcome is None:
            raise ValueError("give acknowledged: true, an outcome, or both")
        return self


class VulnerabilityInput(ActionInput):
    """`record_vulnerability`: a vulnerability found (`present: true`) or no longer found."""

    kind: Vulnerability
    present: bool
    detail: str | None = _detail_field()


_LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class InformationGivenInput(ActionInput):
    """`record_information_given`: information on rights and the procedure was given.

    In a language the person understands (a BCP 47 tag such as `ar`, `fa`, `ps`, `uk`).
    """

    language: str = Field(pattern=_LANGUAGE, max_length=35)
    form: InformationForm


class AssignInterpreterInput(ActionInput):
    """`assign_interpreter`: an interpreter of the pool for the scheduled interview."""

    interpreter: str = Field(min_length=1, max_length=64)


class AgeAssessmentInput(ActionInput):
    """`record_age_assessment`: the outcome; the method and findings go in `detail` (sealed).

    `adult` clears the unaccompanied-child flag; `minor` and `inconclusive` (the benefit of the
    doubt) keep it, or set it with `unaccompanied: true`.
    """

    outcome: AgeOutcome
    unaccompanied: bool | None = None
    detail: str | None = _detail_field()


class BestInterestsInput(ActionInput):
    """`record_best_interests`: a best-interests assessment was made (its content: `detail`)."""

    detail: str | None = _detail_field()


class MakeApplicationInput(ActionInput):
    """`make_application`: the intention to seek protection is expressed."""

    to_other_authority: bool = False
    mass_influx: bool = False


class LodgeInput(ActionInput):
    """`lodge`: the application is lodged (pins the rule pack)."""

    subsequent: bool = False


class AssignProcedureInput(ActionInput):
    """`assign_procedure`: channel the application into a procedure."""

    procedure: Procedure
    grounds: str | None = Field(default=None, max_length=200)


class DecideAdmissibilityInput(ActionInput):
    """`decide_admissibility`: admissible, or inadmissible on a ground."""

    admissible: bool
    ground: str | None = Field(default=None, max_length=200)


class ScheduleInterviewInput(ActionInput):
    """`schedule_interview`: the interview date (may be in the future), language, interpreter.

    Without an interpreter, the API assigns an available one of the pool for the language;
    with none available the case waits for an interpreter.
    """

    interview_on: IsoDate
    language: str | None = Field(default=None, pattern=_LANGUAGE, max_length=35)
    interpreter: str | None = Field(default=None, min_length=1, max_length=64)


class RecordInterviewInput(ActionInput):
    """`record_interview`: whether the interview took place, and if not, whose side missed it.

    Only a miss on the applicant's side (the default) counts as the applicant's missed
    interview; the authority's or the interpreter's does not count against them.
    """

    attended: bool
    missed_by: MissedBy | None = None

    @model_validator(mode="after")
    def _missed(self) -> RecordInterviewInput:
        if self.attended and self.missed_by is not None:
            raise ValueError("missed_by only when the interview did not take place")
        return self


class ExtendDeadlineInput(ActionInput):
    """`extend_deadline`: take the next extension step of a clock."""

    clock: ClockName
    reason: str = Field(min_length=1, max_length=500)


class DecideInput(ActionInput):
    """`decide`: the first-instance decision."""

    outcome: Outcome
    grounds: str | None = Field(default=None, max_length=200)


class DecideAppealInput(ActionInput):
    """`decide_appeal`: dismissed, quashed and remanded, or substituted (with an outcome)."""

    result: AppealResult
    outcome: Outcome | None = None


class ReviewAbandonmentInput(ActionInput):
    """`review_abandonment`: confirm the presumption (discontinue) or lift it."""

    confirm: bool


class PauseClockInput(ActionInput):
    """`pause_clock`: stop the clocks from `on` (inclusive) until `resume_clock`."""

    reason: str = Field(min_length=1, max_length=500)
    attributable_to: Attribution
    clocks: list[ClockName] | None = None


class CorrectEventInput(ActionInput):
    """`correct_event`: the legal date of an earlier event was wrong."""

    event: LegalEvent = Field(description="One of: " + ", ".join(e.value for e in PUBLIC_EVENTS))
    date: IsoDate


class RetractEventInput(ActionInput):
    """`retract_event`: an act recorded by mistake; the case is recomputed without it."""

    seq: int = Field(ge=1, description="The `seq` of the recorded act to retract")
    reason: str = Field(min_length=1, max_length=500)


class MigrateRulesInput(ActionInput):
    """`migrate_rules`: bind the case to another content of a pack it is pinned under.

    Recorded by `asylumflow rules migrate` only, never through the API.
    """

    pack: str = Field(min_length=1, max_length=100, description="The pack id (never another id)")
    to_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    reason: str | None = Field(default=None, max_length=500)


class IssueDocumentInput(ActionInput):
    """`issue_document`: an identity or travel document, or the applicant's document.

    On the integration track: an ID card, residence permit or travel document; during the
    procedure: the document certifying applicant status (`applicant_document`).
    """

    kind: DocumentKind


class RiskAssessmentInput(ActionInput):
    """`record_risk_assessment`: the pre-departure non-refoulement check."""

    at_risk: bool


class AssignCaseworkerInput(ActionInput):
    """`assign_caseworker`: who works on the case (a user name, not applicant data)."""

    user: str = Field(min_length=1, max_length=100)


class MonitorConsentInput(ActionInput):
    """`record_monitor_consent`: the person consents to a monitor reading the file, or revokes."""

    given: bool = Field(description="true: consent recorded; false: an earlier consent revoked")


class AssignLegalAidInput(ActionInput):
    """`assign_legal_aid`: which legal aid organisation represents the applicant."""

    org: str | None = Field(min_length=1, max_length=100)


# Issue #19 (protection track b): reception and detention.


class AssignAccommodationInput(ActionInput):
    """`assign_accommodation`: a place in a reception centre (its id, from `/reception/centres`).

    A full centre still takes the person (nobody is left outside): the centre and the case are
    then flagged `over_capacity`.
    """

    centre: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class OrderDetentionInput(ActionInput):
    """`order_detention`: detention, or an alternative to detention (`alternative: true`).

    `ground` is special-category data: the API keeps it sealed in SQL and sends the workflow
    the order without it (the workflow refuses an order that carries one).
    """

    ground: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="The legal ground of the order (required by the API; kept in SQL only)",
    )
    alternative: bool = Field(
        default=False, description="An alternative to detention (reporting, residence...)"
    )


class ReviewDetentionInput(ActionInput):
    """`review_detention`: a review of the detention; `continued: false` releases the person."""

    continued: bool


SEALED_FIELDS: dict[Action, tuple[str, ...]] = {Action.ORDER_DETENTION: ("ground",)}
"""Fields the API takes out of a body before it reaches the workflow, and keeps sealed in SQL
(special-category data: issue #19)."""
# Tracks around a decision (issue 20, branch `tracks`).


class DecideFurtherAppealInput(DecideAppealInput):
    """`decide_further_appeal`: the court dismisses, quashes and remands, or substitutes."""


class RefuseReturnConsentInput(ActionInput):
    """`refuse_return_consent`: the person refuses assisted voluntary return, or withdraws."""

    withdrawn: bool = Field(
        default=False,
        description="true: consent given earlier is withdrawn; false: refused at counselling",
    )


class RecordReturnDecisionInput(ActionInput):
    """`record_return_decision`: the return decision, with the voluntary departure it grants."""

    departure_days: int | None = Field(
        default=None,
        ge=1,
        le=366,
        description="The period for voluntary departure the decision fixes, in days (within "
        "the law's bounds); none: no period granted",
    )


class DecideFamilyReunificationInput(ActionInput):
    """`decide_family_reunification`: the family reunification application granted or refused."""

    outcome: ReunificationOutcome


class SubmitForResettlementInput(ActionInput):
    """`submit_for_resettlement`: the case is submitted to a resettlement state."""

    to_state: str = Field(
        pattern=r"^[A-Z]{2}$", description="The resettlement state (ISO 3166 alpha-2 code)"
    )


class DecideResettlementInput(ActionInput):
    """`decide_resettlement`: the resettlement state accepts or refuses the submission."""

    accepted: bool


# Responsibility procedure (Dublin III / AMMR, issue 20)


class ResponsibilityRequestInput(ActionInput):
    """`request_take_charge` / `request_take_back`: a request (notification) to another state."""

    to_state: str = Field(
        pattern=r"^[A-Z]{2}$",
        description="The requested Member State: ISO 3166 alpha-2 (Eurostat's EL for Greece)",
    )
    eurodac_hit_on: IsoDate | None = Field(
        default=None,
        description="The day the Eurodac hit (for take charge under 2024/1351 also a VIS hit) "
        "was received, where the request rests on one: it starts the shorter periods",
    )


class ResponsibilityReplyInput(ActionInput):
    """`record_responsibility_reply`: the requested state's explicit reply.

    Silence is not typed: when the reply period ends the engine records the acceptance.
    """

    accepted: bool = Field(description="true: accepted (transfer pending); false: refused")


ACTION_INPUTS: dict[Action, type[ActionInput]] = {
    Action.REFER: ReferInput,
    Action.MAKE_APPLICATION: MakeApplicationInput,
    Action.LODGE: LodgeInput,
    Action.ASSIGN_PROCEDURE: AssignProcedureInput,
    Action.DECIDE_ADMISSIBILITY: DecideAdmissibilityInput,
    Action.SCHEDULE_INTERVIEW: ScheduleInterviewInput,
    Action.RECORD_INTERVIEW: RecordInterviewInput,
    Action.EXTEND_DEADLINE: ExtendDeadlineInput,
    Action.DECIDE: DecideInput,
    Action.DECIDE_APPEAL: DecideAppealInput,
    Action.REVIEW_ABANDONMENT: ReviewAbandonmentInput,
    Action.PAUSE_CLOCK: PauseClockInput,
    Action.CORRECT_EVENT: CorrectEventInput,
    Action.RETRACT_EVENT: RetractEventInput,
    Action.ISSUE_DOCUMENT: IssueDocumentInput,
    Action.RECORD_RISK_ASSESSMENT: RiskAssessmentInput,
    Action.ASSIGN_CASEWORKER: AssignCaseworkerInput,
    Action.ASSIGN_LEGAL_AID: AssignLegalAidInput,
    Action.RECORD_MONITOR_CONSENT: MonitorConsentInput,
    # Protection track (issue #19)
    Action.COMPLETE_SCREENING: ScreeningInput,
    Action.RECORD_VULNERABILITY: VulnerabilityInput,
    Action.RECORD_REFERRAL_OUTCOME: ReferralOutcomeInput,
    Action.RECORD_INFORMATION_GIVEN: InformationGivenInput,
    Action.ASSIGN_INTERPRETER: AssignInterpreterInput,
    Action.RECORD_AGE_ASSESSMENT: AgeAssessmentInput,
    Action.RECORD_BEST_INTERESTS: BestInterestsInput,
    # Issue #19 (protection track b)
    Action.ASSIGN_ACCOMMODATION: AssignAccommodationInput,
    Action.ORDER_DETENTION: OrderDetentionInput,
    Action.REVIEW_DETENTION: ReviewDetentionInput,
    Action.MIGRATE_RULES: MigrateRulesInput,
    # Tracks around a decision (issue 20, branch `tracks`).
    Action.DECIDE_FURTHER_APPEAL: DecideFurtherAppealInput,
    Action.REFUSE_RETURN_CONSENT: RefuseReturnConsentInput,
    Action.RECORD_RETURN_DECISION: RecordReturnDecisionInput,
    Action.DECIDE_FAMILY_REUNIFICATION: DecideFamilyReunificationInput,
    Action.SUBMIT_FOR_RESETTLEMENT: SubmitForResettlementInput,
    Action.DECIDE_RESETTLEMENT: DecideResettlementInput,
    # Responsibility procedure (issue 20)
    Action.REQUEST_TAKE_CHARGE: ResponsibilityRequestInput,
    Action.REQUEST_TAKE_BACK: ResponsibilityRequestInput,
    Action.RECORD_RESPONSIBILITY_REPLY: ResponsibilityReplyInput,
}


def input_model(action: Action) -> type[ActionInput]:
    """The body model of `action` (plain `ActionInput` for actions with no extra fields)."""
    return ACTION_INPUTS.get(action, ActionInput)


def parse_input(action: Action, body: dict[str, Any]) -> ActionInput:
    """Validate a raw body for `action` (raises pydantic's ValidationError)."""
    return input_model(action).model_validate(body)
