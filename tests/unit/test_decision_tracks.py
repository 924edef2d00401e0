"""Tracks around a decision (issue #20) in the model: the voluntary departure period.

The period is the one the return decision fixes, within the bounds the pack's law sets: worked
examples (every expected date counted on a calendar, as in test_deadlines_worked.py), the bounds
as field errors, and the clock met by the departure. The further appeal and the AVRR refusal are
in test_lifecycle.py (their paths) and tests/api/test_decision_tracks.py (over HTTP).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from models.actions import input_model
from models.deadlines import Occurrence, compute_deadlines
from models.effects import apply
from models.enums import Action, AppealResult, ClockName, ClockStatus, LegalEvent, Outcome, Stage
from models.errors import DomainError, InvalidInput
from models.lifecycle import CaseState
from models.rules import Situation, get_pack
from models.settling import settle
from models.transitions import allowed_actions
from tests.unit.test_lifecycle import decided_case, make_case

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
TODAY = date(2026, 11, 23)
D = date


def act(state: CaseState, action: Action, **fields: Any) -> CaseState:
    payload = input_model(action)(**fields)
    return apply(state, action, payload, actor="cw", recorded_at=NOW, today=TODAY).state


@pytest.mark.parametrize(
    ("pack_id", "decided", "days", "due", "rolled", "rule"),
    [
        # Mon 2 Mar 2026 + 30 days = Wed 1 Apr 2026 (Return Directive Art 7(1)).
        (
            "eu-2013",
            D(2026, 3, 2),
            30,
            D(2026, 4, 1),
            False,
            "eu-2013/rd-7-1",
        ),
        # Thu 1 Oct 2026 + 30 days = Sat 31 Oct -> Mon 2 Nov (weekends calendar).
        ("eu-2024", D(2026, 10, 1), 30, D(2026, 11, 2), True, "eu-2024/rd-7-1"),
        # Seven days, the shortest: Fri 2 Oct 2026 + 7 = Fri 9 Oct 2026.
        ("eu-2024", D(2026, 10, 2), 7, D(2026, 10, 9), False, "eu-2024/rd-7-1"),
        # pl, Art 315(1): Wed 1 Apr 2026 + 15 days = Thu 16 Apr 2026 (a working day).
        ("pl-2015", D(2026, 4, 1), 15, D(2026, 4, 16), False, "pl-2015/ac-315-1"),
    ],
    ids=["eu2013-30d", "eu2024-30d-rolls", "eu2024-7d", "pl-15d"],
)
def test_voluntary_departure_worked(
    pack_id: str, decided: date, days: int, due: date, rolled: bool, rule: str
) -> None:
    occurrences = [
        Occurrence(event=LegalEvent.LODGED, on=D(2025, 9, 1), seq=1),
        Occurrence(event=LegalEvent.RETURN_DECIDED, on=decided, seq=2, days=days),
    ]
    found = [
        d
        for d in compute_deadlines(get_pack(pack_id), occurrences, Situation(), as_of=decided)
        if d.clock is ClockName.VOLUNTARY_DEPARTURE
    ]
    assert len(found) == 1
    (d,) = found
    assert (d.due, d.rolled, d.rule, d.period) == (due, rolled, rule, f"{days} days")
    assert d.status is ClockStatus.RUNNING and d.actor.value == "applicant"
    assert d.trigger_date == decided and d.citation.strip()


@pytest.mark.parametrize("pack_id", ["rs-2023", "me-2018", "eu-2024"])
def test_no_period_fixed_or_none_in_law_means_no_clock(pack_id: str) -> None:
    """No rule in the rs and me packs; an eu decision without departure_days (Art 7(4))."""
    occurrences = [Occurrence(event=LegalEvent.RETURN_DECIDED, on=D(2026, 10, 1), seq=1)]
    deadlines = compute_deadlines(get_pack(pack_id), occurrences, Situation(), as_of=D(2026, 10, 1))
    assert ClockName.VOLUNTARY_DEPARTURE not in {d.clock for d in deadlines}


def in_return(family: str) -> CaseState:
    """A rejected case whose appeal window (or, in eu, make_final) ended in `return`."""
    s = decided_case(Outcome.REJECTED, family)
    if s.stage is Stage.NOTIFIED and family == "eu":
        s = act(s, Action.MAKE_FINAL, on=D(2026, 3, 20))
    s = settle(s, NOW, recorded_at=NOW).state
    assert s.stage is Stage.RETURN
    return s


def test_the_decision_fixes_the_period_within_the_bounds() -> None:
    s = in_return("eu")
    for days in (6, 31):
        with pytest.raises(InvalidInput) as info:
            act(s, Action.RECORD_RETURN_DECISION, on=D(2026, 10, 1), departure_days=days)
        assert info.value.field == "departure_days"
        assert "7 to 30 days" in str(info.value)
    s = act(s, Action.RECORD_RETURN_DECISION, on=D(2026, 10, 1), departure_days=30)
    d = s.deadline(ClockName.VOLUNTARY_DEPARTURE, D(2026, 10, 1))
    assert d is not None and d.due == D(2026, 11, 2) and d.status is ClockStatus.RUNNING
    assert [e.event for e in s.history][-1] is LegalEvent.RETURN_DECIDED
    assert Action.RECORD_RETURN_DECISION not in allowed_actions(s)
    # Departure within the period meets it; the reintegration then follows as before.
    s = act(s, Action.START_RETURN, on=D(2026, 10, 2))
    s = act(s, Action.REFUSE_RETURN_CONSENT, on=D(2026, 10, 3))
    s = act(s, Action.RECORD_RISK_ASSESSMENT, on=D(2026, 10, 5), at_risk=False)
    s = act(s, Action.RECORD_DEPARTURE, on=D(2026, 10, 20))
    d = s.deadline(ClockName.VOLUNTARY_DEPARTURE, D(2026, 10, 20))
    assert d is not None and d.status is ClockStatus.MET and d.completed_on == D(2026, 10, 20)


def test_a_pack_without_a_period_refuses_days_and_runs_no_clock() -> None:
    s = in_return("rs")
    with pytest.raises(InvalidInput, match="sets no period for voluntary departure"):
        act(s, Action.RECORD_RETURN_DECISION, on=D(2026, 10, 1), departure_days=30)
    s = act(s, Action.RECORD_RETURN_DECISION, on=D(2026, 10, 1))
    assert s.return_decided and s.deadline(ClockName.VOLUNTARY_DEPARTURE, TODAY) is None
    # The departure then records the event that would meet it: harmless without a clock.
    s = act(s, Action.START_RETURN, on=D(2026, 10, 2))
    s = act(s, Action.RECORD_RETURN_CONSENT, on=D(2026, 10, 3))
    s = act(s, Action.RECORD_RISK_ASSESSMENT, on=D(2026, 10, 4), at_risk=False)
    s = act(s, Action.RECORD_DEPARTURE, on=D(2026, 10, 5))
    assert s.last(LegalEvent.DEPARTED) is not None


def test_a_departure_without_a_return_decision_records_no_event() -> None:
    """Older histories' departures must replay as they were: no new legal event."""
    s = in_return("rs")
    s = act(s, Action.START_RETURN, on=D(2026, 10, 2))
    s = act(s, Action.RECORD_RETURN_CONSENT, on=D(2026, 10, 3))
    s = act(s, Action.RECORD_RISK_ASSESSMENT, on=D(2026, 10, 4), at_risk=False)
    s = act(s, Action.RECORD_DEPARTURE, on=D(2026, 10, 5))
    assert s.last(LegalEvent.DEPARTED) is None
    assert s.history[-1].event is None


