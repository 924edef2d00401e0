"""Request and response shapes of the HTTP API (shared/api.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from api.text_safety import check_text
from models.actions import IsoDate, input_model
from models.enums import (
    Action,
    Actor,
    ClockKind,
    ClockName,
    ClockStatus,
    IdentifiedAt,
    LegalEvent,
    Outcome,
    Procedure,
    Stage,
    Vulnerability,
)
from models.transitions import TRANSITIONS

Sex = Literal["female", "male", "other", "unknown"]

NATIONALITY_OUTSIDE_ISO = frozenset({"XK", "XXA", "XXX"})
"""`nationality` codes shared/api.md accepts besides ISO 3166: Kosovo, stateless, unknown."""


_LATEST_ZONE = timezone(timedelta(hours=14))
"""The first zone to start each calendar day (Line Islands)."""


def _now() -> datetime:
    """The current instant (a function, so tests can move it to around midnight)."""
    return datetime.now(UTC)


class PersonIn(BaseModel):
    """The person behind a case. Stored in SQL only."""

    model_config = ConfigDict(extra="forbid")

    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    date_of_birth: IsoDate | None = None
    nationality: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 or alpha-3 code, or XK (Kosovo), XXA (stateless), "
        "XXX (unknown)",
        examples=["SYR"],
    )
    sex: Sex = "unknown"
    biometric_ref: str | None = Field(
        default=None, max_length=128, description="Reference into a biometric system (exact match)"
    )

    @field_validator("given_name", "family_name", "biometric_ref")
    @classmethod
    def _visible_text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)

    @field_validator("nationality")
    @classmethod
    def _iso_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import pycountry

        code = value.strip().upper()
        if code in NATIONALITY_OUTSIDE_ISO:
            return code
        found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
        if found is None and len(code) == 3:
            found = pycountry.countries.get(alpha_3=code)
        if found is None:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 or alpha-3 country code")
        return str(found.alpha_3)

    @field_validator("date_of_birth")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        # The person is not tied to one jurisdiction's calendar: future everywhere on Earth.
        if value is not None and value > _now().astimezone(_LATEST_ZONE).date():
            raise ValueError("date of birth is in the future")
        return value


class CaseCreate(BaseModel):
    """`POST /cases`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "jurisdiction": "rs",
                    "person": {
                        "given_name": "Amina",
                        "family_name": "Haddad",
                        "date_of_birth": "1994-03-02",
                        "nationality": "SYR",
                        "sex": "female",
                    },
                    "identified_on": "2026-11-20",
                    "identified_at": "border",
                    "vulnerabilities": [],
                    "legal_aid_org": None,
                }
            ]
        },
    )

    jurisdiction: str = Field(description="A family: eu, rs, me, pl…")
    person: PersonIn
    identified_on: IsoDate
    identified_at: IdentifiedAt = IdentifiedAt.BORDER
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    legal_aid_org: str | None = Field(default=None, max_length=100)

    @field_validator("jurisdiction")
    @classmethod
    def _known_family(cls, value: str) -> str:
        from models.rules import families

        if value not in families():
            raise ValueError(f"unknown jurisdiction {value!r}; use one of {', '.join(families())}")
        return value

    @field_validator("identified_on")
    @classmethod
    def _not_future(cls, value: date, info: ValidationInfo) -> date:
        from models.rules import local_today

        # The jurisdiction's own calendar day, as the workflow counts (absent if it was wrong).
        family = info.data.get("jurisdiction")
        now = _now()
        today = local_today(family, now) if family else now.astimezone(_LATEST_ZONE).date()
        if value > today:
            raise ValueError("identified_on is in the future")
        if family:
            # The same check the workflow makes at start: a case needs a pack in force.
            from models.rules import PackError, pack_in_force

            try:
                pack_in_force(family, value)
            except PackError as exc:
                raise ValueError(str(exc)) from None
        return value


class Page(BaseModel):
    """A page of a list with an opaque cursor for the next one."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None
    total: int | None = None


class SearchRequest(BaseModel):
    """`POST /cases/search`: what is typed goes in the body, never in a URL (personal data)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"q": "Zeinab Karawi"}, {"q": "RS-2026-000123"}]},
    )

    q: str = Field(
        min_length=1,
        max_length=200,
        description="A name (any transliteration, typos tolerated), an ISO date of birth, a "
        "case reference, or several of them",
    )
    limit: int = Field(default=20, ge=1, le=100)


# ---------------------------------------------------------------------------------------------
# Responses: typed views of what the API answers (OpenAPI `response_model`s).
#
# Every view allows extra keys and the routes answer with `response_model_exclude_unset`: the
# JSON a client receives is the dict the route built, key for key; these models type and
# document it (and a client generated from the OpenAPI document gets them) but never drop or
# add a key.


Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""An instant as the workflow wrote it (ISO 8601, UTC): passed through as text, because a
re-serialised datetime could change its spelling (`+00:00` becoming `Z`)."""


class View(BaseModel):
    """A response shape: declared fields typed, any further keys passed through as they are."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(View):
    """Every error: `detail` says what went wrong; some statuses add keys of their own."""

    detail: str


