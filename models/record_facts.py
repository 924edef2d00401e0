"""What the legal record's fast path reads of a case's history, kept between actions.

`models.legal_record` records an act at the end of the record without re-deriving the case when
nothing on record says otherwise: no suspended act waiting for its place, every act dated on or
before the new one. Read from the whole history, that check made each action cost time in
proportion to the case's length (twice: the update validator's dry run and the handler).
`record_facts` keeps what it reads per case and extends it by the entries added since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from models.case_state import CaseEvent, CaseState
from models.enums import Action


@dataclass(frozen=True)
class RecordFacts:
    """What `_fast` reads of a history, folded over its entries in order.

    Each part is a fold whose step reads one entry, so the facts of a longer history are those
    of its prefix extended by the new entries (`extended`): an action on a case of 1,000
    entries then reads the few it added, not all 1,000 (bench/RESULTS.md, issue 18 session 15).
    """

    entries: list[CaseEvent]
    """The history these facts are of (a copy of the list; the entries are frozen)."""
    gone: dict[int, int]
    """`explicitly_retracted` of the history."""
    suspended: frozenset[int]
    """Seqs of recorded acts (not derived items) marked retracted."""
    latest: date | None
    """The latest legal date of an entry not marked retracted (None: no such entry)."""

    @classmethod
    def of(cls, history: Sequence[CaseEvent]) -> RecordFacts:
        """The facts of a whole history."""
        return cls([], {}, frozenset(), None).extended(history)

    def extended(self, history: Sequence[CaseEvent]) -> RecordFacts:
        """The facts of `history`, which begins with `self.entries`."""
        added = history[len(self.entries) :]
        gone = {**self.gone, **explicitly_retracted(added)}
        suspended, latest = set(self.suspended), self.latest
        for entry in added:
            if entry.retracted:
                if not entry.derived:
                    suspended.add(entry.seq)
            elif latest is None or entry.on > latest:
                latest = entry.on
        return RecordFacts(list(history), gone, frozenset(suspended), latest)


FACTS_SIZE = 64
"""Cases whose record facts are kept at most.

Small on purpose: the kept list holds its entries alive (~1.5 KB each), also after the case's
workflow left the worker's cache. What the table is for needs few slots: the update validator
and the handler of one action read the same state, and a case worked on now comes back soon. A
miss costs one pass over the history, where `_fast` used to make three."""

_FACTS: dict[str, RecordFacts] = {}
"""The latest `RecordFacts` computed for each case, by case id.

Shared by every case of the process, as `models.deadline_memo` is, and never trusted blindly: a
case's facts are used only for a history that begins with the entries they were read from
(`_begins_with`: the same objects at both ends, then equal throughout, which for the same
objects is a pointer comparison per entry; entries are frozen). Another state of the same case
id, or the same case replayed after its eviction, only costs a recomputation. Workflows run in
threads: `get`, item assignment and `clear` are each atomic, and a lost entry only costs a
recomputation."""


def record_facts(state: CaseState) -> RecordFacts:
    """The `RecordFacts` of the state's history, extended from the case's last ones if it can."""
    history = state.history
    known = _FACTS.get(state.case_id)
    if known is None or not _begins_with(history, known.entries):
        facts = RecordFacts.of(history)
    elif len(history) == len(known.entries):
        return known
    else:
        facts = known.extended(history)
    if len(_FACTS) >= FACTS_SIZE and state.case_id not in _FACTS:
        # As the deadline memo: only the cases being worked on come back; no LRU.
        _FACTS.clear()
    _FACTS[state.case_id] = facts
    return facts


def _begins_with(history: Sequence[CaseEvent], entries: list[CaseEvent]) -> bool:
    """Whether `history` begins with the kept `entries`.

    The same objects at both ends first: a case replayed after its eviction has equal entries
    that are other objects, and matching those field by field (pydantic's `__eq__`) costs more
    than reading them afresh. Then the whole prefix, compared in C, which takes an entry that
    is the same object as equal without looking into it: a pointer comparison per entry.
    """
    count = len(entries)
    if len(history) < count:
        return False
    if count and (history[0] is not entries[0] or history[count - 1] is not entries[count - 1]):
        return False
    return history[:count] == entries


_RETRACT = Action.RETRACT_EVENT.value
"""`retract_event`, read once: an enum member's `value` is a property; checks run per entry."""


def explicitly_retracted(history: Sequence[CaseEvent]) -> dict[int, int]:
    """The seqs `retract_event` entries took out of the record (for good), to the retraction's."""
    return {
        target: entry.seq
        for entry in history
        if entry.action == _RETRACT
        for target in entry.data.get("retracts", [entry.data["seq"]])
    }
