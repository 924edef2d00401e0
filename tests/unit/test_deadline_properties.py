"""Properties of the deadline calculator over every pack, clock, trigger date and pause."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from models.deadlines import (
    DueDate,
    Occurrence,
    Pause,
    calendar_for,
    compute_deadlines,
    compute_due,
)
from models.enums import ClockKind, ClockStatus, LegalEvent, Outcome, Procedure, Unit
from models.rules import ClockRule, Fact, Period, RulePack, Situation, all_packs

PACKS = all_packs()
RULES: list[tuple[RulePack, ClockRule]] = [
    (pack, rule) for pack in PACKS for rule in pack.clocks if rule.period is not None
]
FACTS: list[str] = list(get_args(Fact))
GROUNDS = [None, "apr-42-1-a", "apr-42-1-f", "apr-42-1-g"]

SETTINGS = settings(max_examples=200, deadline=None)

trigger_dates = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))


@st.composite
def rule_periods(draw: st.DrawFn) -> tuple[RulePack, ClockRule, Period]:
    """A pack, one of its clocks with a figure, and its period after 0..all extensions."""
    pack, rule = draw(st.sampled_from(RULES))
    taken = draw(st.integers(min_value=0, max_value=len(rule.extensions)))
    period = rule.effective_period(taken)
    assert period is not None
    return pack, rule, period


@st.composite
def pause_near(draw: st.DrawFn, trigger: date) -> tuple[date, date]:
    """A pause [start, end) somewhere from a month before to two years after the trigger."""
    start = trigger + timedelta(days=draw(st.integers(min_value=-30, max_value=730)))
    return start, start + timedelta(days=draw(st.integers(min_value=1, max_value=120)))


def _due(
    pack: RulePack,
    rule: ClockRule,
    period: Period,
    trigger: date,
    pauses: list[tuple[date, date]] | tuple[()] = (),
    *,
    plain: bool = False,
) -> DueDate:
    """The clock's due date; `plain` switches off rolling and Art 3(5) (the bare count)."""
    return compute_due(
        trigger,
        period,
        calendar_for(pack.calendar),
        rolls=rule.rolls and not plain,
        two_working_days=pack.two_working_days and not plain,
        pauses=pauses,
    )


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


@SETTINGS
@given(rule_periods(), trigger_dates)
def test_due_is_after_the_trigger(rp: tuple[RulePack, ClockRule, Period], trigger: date) -> None:
    pack, rule, period = rp
    assert _due(pack, rule, period, trigger).due > trigger


@SETTINGS
@given(rule_periods(), trigger_dates)
def test_rolling_lands_on_a_working_day(
    rp: tuple[RulePack, ClockRule, Period], trigger: date
) -> None:
    pack, rule, period = rp
    cal = calendar_for(pack.calendar)
    result = _due(pack, rule, period, trigger)
    if result.rolled or rule.rolls:
        assert cal.is_working_day(result.due)
    if not rule.rolls:
        assert not result.rolled
        assert result.due == _due(pack, rule, period, trigger, plain=True).due


@SETTINGS
@given(rule_periods(), trigger_dates)
def test_rolling_only_skips_days_off(rp: tuple[RulePack, ClockRule, Period], trigger: date) -> None:
    pack, rule, period = rp
    cal = calendar_for(pack.calendar)
    bare = _due(pack, rule, period, trigger, plain=True).due
    result = _due(pack, rule, period, trigger)
    assert result.due >= bare
    assert result.rolled is (result.due != bare)
    if not pack.two_working_days:
        skipped = [bare + timedelta(days=k) for k in range((result.due - bare).days)]
        assert not any(cal.is_working_day(day) for day in skipped)


@SETTINGS
@given(rule_periods(), trigger_dates)
def test_bare_count_matches_the_unit(rp: tuple[RulePack, ClockRule, Period], trigger: date) -> None:
    pack, rule, period = rp
    due = _due(pack, rule, period, trigger, plain=True).due
    match period.unit:
        case Unit.DAYS:
            assert (due - trigger).days == period.n
        case Unit.WEEKS:
            assert (due - trigger).days == 7 * period.n
            assert due.weekday() == trigger.weekday()
        case Unit.MONTHS:
            assert _months_between(trigger, due) == period.n
            last = monthrange(due.year, due.month)[1]
            assert due.day == trigger.day or (due.day == last < trigger.day)
        case Unit.WORKING_DAYS:
            cal = calendar_for(pack.calendar)
            assert cal.is_working_day(due)
            assert cal.working_days_between(trigger + timedelta(days=1), due) == period.n


