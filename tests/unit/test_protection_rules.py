"""Reception, detention and the applicant's document in the pure rules (issue #19, track b)."""

from __future__ import annotations

from datetime import date

import pytest

from models.enums import Action, ClockName, ClockStatus, Detention, Stage
from models.errors import DomainError, InvalidInput
from models.lifecycle import why_not
from tests.unit.test_lifecycle import act, lodged_case

ON = date(2026, 1, 20)


def test_a_detention_ground_never_reaches_the_workflow() -> None:
    with pytest.raises(InvalidInput) as refused:
        act(lodged_case(), Action.ORDER_DETENTION, on=ON, ground="risk of absconding")
    assert refused.value.field == "ground"


def test_detention_flags_review_and_release() -> None:
    s = act(lodged_case("eu"), Action.ORDER_DETENTION, on=ON)
    assert s.detention is Detention.DETAINED and s.stage is Stage.LODGED
    s = s.model_copy(update={"vulnerable": True})
    assert {"detained", "vulnerable_in_detention"} <= set(s.flags(ON))
    # Under eu-2013 (lodged 15 Jan 2026) Art 9 sets no figure: no review clock.
    assert s.deadline(ClockName.DETENTION_REVIEW, ON) is None
    with pytest.raises(DomainError, match="already in force"):
        act(s, Action.ORDER_DETENTION, on=ON, alternative=True)
    released = act(s, Action.REVIEW_DETENTION, on=date(2026, 1, 25), continued=False)
    assert released.detention is None and "detained" not in released.flags(ON)
    assert why_not(released, Action.RELEASE_FROM_DETENTION) is not None


def test_an_alternative_is_no_detention() -> None:
    s = act(lodged_case(), Action.ORDER_DETENTION, on=ON, alternative=True)
    assert s.detention is Detention.ALTERNATIVE
    assert "alternative_to_detention" in s.flags(ON) and "detained" not in s.flags(ON)
    assert why_not(s, Action.REVIEW_DETENTION) is not None  # no judicial review to record
    assert act(s, Action.RELEASE_FROM_DETENTION, on=ON).detention is None


def test_accommodation_is_no_procedural_step() -> None:
    s = lodged_case()
    placed = act(s, Action.ASSIGN_ACCOMMODATION, on=ON, centre="krnjaca")
    assert (placed.stage, placed.occurrences) == (s.stage, s.occurrences)
    assert (placed.accommodation_centre, placed.accommodated_since) == ("krnjaca", ON)
    moved = act(placed, Action.ASSIGN_ACCOMMODATION, on=date(2026, 1, 22), centre="obrenovac")
    assert moved.accommodation_centre == "obrenovac"
    ended = act(moved, Action.END_ACCOMMODATION, on=date(2026, 1, 23))
    assert ended.accommodation_centre is None and "accommodated" not in ended.flags(ON)
    assert why_not(ended, Action.END_ACCOMMODATION) is not None


def test_applicant_document_during_the_procedure_only() -> None:
    s = lodged_case("eu")  # eu-2013: 3 days from lodging on Thu 15 Jan 2026 -> Sun 18 -> Mon 19
    clock = s.deadline(ClockName.APPLICANT_DOCUMENT, date(2026, 1, 16))
    assert clock is not None and clock.due == date(2026, 1, 19)
    with pytest.raises(InvalidInput) as refused:
        act(s, Action.ISSUE_DOCUMENT, on=date(2026, 1, 16), kind="id_card")
    assert refused.value.field == "kind"
    issued = act(s, Action.ISSUE_DOCUMENT, on=date(2026, 1, 16), kind="applicant_document")
    met = issued.deadline(ClockName.APPLICANT_DOCUMENT, date(2026, 1, 16))
    assert met is not None and met.status is ClockStatus.MET