class ForbiddenBody(ErrorBody):
    """403: the role may not do this; `allowed_roles` may."""

    allowed_roles: list[str] = Field(default_factory=list)


class NotFoundBody(ErrorBody):
    """404: no such case (or one the user must not learn about), or no such action."""

    known_actions: list[Action] | None = Field(
        default=None, description="For an unknown action: every action there is"
    )


class ConflictBody(ErrorBody):
    """409: the stage does not allow the action."""

    stage: Stage | None
    allowed_actions: list[Action]
    index: int | None = Field(default=None, description="In a batch: the item refused")


class RulePackRef(View):
    """The rule pack a case follows (pinned at lodging)."""

    id: str
    version: str
    pinned: bool


class DeadlineView(View):
    """One legal clock with its provenance (the deadline object of shared/api.md)."""

    clock: ClockName
    due: date
    status: ClockStatus
    actor: Actor
    kind: ClockKind
    trigger: LegalEvent
    trigger_date: date
    period: str
    rolled: bool
    pause_days: int
    pauses: list[dict[str, Any]] = Field(default_factory=list)
    extensions: int = 0
    rule: str
    pack: str
    rule_version: str
    citation: str
    calendar: str
    unverified: bool = False
    completed_on: date | None = None
    late: bool = False
    days_late: int | None = None
    fires_at: Instant | None = None
    recomputed_at_lodging: bool = False
    note: str | None = None


class WaitingFor(View):
    """What the case waits for next (the earliest running clock), and until when.

    `what: "interpreter"`: an interview is scheduled in `language` with no interpreter
    assigned; `until` is the interview's day.
    """

    what: str
    clock: ClockName | None = None
    until: date | None
    language: str | None = None


class ReferralView(View):
    """A referral to a service, with its acknowledgement and outcome (issue #19)."""

    id: int
    to: str
    on: date
    acknowledged_on: date | None = None
    outcome: str | None = None
    outcome_on: date | None = None


class ProtectionView(View):
    """Profiling, referrals, information, interpreters and children's assessments (issue #19).

    Flags and dates only: the detail of each act is sealed in SQL, never in the workflow.
    """

    referrals: list[ReferralView] = Field(default_factory=list)
    vulnerabilities: list[str] = Field(
        default_factory=list,
        description="Kinds recorded present since the case was opened (by screening or "
        "record_vulnerability); the person's full list is `person.vulnerabilities`",
    )
    information_given: list[dict[str, Any]] = Field(default_factory=list)
    interview: dict[str, Any] | None = None
    age_assessment: str | None = None
    age_assessed_on: date | None = None
    best_interests_on: date | None = None


class SealedDetail(View):
    """The detail typed into one protection act: special-category data (GDPR Art 9)."""

    seq: int | None = Field(description="The act's seq in the case's history")
    action: str
    referral: int | None = Field(
        default=None, description="The referral (its seq) that a referral outcome answers"
    )
    detail: str
    recorded_by: str
    recorded_at: datetime


class DetentionGround(View):
    """One detention order (or alternative to detention) and its ground."""

    ordered_on: date
    alternative: bool
    ground: str


class ProtectionDetails(View):
    """What `GET /cases/{id}/protection/details` answers: the detail the workflow never has."""

    items: list[SealedDetail]
    detention_orders: list[DetentionGround]


class Wakeup(View):
    """When the case's workflow next wakes up by itself, and why."""

    at: Instant
    what: str


class PersonView(View):
    """The person, for users who may read it (personal data: never in a URL)."""

    given_name: str
    family_name: str
    date_of_birth: date | None
    nationality: str | None
    sex: str
    vulnerabilities: list[str]


class DuplicateCandidate(View):
    """A likely earlier registration of the same person, awaiting a supervisor."""

    id: int
    other_case_id: str
    score: float


class AccommodationView(View):
    """Issue #19: the reception centre the person has a place in (`over_capacity` in flags)."""

    centre: str
    since: date | None = None


class DetentionView(View):
    """Issue #19: detained or in an alternative to detention (the ground stays in SQL)."""

    status: Literal["detained", "alternative"]
    since: date | None = None


class CaseView(View):
    """A case as its workflow holds it: stage, clocks with provenance, what may happen next."""

    id: str
    stage: Stage
    stage_since: date
    procedure: Procedure
    jurisdiction: str
    outcome: Outcome | None = None
    final: bool
    rule_pack: RulePackRef
    deadlines: list[DeadlineView]
    allowed_actions: list[Action]
    waiting_for: WaitingFor | None = None
    flags: list[str]
    personal_id_issued: bool
    assignee: str | None = None
    legal_aid_org: str | None = None
    monitor_consent: bool = False
    accommodation: AccommodationView | None = None
    detention: DetentionView | None = None
    last_contact_on: date
    protection: ProtectionView | None = None
    next_wakeup: Wakeup | None = None
    person: PersonView | None = None
    linked_cases: list[str] | None = None
    duplicate_candidates: list[DuplicateCandidate] | None = Field(
        default=None, description="After `register`: the likely duplicates it found"
    )