@SETTINGS
@given(rule_periods(), trigger_dates)
def test_month_periods_keep_the_date_unless_rolled(
    rp: tuple[RulePack, ClockRule, Period], trigger: date
) -> None:
    pack, rule, period = rp
    result = _due(pack, rule, period, trigger)
    if period.unit is Unit.MONTHS and not result.rolled:
        last = monthrange(result.due.year, result.due.month)[1]
        assert result.due.day in {trigger.day, last}
        assert _months_between(trigger, result.due) == period.n


@SETTINGS
@given(rule_periods(), trigger_dates)
def test_eu_periods_hold_two_working_days(
    rp: tuple[RulePack, ClockRule, Period], trigger: date
) -> None:
    pack, rule, period = rp
    due = _due(pack, rule, period, trigger).due
    if pack.two_working_days and rule.rolls:
        cal = calendar_for(pack.calendar)
        assert cal.working_days_between(trigger + timedelta(days=1), due) >= 2


EU_PACKS = [pack for pack in PACKS if pack.two_working_days]


@SETTINGS
@given(
    st.sampled_from(EU_PACKS),
    st.integers(min_value=2, max_value=6),
    trigger_dates,
)
def test_short_eu_periods_hold_two_working_days(pack: RulePack, n: int, trigger: date) -> None:
    cal = calendar_for(pack.calendar)
    result = compute_due(
        trigger, Period(n=n, unit=Unit.DAYS), cal, rolls=True, two_working_days=True
    )
    assert cal.working_days_between(trigger + timedelta(days=1), result.due) >= 2
    assert cal.is_working_day(result.due)
    # ... and it is the earliest such day on or after the bare count (Art 3(4) and 3(5)).
    bare = trigger + timedelta(days=n)
    assert result.due >= bare
    for k in range((result.due - bare).days):
        day = bare + timedelta(days=k)
        assert not (
            cal.is_working_day(day)
            and cal.working_days_between(trigger + timedelta(days=1), day) >= 2
        )


@SETTINGS
@given(rule_periods(), st.data())
def test_a_pause_never_brings_a_due_date_forward(
    rp: tuple[RulePack, ClockRule, Period], data: st.DataObject
) -> None:
    pack, rule, period = rp
    trigger = data.draw(trigger_dates)
    pauses = data.draw(st.lists(pause_near(trigger), min_size=1, max_size=3))
    without = _due(pack, rule, period, trigger)
    with_pauses = _due(pack, rule, period, trigger, pauses)
    assert with_pauses.due >= without.due
    # Adding one more pause never brings it forward either.
    more = _due(pack, rule, period, trigger, [*pauses, data.draw(pause_near(trigger))])
    assert more.due >= with_pauses.due


@SETTINGS
@given(rule_periods(), st.data())
def test_pause_days_never_exceed_the_pause(
    rp: tuple[RulePack, ClockRule, Period], data: st.DataObject
) -> None:
    pack, rule, period = rp
    trigger = data.draw(trigger_dates)
    start, end = data.draw(pause_near(trigger))
    result = _due(pack, rule, period, trigger, [(start, end)])
    assert 0 <= result.pause_days <= (end - start).days
    assert sum(p.days for p in result.pauses) == result.pause_days
    if end <= trigger + timedelta(days=1):
        assert result.pause_days == 0  # wholly before the running period
    bare = _due(pack, rule, period, trigger, plain=True).due
    if start > bare:
        assert result.pause_days == 0  # wholly after the original due date
        assert result.due == _due(pack, rule, period, trigger).due


@SETTINGS
@given(rule_periods(), st.data())
def test_calendar_day_pause_shifts_the_bare_count_exactly(
    rp: tuple[RulePack, ClockRule, Period], data: st.DataObject
) -> None:
    pack, rule, period = rp
    trigger = data.draw(trigger_dates)
    pauses = data.draw(st.lists(pause_near(trigger), max_size=3))
    bare = _due(pack, rule, period, trigger, plain=True).due
    paused = _due(pack, rule, period, trigger, pauses, plain=True)
    if period.unit is not Unit.WORKING_DAYS:
        assert paused.due == bare + timedelta(days=paused.pause_days)
    # The clock ran for exactly its period outside the pauses.
    outside = [
        trigger + timedelta(days=k)
        for k in range(1, (paused.due - trigger).days + 1)
        if not any(s <= trigger + timedelta(days=k) < e for s, e in pauses)
    ]
    # The clock never ends on a day it stands still.
    assert not any(s <= paused.due < e for s, e in pauses)
    if period.unit is Unit.WORKING_DAYS:
        cal = calendar_for(pack.calendar)
        assert sum(1 for day in outside if cal.is_working_day(day)) == period.n
    elif period.unit is Unit.DAYS:
        assert len(outside) == period.n
    elif period.unit is Unit.WEEKS:
        assert len(outside) == 7 * period.n


