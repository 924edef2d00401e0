"""The deadline memo's key: whatever a case's deadlines are computed from changes it.

A key that missed a part would hand one case another's deadlines (or a case its own from before
an act), so each part is changed in turn here, and a hit is checked against a fresh computation.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from models import deadline_memo
from models.deadline_memo import DEADLINE_MEMO, MEMO_SIZE, memo_key
from models.deadlines import Occurrence
from models.enums import Action, LegalEvent, Procedure
from models.legal_record import record_all
from models.lifecycle import CaseState
from models.rules import Situation
from tests.legal_records import NOW, TODAY, fresh, req

OPENED = date(2026, 3, 2)


def _registered() -> CaseState:
    state = fresh(OPENED)
    acts = [
        req(Action.COMPLETE_SCREENING, on=OPENED),
        req(Action.MAKE_APPLICATION, on=OPENED + timedelta(days=1)),
        req(Action.REGISTER, on=OPENED + timedelta(days=3)),
    ]
    return record_all(state, acts, now=NOW, today=TODAY).state


def _key(state: CaseState) -> tuple[object, ...]:
    return memo_key(state, state.pack, state.provisional_pack, TODAY, NOW)


def test_the_situation_parts_are_every_field_of_the_situation() -> None:
    state = _registered()
    parts = state.situation_parts()
    assert len(parts) == len(Situation.model_fields)
    assert Situation.model_validate(dict(zip(Situation.model_fields, parts, strict=True))) == (
        state.situation()
    )


@pytest.mark.parametrize("field", sorted(Occurrence.model_fields))
def test_every_field_of_an_occurrence_is_in_the_key(field: str) -> None:
    state = _registered()
    before = _key(state)
    first = state.occurrences[0]
    changed = {
        "event": LegalEvent.LODGED if first.event is not LegalEvent.LODGED else LegalEvent.DECIDED,
        "on": first.on + timedelta(days=1),
        "seq": first.seq + 100,
        "at": NOW + timedelta(hours=1),
        "days": 30,
    }[field]
    assert getattr(first, field) != changed
    state.occurrences[0] = first.model_copy(update={field: changed})
    assert _key(state) != before


def test_the_situation_and_the_stage_are_in_the_key() -> None:
    state = _registered()
    keys = {_key(state)}
    state.procedure = Procedure.ACCELERATED
    keys.add(_key(state))
    state.facts.append("unaccompanied_minor")
    keys.add(_key(state))
    state.stage_log.append((state.stage, TODAY))
    keys.add(_key(state))
    assert len(keys) == 4


def test_a_hit_answers_what_a_computation_does_and_no_caller_can_change_it() -> None:
    state = _registered()
    DEADLINE_MEMO.clear()
    first = state.deadlines(TODAY, NOW)
    assert len(DEADLINE_MEMO) == 1
    # Shared with every later caller: a deadline is a value, and changing one is refused.
    with pytest.raises(ValidationError, match="frozen"):
        first[0].due += timedelta(days=1)  # type: ignore[misc]
    # A new list each time: a caller may sort or filter its own.
    first.clear()
    again = state.deadlines(TODAY, NOW)
    DEADLINE_MEMO.clear()
    assert again == state.deadlines(TODAY, NOW) != []


def test_the_memo_starts_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deadline_memo, "MEMO_SIZE", 2)
    state = _registered()
    DEADLINE_MEMO.clear()
    sizes = []
    for day in range(5):
        state.deadlines(TODAY + timedelta(days=day), NOW)
        sizes.append(len(DEADLINE_MEMO))
    # Full at two: the third question empties it before it is kept.
    assert sizes == [1, 2, 1, 2, 1]
    assert MEMO_SIZE == 512
