"""The deadline calculator: Regulation 1182/71 counting over a rule pack.

Pure and deterministic (it runs inside workflows too): the inputs are the legal events of a case,
its situation, its pauses and the day to report statuses for; the output is one deadline object per
clock of the pack that those events start, each with its full provenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import holidays
from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field

from models.enums import (
    Actor,
    Attribution,
    ClockKind,
    ClockName,
    ClockStatus,
    LegalEvent,
    Unit,
)
from models.rules import ClockRule, Period, RulePack, Situation


class Occurrence(BaseModel):
    """One legal event of a case: what happened, on which legal date, in which order."""

    model_config = ConfigDict(frozen=True)

    event: LegalEvent
    on: date
    seq: int = 0
    at: datetime | None = Field(
        default=None, description="When it was recorded; only clocks in seconds/minutes use it"
    )
    # Tracks (issue 20): a period the decision itself fixes, within the pack's bounds (the
    # voluntary departure period of a return decision). None in every other occurrence.
    days: int | None = Field(
        default=None, description="The period in days the act fixed (a set_by_decision clock)"
    )


class Pause(BaseModel):
    """A stop of the clock: `start` inclusive, `end` exclusive (None while it lasts)."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date | None = None
    attributable_to: Attribution = Attribution.APPLICANT
    clocks: list[ClockName] | None = None
    reason: str | None = None

    def covers_clock(self, clock: ClockName) -> bool:
        """Whether this pause stops `clock` (authority-caused pauses stop nothing)."""
        if self.attributable_to is not Attribution.APPLICANT:
            return False
        return self.clocks is None or clock in self.clocks


class PauseApplied(BaseModel):
    """A pause as it counted against one deadline (provenance)."""

    start: date
    end: date | None
    days: int


class Deadline(BaseModel):
    """The deadline object of shared/api.md, with provenance and a few extras.

    Frozen: a computed deadline is a value that the deadline memo hands to every caller that
    asks for the same case, so none may change it (derive a changed one with `model_copy`).
    """

    model_config = ConfigDict(frozen=True)

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
    pauses: list[PauseApplied] = Field(default_factory=list)
    extensions: int = 0
    rule: str
    pack: str
    rule_version: str
    citation: str
    calendar: str
    unverified: bool = False
    completed_on: date | None = None
    late: bool = False
    days_late: int | None = Field(
        default=None, description="Calendar days from `due` to the act; null unless `late`"
    )
    fires_at: datetime = Field(
        description="Instant the clock falls due: end of the due day for an act, its start for "
        "an entitlement, in the jurisdiction's time zone (UTC here)"
    )
    recomputed_at_lodging: bool = False
    note: str | None = None


class WorkingCalendar:
    """Working days of one jurisdiction: no weekends, no public holidays of its country."""

    def __init__(self, code: str) -> None:
        self.code = code
        self._holidays = None if code == "weekends" else holidays.country_holidays(code)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and not a public holiday."""
        if day.weekday() >= 5:
            return False
        return self._holidays is None or day not in self._holidays

    def next_working_day(self, day: date) -> date:
        """`day` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (start itself is not counted)."""
        day = start
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, first: date, last: date) -> int:
        """Working days from `first` to `last`, both inclusive."""
        return sum(
            1
            for k in range((last - first).days + 1)
            if self.is_working_day(first + timedelta(days=k))
        )


@cache
def calendar_for(code: str) -> WorkingCalendar:
    """Shared calendar per country code (the holidays object caches years as it goes)."""
    return WorkingCalendar(code)


def add_period(start: date, period: Period, cal: WorkingCalendar) -> date:
    """The last day of `period` counted from event day `start` (which is not counted).

    Months and weeks end on the same date or weekday as the event day; a date that does not exist
    in the last month becomes its last day (relativedelta clamps: 31 May + 9 months = end of Feb).
    """
    match period.unit:
        case Unit.DAYS:
            return start + timedelta(days=period.n)
        case Unit.WEEKS:
            return start + timedelta(weeks=period.n)
        case Unit.MONTHS:
            return start + relativedelta(months=period.n)
        case Unit.WORKING_DAYS:
            return cal.add_working_days(start, period.n)
        case Unit.SECONDS | Unit.MINUTES:
            raise ValueError("sub-day periods count from an instant: use sub_day_fires_at")


def sub_day_fires_at(trigger: Occurrence, period: Period, pack: RulePack) -> datetime:
    """Instant a seconds/minutes clock (test packs) falls due: the trigger's instant + period."""
    start = trigger.at or datetime.combine(trigger.on, time(0), tzinfo=pack.tz)
    seconds = period.n * (60 if period.unit is Unit.MINUTES else 1)
    return start.astimezone(UTC) + timedelta(seconds=seconds)


