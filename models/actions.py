"""The body of each action (shared/api.md): validated before it reaches the transition table.

The API uses these models for request validation (a bad field is a 422 naming it) and the
workflow receives them as update arguments, so one definition serves both.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from models.enums import (
    PUBLIC_EVENTS,
    Action,
    AppealResult,
    Attribution,
    ClockName,
    DocumentKind,
    LegalEvent,
    Outcome,
    Procedure,
    ReferralTarget,
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


class ReferInput(ActionInput):
    """`refer`: where the border officer sends the person."""

    to: ReferralTarget


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
    """`schedule_interview`: the interview date (may be in the future)."""

    interview_on: IsoDate


class RecordInterviewInput(ActionInput):
    """`record_interview`: whether the applicant attended."""

    attended: bool


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
    """`issue_document`: an identity or travel document."""

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
    Action.MIGRATE_RULES: MigrateRulesInput,
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
