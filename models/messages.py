"""Messages between the API, the case workflow and its activities (pure data, no Temporal).

Nothing here carries personal data: names, dates of birth and nationalities stay in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, Field

from models.case_state import CaseEvent, CaseState
from models.deadlines import Deadline
from models.enums import Action, ClockStatus, IdentifiedAt, Stage, Vulnerability
from models.reminders import SentReminder
from models.settling import local_date

PATCH_LEVEL = 1
"""The `CaseInput.patch_level` new cases start with (`workflows.patches.FOLDED_PATCHES`)."""


class CaseInput(BaseModel):
    """What a case workflow starts with (or continues as new with, carrying its state)."""

    case_id: str
    reference: str | None = None
    """The readable reference the API gave the case (`RS-2026-000123`); None in cases begun
    before references (their reference lives in SQL only)."""
    jurisdiction: str
    identified_on: date
    identified_at: IdentifiedAt = IdentifiedAt.INLAND
    unaccompanied_child: bool = False
    vulnerable: bool = False
    vulnerabilities: list[Vulnerability] | None = None
    """The kinds intake recorded (no detail), so that the flag can be cleared once the last is
    gone; None in cases begun before the kinds were passed (their flag is then kept)."""
    legal_aid_org: str | None = None
    actor: str = "system"
    history_threshold: int = Field(default=2000, ge=50)
    search_attributes: bool = True
    carried: CaseState | None = None
    projected_seq: int = 0
    caller_projects: bool = False
    """The starter writes the first projection from its `refresh(project=True)` result (the
    API does, in the request); the workflow then skips its own projection activity."""
    reminder_offsets_days: list[int] = Field(
        default_factory=lambda: [7, 2],
        description="Days before each running deadline on which the legal aid org is reminded",
    )
    sent_reminders: list[SentReminder] = Field(default_factory=list)
    """Reminders sent so far (carried across continue-as-new): a re-derivation of the record
    that no longer bears one out withdraws it (`reminder_retracted`)."""
    patch_level: int = Field(default=0, ge=0)
    """Which of the workflow's `workflow.patched` changes this run was started with (see
    `workflows.patches.FOLDED_PATCHES`): those are on without asking the history, so its
    history holds none of their markers (nor the search-attribute upsert the SDK adds to each).
    0, in inputs from before the field: every change is asked of the history, as it was."""

    @classmethod
    def opening(
        cls,
        case_id: str,
        jurisdiction: str,
        identified_on: date,
        *,
        identified_at: IdentifiedAt = IdentifiedAt.BORDER,
        vulnerabilities: Iterable[Vulnerability] = (),
        legal_aid_org: str | None = None,
        actor: str = "system",
        **options: Any,
    ) -> CaseInput:
        """The input a new case starts with, from what intake records about it.

        The one place where intake becomes workflow input: the person's vulnerabilities become
        the two flags the lifecycle reads (no personal data goes further). `options` are the
        process's settings for its workflows (`Settings.workflow_options`) and the like.
        """
        found = set(vulnerabilities)
        options.setdefault("patch_level", PATCH_LEVEL)
        return cls(
            case_id=case_id,
            jurisdiction=jurisdiction,
            identified_on=identified_on,
            identified_at=identified_at,
            unaccompanied_child=Vulnerability.UNACCOMPANIED_CHILD in found,
            vulnerable=bool(found),
            vulnerabilities=sorted(found),
            legal_aid_org=legal_aid_org,
            actor=actor,
            **options,
        )


class ActionRequest(BaseModel):
    """One action on a case, as the `act` update receives it."""

    action: Action
    body: dict[str, Any]
    actor: str = Field(min_length=1, max_length=100)
    signature: str | None = Field(default=None, max_length=100)
    """The API's HMAC of the action (`workflows.action_signing`); the validators check it."""
    project: bool = False
    """The caller writes the read model from the update's result (its `projection` key): the
    API does, so the row is current when the caseworker gets the answer and the workflow need
    not run a projection activity (a second workflow task the next action would wait behind)."""


class ActionBatch(BaseModel):
    """Several actions applied in order as one update (cases entered late or migrated)."""

    actions: list[ActionRequest] = Field(min_length=1, max_length=200)
    project: bool = False
    """As `ActionRequest.project`, for the whole batch."""