def test_a_period_passing_without_departure_is_recorded_as_expired() -> None:
    s = in_return("eu")
    s = act(s, Action.RECORD_RETURN_DECISION, on=D(2026, 10, 1), departure_days=7)
    settled = settle(s, NOW, recorded_at=NOW)
    (expired,) = [e for e in settled.events if e.action == "deadline_expired"]
    assert expired.data["clock"] == "voluntary_departure"
    # Thu 1 Oct + 7 = Thu 8 Oct; expired the day after.
    assert expired.on == D(2026, 10, 9)
    assert settled.state.stage is Stage.RETURN


def test_further_appeal_decided_substituted_positive_has_no_window() -> None:
    """A positive appeal outcome is final at once: the further appeal is the applicant's."""
    s = decided_case(Outcome.REJECTED)
    s = act(s, Action.LODGE_APPEAL, on=D(2026, 3, 10))
    s = act(
        s,
        Action.DECIDE_APPEAL,
        on=D(2026, 6, 1),
        result=AppealResult.SUBSTITUTED,
        outcome=Outcome.REFUGEE_STATUS,
    )
    assert (s.stage, s.final) == (Stage.INTEGRATION, True)
    assert s.deadline(ClockName.FURTHER_APPEAL, D(2026, 6, 1)) is None