situations = st.builds(
    Situation,
    procedure=st.sampled_from(list(Procedure)),
    outcome=st.none() | st.sampled_from(list(Outcome)),
    facts=st.frozensets(st.sampled_from(FACTS), max_size=3),
    grounds=st.sampled_from(GROUNDS),
)

LIFECYCLE = [
    LegalEvent.IDENTIFIED,
    LegalEvent.MADE,
    LegalEvent.REGISTERED,
    LegalEvent.LODGED,
    LegalEvent.NOTIFIED,
    LegalEvent.DISCONTINUED,
]


@SETTINGS
@given(
    st.sampled_from(PACKS),
    situations,
    trigger_dates,
    st.lists(st.integers(min_value=0, max_value=40), min_size=len(LIFECYCLE)),
    st.data(),
)
def test_every_computed_deadline(
    pack: RulePack,
    situation: Situation,
    first: date,
    gaps: list[int],
    data: st.DataObject,
) -> None:
    occurrences, on = [], first
    for seq, (event, gap) in enumerate(zip(LIFECYCLE, gaps, strict=False), start=1):
        on += timedelta(days=gap)
        occurrences.append(Occurrence(event=event, on=on, seq=seq))
    as_of = on
    start, end = data.draw(pause_near(first))
    pause = Pause(start=start, end=end)
    cal = calendar_for(pack.calendar)
    plain = compute_deadlines(pack, occurrences, situation, as_of=as_of)
    paused = {
        d.clock: d
        for d in compute_deadlines(pack, occurrences, situation, as_of=as_of, pauses=[pause])
    }
    assert plain, "every pack has a clock started by these events"
    for d in plain:
        rule = pack.clock_for(d.clock, situation)
        assert rule is not None
        assert d.rule == pack.rule_ref(rule)
        assert (d.pack, d.calendar, d.citation) == (pack.id, pack.calendar, rule.citation)
        assert d.due > d.trigger_date
        assert d.trigger is rule.trigger
        if d.rolled or rule.rolls:
            assert cal.is_working_day(d.due)
        if not rule.rolls:
            assert not d.rolled
        assert d.status is not ClockStatus.PAUSED  # no pause given
        other = paused[d.clock]
        assert other.due >= d.due
        assert other.pause_days <= (end - start).days
        if not rule.pausable:
            assert (other.due, other.pause_days) == (d.due, 0)


@SETTINGS
@given(
    st.sampled_from(PACKS),
    situations,
    st.sampled_from(LIFECYCLE),
    trigger_dates,
    st.sampled_from([-1, 0, 1]) | st.integers(min_value=-400, max_value=400),
)
def test_status_of_an_untouched_clock(
    pack: RulePack, situation: Situation, event: LegalEvent, on: date, offset: int
) -> None:
    """Only the trigger recorded: an act expires after its due day, an entitlement arises on it."""
    occurrences = [Occurrence(event=event, on=on, seq=1)]
    for first in compute_deadlines(pack, occurrences, situation, as_of=on):
        as_of = max(on, first.due + timedelta(days=offset))
        (d,) = [
            x
            for x in compute_deadlines(pack, occurrences, situation, as_of=as_of)
            if x.clock is first.clock
        ]
        assert d.due == first.due  # the day statuses are reported for moves nothing
        rule = pack.clock_for(d.clock, situation)
        if d.kind is ClockKind.ACT:
            expected = ClockStatus.EXPIRED if as_of > d.due else ClockStatus.RUNNING
        elif rule is not None and rule.withdrawn(situation):
            # Not granted, or withdrawn (eu-2024: accelerated on APR Art 42(1)(a)-(f) grounds).
            expected = ClockStatus.CANCELLED
        else:
            expected = ClockStatus.REACHED if as_of >= d.due else ClockStatus.RUNNING
        assert d.status is expected
        assert d.completed_on is None
        assert not d.late