class HistoryItem(View):
    """One event of a case: an act someone recorded, or what the engine concluded."""

    seq: int
    actor: str
    action: str
    event: str | None = None
    on: date
    recorded_at: Instant
    note: str | None = None
    note_org: str | None = Field(
        default=None, description="The organisation of the note's author (legal aid: its own)"
    )
    data: dict[str, Any] | None = None
    derived: bool = Field(default=False, description="Concluded by the engine, not an act")
    retracted: bool = Field(
        default=False, description="Shown false by a later-recorded act; counts nowhere else"
    )
    retracted_by: int | None = Field(default=None, description="The `seq` that retracted it")


class History(View):
    """`GET /cases/{id}/history`."""

    items: list[HistoryItem]


class CaseListItem(View):
    """A case's read-model row, as `GET /cases` lists it."""

    id: str
    jurisdiction: str
    stage: Stage
    stage_since: date
    procedure: str


class CasePage(View):
    """A page of cases; `next_cursor` fetches the next one."""

    items: list[CaseListItem]
    next_cursor: str | None = None
    total: int | None = None


class SupervisionItem(View):
    """A case on a supervision list, with why it is there and since when."""

    id: str
    reference: str | None = None
    stage: Stage
    stage_since: date
    jurisdiction: str
    procedure: str
    assignee: str | None
    legal_aid_org: str | None
    reason: str
    reason_code: str
    since: date


class SupervisionPage(View):
    """A page of a supervision list; `total` counts every matching case."""

    items: list[SupervisionItem]
    total: int
    next_cursor: str | None = None


class _OfCase(View):
    case_id: str


class LegalAidDeadline(DeadlineView, _OfCase):
    """A deadline of one of the org's cases (`case_id` first): running or paused, or lapsed."""


class LegalAidDeadlines(View):
    """`GET /legal-aid/deadlines`, soonest first."""

    items: list[LegalAidDeadline]
    next_cursor: str | None = Field(
        default=None,
        description="Paged (`limit` or `cursor` given): the next page's cursor, null on the last",
    )


# ---------------------------------------------------------------------------------------------
# The batch body: items discriminated by `action`, one model per action of the transition table.

BODY_MODEL = "x-asylumflow-body-model"
"""An operation's `openapi_extra` key naming the component its request body is documented by
(a route that checks its body item by item itself, see `openapi_components`)."""


def _batch_item(action: Action) -> type[BaseModel]:
    """`action`'s input model with the `action` tag a batch item carries."""
    name = "".join(part.title() for part in action.value.split("_")) + "Item"
    tag: Any = Literal[action.value]  # one literal per action
    item: type[BaseModel] = create_model(
        name,
        __base__=input_model(action),
        __doc__=f"`{action.value}` in a batch.",
        action=(tag, ...),
    )
    return item


_ITEMS = tuple(_batch_item(action) for action in TRANSITIONS)

ActionBatchItem = Annotated[Union[_ITEMS], Field(discriminator="action")]  # type: ignore[valid-type]  # noqa: UP007
"""One item of a batch: the action's name and its fields."""


class ActionBatchBody(BaseModel):
    """`POST /cases/{case_id}/actions`: actions applied in order, all or nothing."""

    model_config = ConfigDict(extra="forbid")

    actions: list[ActionBatchItem] = Field(min_length=1, max_length=200)


def openapi_components() -> dict[str, dict[str, Any]]:
    """Component schemas for request bodies that routes document by `BODY_MODEL`."""
    schema = ActionBatchBody.model_json_schema(ref_template="#/components/schemas/{model}")
    defs: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    return {**defs, "ActionBatchBody": schema}


class EurostatTableInfo(BaseModel):
    """One Eurostat table `/stats/eurostat/{table}` serves."""

    table: str
    dataset: str = Field(description="Eurostat's dataset code; a trailing `?` is unverified")
    title: str
    frequency: Literal["monthly", "quarterly"]
    dimensions: list[str] = Field(description="The cells' dimension columns, in order")


class EurostatTables(BaseModel):
    """`GET /stats/eurostat`: the tables."""

    items: list[EurostatTableInfo]


class Period(BaseModel):
    """A window of whole months, `YYYY-MM` inclusive."""

    from_: str | None = Field(alias="from", serialization_alias="from")
    """None: open (the export without `from`)."""
    to: str | None

    model_config = ConfigDict(populate_by_name=True)


class EurostatTableOut(EurostatTableInfo):
    """`GET /stats/eurostat/{table}`: the table's non-zero cells in Eurostat's codes."""

    period: Period
    jurisdiction: str | None
    rounded: bool = Field(description="Every cell rounded to the nearest 5 (`round=5`)")
    cells: list[dict[str, str | int]] = Field(
        description="One per non-zero cell: each dimension's code, and `value` (persons)"
    )


class ExportOut(BaseModel):
    """`GET /stats/export`: case-level rows with no identifier, k-anonymous."""

    k: int
    period: Period
    columns: list[str]
    rows: list[dict[str, str]]
    suppressed: int = Field(description="Rows left out because their combination was rarer than k")