def merge_pauses(pauses: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """Merge overlapping or touching half-open intervals [start, end)."""
    merged: list[tuple[date, date]] = []
    for start, end in sorted(p for p in pauses if p[1] > p[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _pause_length(
    intervals: Sequence[tuple[date, date]],
    first: date,
    last: date,
    unit: Unit,
    cal: WorkingCalendar,
) -> int:
    """Days (working days for a working-day clock) of the pauses inside [first, last]."""
    total = 0
    for start, end in intervals:
        lo, hi = max(start, first), min(end - timedelta(days=1), last)
        if hi < lo:
            continue
        if unit is Unit.WORKING_DAYS:
            total += cal.working_days_between(lo, hi)
        else:
            total += (hi - lo).days + 1
    return total


class DueDate(BaseModel):
    """A computed due date and how it came about."""

    due: date
    rolled: bool
    pause_days: int
    pauses: list[PauseApplied]


def compute_due(
    trigger_date: date,
    period: Period,
    cal: WorkingCalendar,
    *,
    rolls: bool,
    two_working_days: bool,
    pauses: Sequence[tuple[date, date]] = (),
) -> DueDate:
    """Apply Reg 1182/71 to one period.

    Pauses (applicant-caused, [start, end)) move the due date by the part of them inside the
    running period, i.e. from the day after the trigger to the due date. As moving the due date
    can take in more of a pause, the running period is extended until it no longer changes: this
    is exactly "the clock stops during the pause and runs on afterwards". Rolling comes after.
    """
    intervals = merge_pauses(pauses)
    first = trigger_date + timedelta(days=1)
    base = add_period(trigger_date, period, cal)
    due, paused = base, 0
    while True:
        paused = _pause_length(intervals, first, due, period.unit, cal)
        moved = (
            cal.add_working_days(base, paused)
            if period.unit is Unit.WORKING_DAYS
            else base + timedelta(days=paused)
        )
        if moved == due:
            break
        due = moved
    applied = [
        PauseApplied(
            start=s,
            end=e,
            days=_pause_length([(s, e)], first, due, period.unit, cal),
        )
        for s, e in intervals
    ]
    applied = [a for a in applied if a.days]
    rolled = False
    if rolls and not cal.is_working_day(due):
        due, rolled = cal.next_working_day(due), True
    # Art 3(5): any period of two days or more includes at least two working days.
    if (
        two_working_days
        and (due - trigger_date).days >= 2
        and cal.working_days_between(first, due) < 2
    ):
        due, rolled = cal.add_working_days(trigger_date, 2), True
    return DueDate(due=due, rolled=rolled, pause_days=paused, pauses=applied)


def fires_at(due: date, kind: ClockKind, pack: RulePack) -> datetime:
    """The instant a clock falls due, as an aware UTC datetime.

    An act may still be done throughout its due day, so the deadline passes at the end of that day;
    an entitlement exists from the start of its due day.
    """
    day = due if kind is ClockKind.ENTITLEMENT else due + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=pack.tz).astimezone(UTC)


def _latest(occurrences: Sequence[Occurrence], event: LegalEvent) -> Occurrence | None:
    found = [o for o in occurrences if o.event is event]
    return max(found, key=lambda o: o.seq) if found else None


def _first_after(
    occurrences: Sequence[Occurrence], events: Iterable[LegalEvent], after: Occurrence
) -> Occurrence | None:
    wanted = set(events)
    found = [o for o in occurrences if o.event in wanted and o.seq > after.seq]
    return min(found, key=lambda o: o.seq) if found else None


def _before(event: Occurrence, due_at: datetime, period: Period, pack: RulePack) -> bool:
    """Whether `event` happened before a clock fell due (by day; by instant for sub-day clocks).

    A decision taken on the day labour-market access arises comes too late to stop it: the
    entitlement existed from the start of that day.
    """
    if period.is_sub_day:
        when = event.at or datetime.combine(event.on, time(0), tzinfo=pack.tz)
        return when < due_at
    return event.on < due_at.astimezone(pack.tz).date()


_UNDONE_BY = {LegalEvent.DISCONTINUED: LegalEvent.REOPENING_REQUESTED}


def _undone(occurrences: Sequence[Occurrence], cancelling: Occurrence) -> bool:
    """Whether a later event reverses a cancelling one (reopening after discontinuation)."""
    undo = _UNDONE_BY.get(cancelling.event)
    return undo is not None and _first_after(occurrences, [undo], cancelling) is not None


def compute_deadlines(
    pack: RulePack,
    occurrences: Sequence[Occurrence],
    situation: Situation,
    *,
    as_of: date,
    now: datetime | None = None,
    pauses: Sequence[Pause] = (),
    extensions: dict[ClockName, int] | None = None,
    provisional: RulePack | None = None,
) -> list[Deadline]:
    """Every deadline the case's events start under `pack`, with statuses as of `as_of`.

    Statuses compare `now` (default: the start of `as_of` in the pack's time zone) with the
    instant each clock falls due. Clocks whose law sets no figure are left out. Events dated
    after `as_of` do not meet or cancel a clock yet.

    `provisional` is the pack that applied before lodging pinned `pack` (when it is another
    one): see `recomputed_at_pinning` for which clocks pinning recomputes and which it does not
    create.
    """
    if now is None:
        now = datetime.combine(as_of, time(0), tzinfo=pack.tz)
    extensions = extensions or {}
    cal = calendar_for(pack.calendar)
    known = [o for o in occurrences if o.on <= as_of]
    result: list[Deadline] = []
    for name in pack.clock_names():
        rule = pack.clock_for(name, situation)
        if rule is None:
            continue
        recomputed = False
        if provisional is not None:
            verdict = recomputed_at_pinning(pack, provisional, rule, occurrences, situation)
            if verdict is None:
                continue
            recomputed = verdict
        deadline = _one_deadline(
            pack,
            rule,
            occurrences,
            known,
            cal,
            as_of=as_of,
            now=now,
            pauses=pauses,
            extensions_taken=extensions.get(name, 0),
        )
        if deadline is None:
            continue
        changes: dict[str, object] = {"recomputed_at_lodging": True} if recomputed else {}
        if rule.withdrawn(situation):
            # RCD 2024 Art 17(1): not granted or, if already granted, withdrawn.
            was = "withdrawn" if deadline.status is ClockStatus.REACHED else "not granted"
            changes |= {
                "status": ClockStatus.CANCELLED,
                "note": f"{was}: {rule.withdrawn_if_reason}",
            }
        result.append(deadline.model_copy(update=changes) if changes else deadline)
    return result


def recomputed_at_pinning(
    pinned: RulePack,
    provisional: RulePack,
    rule: ClockRule,
    occurrences: Sequence[Occurrence],
    situation: Situation,
) -> bool | None:
    """How pinning `pinned` over `provisional` treats clock `rule` (domain.md, "At pinning").

    - None: the clock is not created. Its trigger happened before the pinned instrument applied
      and the provisional pack had no figure for it (a clock new in the pinned pack, such as
      eu-2024's screening): the law cannot have required an act before it applied.
    - True: the clock ran, or would have run, under the provisional pack and is recomputed under
      the pinned one from its original trigger (triggered on or before lodging, and the
      provisional pack had it with a figure).
    - False: the clock starts under the pinned pack (triggered after lodging).
    """
    trigger = _latest(occurrences, rule.trigger)
    lodged = _latest(occurrences, LegalEvent.LODGED)
    if trigger is None:
        return False
    before = provisional.clock_for(rule.name, situation)
    had_figure = before is not None and before.period is not None
    if trigger.on < pinned.valid_from and not had_figure:
        return None
    return had_figure and (lodged is None or trigger.on <= lodged.on)


def _one_deadline(
    pack: RulePack,
    rule: ClockRule,
    occurrences: Sequence[Occurrence],
    known: Sequence[Occurrence],
    cal: WorkingCalendar,
    *,
    as_of: date,
    now: datetime,
    pauses: Sequence[Pause],
    extensions_taken: int,
) -> Deadline | None:
    period = rule.effective_period(extensions_taken)
    trigger = _latest(occurrences, rule.trigger)
    if rule.set_by_decision and trigger is not None:
        # The decision fixed the period (the pack's figure is the bound); none fixed, no clock.
        period = Period(n=trigger.days, unit=Unit.DAYS) if trigger.days else None
    if period is None or trigger is None:
        return None
    relevant = [p for p in pauses if rule.pausable and p.covers_clock(rule.name)]
    intervals = [(p.start, p.end or max(as_of, p.start)) for p in relevant]
    if period.is_sub_day:
        due_at = sub_day_fires_at(trigger, period, pack)
        computed = DueDate(
            due=due_at.astimezone(pack.tz).date(), rolled=False, pause_days=0, pauses=[]
        )
    else:
        computed = compute_due(
            trigger.on,
            period,
            cal,
            rolls=rule.rolls,
            two_working_days=pack.two_working_days,
            pauses=intervals,
        )
        due_at = fires_at(computed.due, rule.kind, pack)
    due = computed.due
    fallen_due = now >= due_at
    met = _first_after(known, rule.met_by, trigger)
    cancelling = {*rule.cancelled_by, *pack.cancelled_by_default}
    # A reopened case runs on (its discontinuation counts as the applicant's pause instead), so
    # a cancellation that a later event undid does not count.
    cancelled = next(
        (
            o
            for o in sorted(known, key=lambda o: o.seq)
            if o.event in cancelling and o.seq > trigger.seq and not _undone(known, o)
        ),
        None,
    )
    open_pause = any(p.end is None and p.start <= as_of for p in relevant)
    status: ClockStatus
    late = bool(met and met.on > due)
    if met is not None:
        status = ClockStatus.LATE if late else ClockStatus.MET
    elif (
        rule.kind is ClockKind.ENTITLEMENT
        and fallen_due
        and not (cancelled is not None and _before(cancelled, due_at, period, pack))
    ):
        status = ClockStatus.REACHED
    elif cancelled is not None:
        status = ClockStatus.CANCELLED
    elif open_pause:
        status = ClockStatus.PAUSED
    elif rule.kind is ClockKind.ACT and fallen_due:
        status = ClockStatus.EXPIRED
    else:
        status = ClockStatus.RUNNING
    return Deadline(
        clock=rule.name,
        due=due,
        status=status,
        actor=rule.actor,
        kind=rule.kind,
        trigger=rule.trigger,
        trigger_date=trigger.on,
        period=str(period),
        rolled=computed.rolled,
        pause_days=computed.pause_days,
        pauses=computed.pauses,
        extensions=extensions_taken,
        rule=pack.rule_ref(rule),
        pack=pack.id,
        rule_version=pack.version,
        citation=rule.citation,
        calendar=pack.calendar,
        unverified=rule.unverified,
        completed_on=met.on if met else None,
        late=late,
        days_late=(met.on - due).days if met is not None and late else None,
        fires_at=due_at,
        note=rule.note,
    )


def preload() -> None:
    """Load every pack (superseded contents included) and build its holiday calendar now.

    Workers call this before running workflows: building a `holidays` calendar touches the
    locale machinery, which the workflow sandbox forbids, whereas a built one is pure lookups.
    """
    from models.rules import all_packs, get_pack, superseded_packs

    # Superseded contents too: a case pinned to one resolves it by digest inside a workflow,
    # where files are not read.
    for pack in (*all_packs(), *superseded_packs()):
        calendar_for(pack.calendar).is_working_day(pack.valid_from)
        get_pack(pack.id, pack.digest)
