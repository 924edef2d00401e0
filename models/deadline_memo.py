"""The deadline memo: deadlines already computed, by everything they are computed from.

One action asks for a case's deadlines about ten times (each allowed action's guard, settling,
the next wake-up, the view), mostly of an unchanged case, so `CaseState.deadlines` looks the
answer up here first. The memo is shared by every case of the process (the key is the content,
not the case) and lives outside the state, so it never takes part in a state's equality or
serialisation. Workflows run in threads: `get`, item assignment and `clear` are each atomic, and
a lost entry only costs a recomputation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from models.deadlines import Deadline
from models.rules import RulePack

if TYPE_CHECKING:
    from models.case_state import CaseState

MEMO_SIZE = 512
"""Deadline results kept at most: a few per case being worked on."""

DEADLINE_MEMO: dict[tuple[Any, ...], list[Deadline]] = {}
"""Computed deadlines by `memo_key`."""


def memo_key(
    state: CaseState,
    pack: RulePack,
    provisional: RulePack | None,
    as_of: date,
    now: datetime | None,
) -> tuple[Any, ...]:
    """Everything `state`'s deadlines as of `as_of` (and `now`) are computed from.

    Plain values only, never the models: hashing and comparing a frozen pydantic model goes
    through pydantic for every field (and, in the workflow sandbox, through its wrapped
    `isinstance`), which made a memo hit cost more than the lookup is meant to save.
    """
    return (
        pack.id,
        pack.digest,
        provisional.digest if provisional is not None else None,
        # Every field of every occurrence, in the model's field order.
        tuple(tuple(o.__dict__.values()) for o in state.occurrences),
        state.situation_parts(),
        as_of,
        now,
        # A pause's clocks are a list (unhashable): the pause as a plain tuple instead.
        tuple(
            (p.start, p.end, p.attributable_to, tuple(p.clocks or ()), p.clocks is None, p.reason)
            for p in state.pauses
        ),
        tuple(sorted(state.extensions.items())),
        state.legal_time,
        state.stage,
        state.stage_since,
        tuple(state.stage_log),
    )


def remembered(key: tuple[Any, ...], compute: Callable[[], list[Deadline]]) -> list[Deadline]:
    """The deadlines memoised under `key`, computed (and kept) on a miss.

    A new list each time (callers sort and filter it), of the memo's own deadlines: they are
    frozen, so no caller can change what another is handed.
    """
    found = DEADLINE_MEMO.get(key)
    if found is None:
        found = compute()
        if len(DEADLINE_MEMO) >= MEMO_SIZE:
            # Only the last few questions of each case come back: start afresh, no LRU.
            DEADLINE_MEMO.clear()
        DEADLINE_MEMO[key] = found
    return list(found)
