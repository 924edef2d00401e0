"""`models.record_facts`: what the legal record's fast path reads, kept between actions.

The facts kept for a case are extended by the entries added since; they must always equal the
facts read from the whole history, and a history that is not an extension of the kept one
(another state of the same case id, an entry replaced) must be read afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.case_state import CaseEvent, CaseState
from models.record_facts import RecordFacts, explicitly_retracted, record_facts
from tests.unit.test_lifecycle import make_case

DAY = date(2026, 3, 1)
AT = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _entry(seq: int, kind: str, offset: int, target: int = 1) -> CaseEvent:
    """An entry of one of the kinds the facts tell apart."""
    on = DAY + timedelta(days=offset)
    if kind == "retract":
        return CaseEvent(
            seq=seq, actor="t", action="retract_event", on=on, recorded_at=AT,
            data={"seq": target},
        )  # fmt: skip
    return CaseEvent(
        seq=seq,
        actor="t",
        action="record_contact",
        on=on,
        recorded_at=AT,
        derived=kind in ("derived", "derived_marked"),
        retracted=kind in ("marked", "derived_marked"),
    )


KINDS = st.sampled_from(["act", "act", "act", "derived", "marked", "derived_marked", "retract"])
HISTORIES = st.lists(
    st.tuples(KINDS, st.integers(0, 40), st.integers(1, 30)), min_size=0, max_size=30
).map(lambda items: [_entry(i + 1, k, o, t) for i, (k, o, t) in enumerate(items)])


def _read_whole(history: list[CaseEvent]) -> tuple[dict[int, int], frozenset[int], date | None]:
    """The facts as `_fast` read them from the whole history before they were kept."""
    gone = explicitly_retracted(history)
    suspended = frozenset(e.seq for e in history if e.retracted and not e.derived)
    latest = max((e.on for e in history if not e.retracted), default=None)
    return gone, suspended, latest


def _parts(facts: RecordFacts) -> tuple[dict[int, int], frozenset[int], date | None]:
    return facts.gone, facts.suspended, facts.latest


@settings(max_examples=200, deadline=None)
@given(history=HISTORIES, cut=st.integers(0, 30))
def test_facts_extended_by_new_entries_equal_the_whole_historys(
    history: list[CaseEvent], cut: int
) -> None:
    prefix = history[: min(cut, len(history))]
    assert _parts(RecordFacts.of(prefix).extended(history)) == _read_whole(history)
    assert _parts(RecordFacts.of(history)) == _read_whole(history)


def _state(case_id: str, history: list[CaseEvent]) -> CaseState:
    """A case (identified on `DAY`) with `history` after its creation entry."""
    state = make_case(on=DAY).model_copy(update={"case_id": case_id})
    return state.model_copy(update={"history": [state.history[0], *history]})


def test_a_later_state_of_the_case_reads_only_its_new_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _state("facts-extend", [_entry(2, "act", 1), _entry(3, "act", 2)])
    record_facts(first)
    read: list[int] = []
    extend = RecordFacts.extended

    def counted(self: RecordFacts, history: Sequence[CaseEvent]) -> RecordFacts:
        read.append(len(history) - len(self.entries))
        return extend(self, history)

    monkeypatch.setattr(RecordFacts, "extended", counted)
    later = first.model_copy(update={"history": [*first.history, _entry(4, "act", 5)]})
    facts = record_facts(later)
    assert facts.latest == DAY + timedelta(days=5)
    assert read == [1]  # the one new entry, not the whole history again
    assert record_facts(later) is facts and read == [1]


def test_a_history_that_does_not_extend_the_kept_one_is_read_afresh() -> None:
    """Same case id, same length and more, but an earlier entry replaced: never extended."""
    first = _state("facts-fresh", [_entry(2, "act", 1), _entry(3, "act", 9)])
    assert record_facts(first).latest == DAY + timedelta(days=9)
    # The act of day 9 is now marked retracted (a late act left it without a place).
    other = _state(
        "facts-fresh", [_entry(2, "act", 1), _entry(3, "marked", 9), _entry(4, "act", 3)]
    )
    facts = record_facts(other)
    assert facts.suspended == {3}
    assert facts.latest == DAY + timedelta(days=3)
    # A shorter, older state of the same case is read afresh too.
    older = _state("facts-fresh", [_entry(2, "act", 1)])
    assert record_facts(older).latest == DAY + timedelta(days=1)


def test_a_replayed_case_with_equal_entries_is_read_afresh() -> None:
    """After an eviction the case is rebuilt with equal entries that are other objects.

    Its facts are read from its own entries, not matched against the kept ones field by field
    (comparing pydantic models cost a storm of replays more than reading them afresh).
    """
    first = _state("facts-replayed", [_entry(2, "act", 1), _entry(3, "act", 4)])
    record_facts(first)
    replayed = first.model_copy(deep=True)
    assert replayed.history == first.history
    facts = record_facts(replayed)
    assert all(a is b for a, b in zip(facts.entries, replayed.history, strict=True))
    assert facts.latest == DAY + timedelta(days=4)