class Refresh(BaseModel):
    """Options of the `refresh` update (sent without any, it only settles due clocks)."""

    project: bool = False
    """Hand the read model's batch back in the result (see `ActionRequest.project`)."""


class CaseRow(BaseModel):
    """The read model's row for a case: what supervisors filter and sort on."""

    id: str
    reference: str | None = None
    jurisdiction: str
    stage: Stage
    stage_since: date
    procedure: str
    outcome: str | None
    final: bool
    pack_id: str
    pack_version: str
    pack_pinned: bool
    unaccompanied_child: bool
    vulnerable: bool
    legal_aid_org: str | None
    assignee: str | None
    presumed_abandoned: bool
    abandoned_since: date | None
    overdue: bool
    overdue_since: date | None
    overdue_clock: str | None
    entitled_blocked: bool
    labour_market_reached_on: date | None
    personal_id_issued: bool
    next_deadline_due: date | None
    next_deadline_clock: str | None
    last_action_on: date
    last_contact_on: date
    identified_on: date
    lodged_on: date | None
    decided_on: date | None
    subsequent: bool
    waiting_for_interpreter: bool = False
    last_seq: int
    updated_at: datetime
    # Issue #19 (protection track b); defaults keep batches from older workers valid.
    accommodation_centre: str | None = None
    accommodated_since: date | None = None
    detention: str | None = None
    detention_since: date | None = None


class ProjectionBatch(BaseModel):
    """Everything the read model needs after some accepted events (idempotent by case and seq)."""

    case: CaseRow
    events: list[CaseEvent]
    deadlines: list[Deadline]


def case_row(state: CaseState, now: datetime) -> tuple[CaseRow, list[Deadline]]:
    """The read-model row and current deadlines of a case as of `now`."""
    from models.enums import Actor, LegalEvent

    today = local_date(state, now)
    deadlines = state.deadlines(today, now)
    expired = sorted(
        (d for d in deadlines if d.status is ClockStatus.EXPIRED and d.actor is Actor.AUTHORITY),
        key=lambda d: d.due,
    )
    running = sorted(
        (d for d in deadlines if d.status in (ClockStatus.RUNNING, ClockStatus.PAUSED)),
        key=lambda d: d.due,
    )
    lodged, decided = state.last(LegalEvent.LODGED), state.last(LegalEvent.DECIDED)
    row = CaseRow(
        id=state.case_id,
        reference=state.reference,
        jurisdiction=state.family,
        stage=state.stage,
        stage_since=state.stage_since,
        procedure=state.procedure.value,
        outcome=state.outcome.value if state.outcome else None,
        final=state.final,
        pack_id=state.pack_id,
        pack_version=state.pack_version,
        pack_pinned=state.pack_pinned,
        unaccompanied_child=state.unaccompanied_child,
        vulnerable=state.vulnerable,
        legal_aid_org=state.legal_aid_org,
        assignee=state.assignee,
        presumed_abandoned=state.presumed_abandoned,
        abandoned_since=state.abandoned_since,
        overdue=bool(expired),
        overdue_since=(expired[0].fires_at.astimezone(state.pack.tz).date() if expired else None),
        overdue_clock=expired[0].clock.value if expired else None,
        entitled_blocked=state.entitled_but_blocked,
        labour_market_reached_on=state.labour_market_reached_on,
        personal_id_issued=state.personal_id_issued,
        next_deadline_due=running[0].due if running else None,
        next_deadline_clock=running[0].clock.value if running else None,
        last_action_on=state.last_action_on,
        last_contact_on=state.last_contact_on,
        identified_on=state.identified_on,
        lodged_on=lodged.on if lodged else None,
        decided_on=decided.on if decided else None,
        subsequent="subsequent" in state.facts,
        waiting_for_interpreter=state.waiting_for_interpreter,
        last_seq=state.seq,
        updated_at=now,
        accommodation_centre=state.accommodation_centre,
        accommodated_since=state.accommodated_since,
        detention=state.detention.value if state.detention else None,
        detention_since=state.detention_since,
    )
    return row, deadlines


def start_of_day_utc(day: date) -> datetime:
    """Midnight UTC of a day (for Datetime search attributes that hold a legal date)."""
    return datetime.combine(day, time(0), tzinfo=UTC)
