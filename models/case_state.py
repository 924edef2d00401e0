"""The state of one case: its history, the facts the rules read, and how it is first created.

`CaseState` is everything the rules need about a case (no personal data). The functions here
are the primitives every change of a state goes through: `fork` (a copy to change),
`record_event` (an entry in the history), `occur` (a legal event for the clocks), `amend` and
`set_stage`. `new_case` is the case as a border officer identifies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import copy
from datetime import date, datetime, timedelta
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, Field

from models.deadline_memo import memo_key, remembered
from models.deadlines import Deadline, Occurrence, Pause, compute_deadlines
from models.enums import (
    Actor,
    AgeOutcome,
    ClockKind,
    ClockName,
    ClockStatus,
    Detention,
    DocumentKind,
    IdentifiedAt,
    LegalEvent,
    Outcome,
    Procedure,
    ReferralTarget,
    ReunificationOutcome,
    Stage,
    Vulnerability,
)
from models.protection_records import InformationGiven, Referral
from models.rules import RulePack, Situation, get_pack, governing_pack
from models.stages import IN_PROCEDURE, TERMINAL_STAGES, WATCHED_STAGES
from models.transitions import CLOCK_ACT_STAGES

_ENDED_WITH_STAGE = (
    ClockStatus.RUNNING,
    ClockStatus.PAUSED,
    ClockStatus.EXPIRED,
    ClockStatus.CANCELLED,
)
"""Statuses a clock can have when its stage ends (met, late and reached stay as they are)."""


class CaseEvent(BaseModel):
    """One entry of a case's history."""

    # Frozen: `apply` and `settle` copy a state's lists but share the events already recorded,
    # so an event, once in a history, belongs to every later state of the case. Nothing may
    # change it (its `data` included); an action that must amend the event it has just recorded
    # replaces it (`amend`). (A comment, not the docstring: that is the schema's description.)
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
    vulnerabilities: tuple[Vulnerability, ...] | None = None
    """The kinds given at opening; None where they were not passed (cases begun before)."""


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
    # A default, so that states carried over by continue-as-new and replays of histories from
    # before the monitor role read as "never consented".
    monitor_consent: bool = Field(
        default=False, description="The person consents to monitors reading the case file"
    )
    # Protection track (issue #19). Defaults throughout, so that states carried over by
    # continue-as-new and replays of older histories read as "nothing recorded".
    referral_keeps_stage: bool = Field(
        default=False,
        description="A referral leaves the stage as it is (cases opened since issue #19); "
        "older cases keep their old rule (any referral ends the pre-application track)",
    )
    referrals: list[Referral] = Field(default_factory=list)
    vulnerabilities: list[Vulnerability] = Field(
        default_factory=list,
        description="Kinds present: given at opening, or recorded by screening or "
        "record_vulnerability (no detail: that stays in SQL); in cases begun before the "
        "opening's kinds were passed, those reached the workflow as flags only",
    )
    information_given: list[InformationGiven] = Field(default_factory=list)
    interview_language: str | None = None
    interpreter: str | None = None
    age_assessment: AgeOutcome | None = None
    age_assessed_on: date | None = None
    best_interests_on: date | None = None
    # Issue #19 (protection track b). Defaults, so that states carried over by continue-as-new
    # and replays of older histories read as "not accommodated, not detained". The centre is an
    # id of the read model's `reception_centres` (no personal data); a detention's ground stays
    # in SQL: the workflow knows only that the person is detained or in an alternative.
    accommodation_centre: str | None = None
    accommodated_since: date | None = None
    detention: Detention | None = None
    detention_since: date | None = None
    # Tracks around a decision (issue 20, branch `tracks`). Defaults, so that states carried
    # over by continue-as-new and replays of older histories read as "never refused".
    return_refused: bool = Field(
        default=False,
        description="Assisted voluntary return refused, or consent withdrawn: a return without "
        "assistance (and without reintegration support)",
    )
    family_reunification_outcome: ReunificationOutcome | None = Field(
        default=None, description="How the family reunification application was decided"
    )
    resettlement_to: str | None = Field(
        default=None, description="The state the case is submitted to for resettlement"
    )
    resettlement_accepted: bool | None = Field(
        default=None, description="The resettlement state's answer (None: none yet)"
    )
    resettled: bool = Field(default=False, description="Departed to the resettlement state")
    return_decided: bool = Field(
        default=False,
        description="The return decision is recorded (with the voluntary departure period it "
        "grants, if any)",
    )
    # Responsibility procedure (issue 20). Defaults, so that states carried over by
    # continue-as-new and replays of older histories read as "no request ever made".
    stage_before_responsibility: Stage | None = Field(
        default=None,
        description="The stage a responsibility request left (where a refusal "
        "or a lapsed transfer brings the case back)",
    )
    responsibility: dict[str, str] = Field(
        default_factory=dict,
        description="The latest responsibility request: kind, to_state, requested_on, status "
        "(requested, accepted, accepted_implicitly, refused, transferred, shifted) and its dates",
    )
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
        procedure, outcome, facts, grounds, registered_on = self.situation_parts()
        return Situation(
            procedure=procedure,
            outcome=outcome,
            facts=facts,
            grounds=grounds,
            registered_on=registered_on,
        )

    def situation_parts(
        self,
    ) -> tuple[Procedure, Outcome | None, frozenset[str], str | None, date | None]:
        """The situation's fields as a plain tuple (the deadline memo's key builds no model)."""
        registered = self.last(LegalEvent.REGISTERED)
        return (
            self.procedure,
            self.outcome,
            frozenset(self.facts),
            self.grounds,
            registered.on if registered is not None else None,
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

        One action asks for the deadlines about ten times (each allowed action's guard, settling,
        the next wake-up, the view), mostly of an unchanged case: the result is memoised on
        everything it is computed from (`models.deadline_memo`), so a repeated question costs a
        dictionary lookup; deadlines are frozen, so callers share them safely.
        """
        pack, provisional = self.pack, self.provisional_pack
        return remembered(
            memo_key(self, pack, provisional, as_of, now),
            lambda: self._compute_deadlines(pack, provisional, as_of, now),
        )

    def _compute_deadlines(
        self, pack: RulePack, provisional: RulePack | None, as_of: date, now: datetime | None
    ) -> list[Deadline]:
        deadlines = compute_deadlines(
            pack,
            self.occurrences,
            self.situation(),
            as_of=as_of,
            now=now,
            pauses=self.pauses,
            extensions=self.extensions,
            provisional=provisional,
        )
        if not self.legal_time:
            return deadlines
        return [self._ended_with_stage(d) for d in deadlines]

    def _ended_with_stage(self, d: Deadline) -> Deadline:
        """`d` as its stage's end leaves it: missed, cancelled, or as computed."""
        left_on = self.left_stages_on(d.clock)
        if left_on is None or d.status not in _ENDED_WITH_STAGE:
            return d
        past_due = d.due < left_on and d.kind is ClockKind.ACT
        if past_due and d.actor is Actor.AUTHORITY:
            return d.model_copy(update={"status": ClockStatus.MISSED})
        if not past_due or d.status is not ClockStatus.EXPIRED:
            return d.model_copy(update={"status": ClockStatus.CANCELLED})
        return d

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
    def waiting_for_interpreter(self) -> bool:
        """An interview is scheduled in a language and no interpreter is assigned to it."""
        return (
            self.stage is Stage.INTERVIEW_SCHEDULED
            and self.interview_language is not None
            and self.interpreter is None
        )

    @property
    def assisted_departure(self) -> bool:
        """Departed with AVRR consent on record: reintegration support started with it."""
        return self.departed and self.return_consent

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
        if self.waiting_for_interpreter:
            result.append("waiting_for_interpreter")
        if self.missed_interview:
            result.append("missed_interview")
        if self.detention is Detention.DETAINED:
            result.append("detained")
            if self.vulnerable:
                # Vulnerable persons in detention: the supervisor's detained list shows them.
                result.append("vulnerable_in_detention")
        elif self.detention is Detention.ALTERNATIVE:
            result.append("alternative_to_detention")
        if self.accommodation_centre is not None:
            result.append("accommodated")
        return result


_CONTAINERS = tuple(
    name for name, f in CaseState.model_fields.items() if get_origin(f.annotation) in (list, dict)
)
"""The fields of `CaseState` that hold a list or a dict (`fork` gives each copy its own)."""


def fork(state: CaseState) -> CaseState:
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
# Changing a state (every change goes through these)


def record_event(
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
    """Append an entry to the case's history (and its legal event to the clocks' inputs)."""
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


def occur(
    state: CaseState, event: LegalEvent, on: date, at: datetime, days: int | None = None
) -> None:
    """Add a legal event to the clocks' inputs, ordered after every earlier one.

    The order is the order of the legal record (acts are applied in legal order), not the
    history's `seq`, which is the order of recording.
    """
    ordinal = state.occurrences[-1].seq + 1 if state.occurrences else 1
    state.occurrences.append(Occurrence(event=event, on=on, seq=ordinal, at=at, days=days))


def amend(state: CaseState, entry: CaseEvent, **changes: Any) -> CaseEvent:
    """Replace `entry`, just recorded on `state`, by a copy with `changes`; returns the copy.

    Events are frozen because later states share them; an effect that learns more about the act
    it records (an inadmissibility, a corrected date) amends the new entry this way instead.
    """
    # The entry is the latest or nearly so: search from the end, by identity.
    index = next(i for i in range(len(state.history) - 1, -1, -1) if state.history[i] is entry)
    amended = entry.model_copy(update=changes)
    state.history[index] = amended
    return amended


def set_stage(state: CaseState, stage: Stage, on: date) -> None:
    """Move the case to `stage` on the day `on`, logging the change (no-op if it is there)."""
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
    vulnerabilities: Sequence[Vulnerability] | None = None,
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
            vulnerabilities=tuple(vulnerabilities) if vulnerabilities is not None else None,
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
        vulnerabilities=list(vulnerabilities or ()),
        legal_aid_org=legal_aid_org,
        last_action_on=identified_on,
        last_contact_on=identified_on,
        referral_keeps_stage=True,
    )
    record_event(
        state,
        actor=actor,
        action="identify",
        event=LegalEvent.IDENTIFIED,
        on=identified_on,
        recorded_at=recorded_at,
        # The opening's flag, so that the statistics can tell a person's status on any later
        # day from the events (Eurostat counts unaccompanied minors as they were at lodging).
        data={"identified_at": identified_at.value, "unaccompanied_child": unaccompanied_child},
    )
    return state