def test_toleration_only_where_the_law_has_it() -> None:
    """pl: consent for tolerated stay (Act on Foreigners Art 351); rs and eu: no such status."""
    for family in ("rs", "eu"):
        s = in_return(family)
        assert Action.GRANT_TOLERATION not in allowed_actions(s)
        with pytest.raises(DomainError, match="no status for persons who cannot be returned"):
            act(s, Action.GRANT_TOLERATION, on=D(2026, 10, 1))
    s = in_return("pl")
    s = act(s, Action.RECORD_RETURN_DECISION, on=D(2026, 10, 1), departure_days=30)
    s = act(s, Action.GRANT_TOLERATION, on=D(2026, 10, 5))
    assert (s.stage, s.stage_since) == (Stage.TOLERATED, D(2026, 10, 5))
    # The person cannot be returned: the voluntary departure period ends with the return track,
    # and no review clock runs (the law sets none; the document's 2 years are no review).
    d = s.deadline(ClockName.VOLUNTARY_DEPARTURE, D(2026, 10, 6))
    assert d is not None and d.status is ClockStatus.CANCELLED
    assert Action.CLOSE not in allowed_actions(s)
    # The reason ceased (Art 353): back on the return track.
    s = act(s, Action.WITHDRAW_TOLERATION, on=D(2026, 11, 2))
    assert s.stage is Stage.RETURN


@pytest.mark.parametrize(
    ("pack_id", "requested", "due", "rolled"),
    [
        # Mon 2 Mar 2026 + 9 months = Wed 2 Dec 2026 (Directive 2003/86/EC Art 5(4)).
        ("eu-2013", D(2026, 3, 2), D(2026, 12, 2), False),
        # Fri 3 Apr 2026 + 9 months = Sun 3 Jan 2027 -> Mon 4 Jan 2027.
        ("eu-2024", D(2026, 4, 3), D(2027, 1, 4), True),
    ],
    ids=["eu2013-9m", "eu2024-9m-rolls"],
)
def test_family_reunification_worked(
    pack_id: str, requested: date, due: date, rolled: bool
) -> None:
    occurrences = [Occurrence(event=LegalEvent.FAMILY_REUNIFICATION_REQUESTED, on=requested, seq=1)]
    refugee = Situation(outcome=Outcome.REFUGEE_STATUS)
    (d,) = [
        d
        for d in compute_deadlines(get_pack(pack_id), occurrences, refugee, as_of=requested)
        if d.clock is ClockName.FAMILY_REUNIFICATION
    ]
    assert (d.due, d.rolled, d.period, d.actor.value) == (due, rolled, "9 months", "authority")
    assert d.rule == f"{pack_id}/frd-5-4" and d.status is ClockStatus.RUNNING
    # Subsidiary protection: the Directive's Chapter V is for refugees; no clock.
    subsidiary = Situation(outcome=Outcome.SUBSIDIARY_PROTECTION)
    found = compute_deadlines(get_pack(pack_id), occurrences, subsidiary, as_of=requested)
    assert ClockName.FAMILY_REUNIFICATION not in {x.clock for x in found}


def refugee_in_integration(family: str) -> CaseState:
    s = decided_case(Outcome.REFUGEE_STATUS, family)
    if family == "eu":
        s = act(s, Action.MAKE_FINAL, on=D(2026, 3, 20))
    s = settle(s, NOW, recorded_at=NOW).state
    assert s.stage is Stage.INTEGRATION
    return act(s, Action.ISSUE_PERMIT, on=D(2026, 4, 1))


def test_family_reunification_decided_and_close_waits_for_it() -> None:
    s = refugee_in_integration("eu")
    assert Action.DECIDE_FAMILY_REUNIFICATION not in allowed_actions(s)
    s = act(s, Action.REQUEST_FAMILY_REUNIFICATION, on=D(2026, 4, 3))
    d = s.deadline(ClockName.FAMILY_REUNIFICATION, D(2026, 4, 3))
    assert d is not None and d.due == D(2027, 1, 4) and d.status is ClockStatus.RUNNING
    with pytest.raises(DomainError, match="not been decided yet"):
        act(s, Action.CLOSE, on=D(2026, 5, 1))
    s = act(s, Action.DECIDE_FAMILY_REUNIFICATION, on=D(2026, 9, 1), outcome="refused")
    assert s.family_reunification_outcome == "refused"
    d = s.deadline(ClockName.FAMILY_REUNIFICATION, D(2026, 9, 1))
    assert d is not None and d.status is ClockStatus.MET
    assert Action.DECIDE_FAMILY_REUNIFICATION not in allowed_actions(s)
    assert act(s, Action.CLOSE, on=D(2026, 9, 2)).stage is Stage.CLOSED


def test_family_reunification_without_a_clock_in_serbia() -> None:
    """No figure in the rs pack: the request starts nothing; the outcome is still recorded."""
    s = refugee_in_integration("rs")
    s = act(s, Action.REQUEST_FAMILY_REUNIFICATION, on=D(2026, 4, 3))
    assert s.history[-1].event is None
    assert s.deadline(ClockName.FAMILY_REUNIFICATION, D(2026, 4, 3)) is None
    assert Action.CLOSE in allowed_actions(s)
    s = act(s, Action.DECIDE_FAMILY_REUNIFICATION, on=D(2026, 6, 1), outcome="granted")
    assert s.family_reunification_outcome == "granted"


def test_resettlement_sub_track() -> None:
    s = act(make_case(), Action.IDENTIFY_FOR_RESETTLEMENT, on=D(2026, 1, 3))
    assert s.stage is Stage.RESETTLEMENT
    assert Action.CLOSE in allowed_actions(s)  # never submitted: it may close
    s = act(s, Action.SUBMIT_FOR_RESETTLEMENT, on=D(2026, 2, 1), to_state="SE")
    assert Action.CLOSE not in allowed_actions(s)
    assert Action.SUBMIT_FOR_RESETTLEMENT not in allowed_actions(s)
    s = act(s, Action.DECIDE_RESETTLEMENT, on=D(2026, 3, 1), accepted=False)
    assert (s.resettlement_to, s.resettlement_accepted) == ("SE", False)
    s = act(s, Action.SUBMIT_FOR_RESETTLEMENT, on=D(2026, 3, 5), to_state="NO")
    assert s.resettlement_accepted is None
    s = act(s, Action.DECIDE_RESETTLEMENT, on=D(2026, 5, 1), accepted=True)
    assert Action.CLOSE not in allowed_actions(s)
    s = act(s, Action.RECORD_RESETTLEMENT_DEPARTURE, on=D(2026, 6, 1))
    assert s.resettled and act(s, Action.CLOSE, on=D(2026, 6, 2)).stage is Stage.CLOSED


def test_eurostat_counts_a_resettled_person_once_a_quarter() -> None:
    from db.eurostat import CaseLine, Person, count

    person = Person("SY", "F", D(1990, 5, 1), False)
    line = CaseLine(person, "rs", resettled=[D(2026, 4, 2), D(2026, 5, 20), D(2026, 7, 1)])
    cells = count("resettled", [line], D(2026, 1, 1), D(2026, 9, 30))
    assert cells == {("2026-Q2", "SY", "F", "Y35-64"): 1, ("2026-Q3", "SY", "F", "Y35-64"): 1}
