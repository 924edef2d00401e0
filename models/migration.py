"""Moving running cases to another content of their pinned pack: what moves, and by how much.

A case is pinned by pack id and content digest (`models.rules`): correcting a pack file changes
new cases only. `asylumflow rules migrate` moves the running cases explicitly. Here is the pure
part: the preview of one case (every deadline whose due date, or existence, changes) and the act
that does it (`migrate_rules`, recorded in the case's history like any act, so re-deriving the
case keeps it).

Same id only: the command names a pack id and a content of that id. The case is then judged
again by its lodging date with that content, so a corrected `valid_from` can leave it to the
version before (a case lodged before `rs-2023` applied falls to `rs-2018`): that is pinning by
lodging date, not a move across ids chosen by anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from models.actions import MigrateRulesInput
from models.case_state import CaseState
from models.deadlines import Deadline
from models.enums import Action, Stage
from models.legal_record import ActRequest, record
from models.settling import local_date

MIGRATION_ACTOR = "system:rules-migrate"


@dataclass(frozen=True)
class Move:
    """One clock of one case that the migration moves (or creates, or removes)."""

    case_id: str
    clock: str
    old_due: date | None
    new_due: date | None
    old_status: str | None
    new_status: str | None

    @property
    def days(self) -> int | None:
        """Calendar days the due date moves (later is positive); None if created or removed."""
        if self.old_due is None or self.new_due is None:
            return None
        return (self.new_due - self.old_due).days


@dataclass(frozen=True)
class CasePreview:
    """What migrating one case would do."""

    case_id: str
    pack_before: str
    pack_after: str
    from_digest: str | None
    to_digest: str
    moves: list[Move]
    state_after: CaseState


def affected(state: CaseState, pack_id: str, to_digest: str) -> bool:
    """Whether the case is running, pinned under `pack_id`, to a content other than `to_digest`."""
    if not state.pack_pinned or state.stage is Stage.CLOSED:
        return False
    current = state.pack_pins.get(pack_id)
    if current is None and state.pack_id == pack_id:
        current = state.pack.digest
    return current is not None and current != to_digest


def migration_request(pack_id: str, to_digest: str, on: date, reason: str | None) -> ActRequest:
    """The `migrate_rules` act the command records in each case."""
    return ActRequest(
        Action.MIGRATE_RULES,
        MigrateRulesInput(on=on, pack=pack_id, to_digest=to_digest, reason=reason),
        MIGRATION_ACTOR,
    )


def _key(deadlines: list[Deadline]) -> dict[str, Deadline]:
    return {d.clock.value: d for d in deadlines}


def preview(
    state: CaseState, pack_id: str, to_digest: str, *, now: datetime, reason: str | None = None
) -> CasePreview:
    """The case after the migration (recorded today) and every deadline it moves.

    Raises:
        DomainError, InvalidInput: the case cannot be migrated (not pinned under `pack_id`...).
    """
    today = local_date(state, now)
    before = _key(state.deadlines(today, now))
    after_state = record(
        state, migration_request(pack_id, to_digest, today, reason), now=now, today=today
    ).state
    after = _key(after_state.deadlines(today, now))
    moves: list[Move] = []
    for clock in dict.fromkeys([*before, *after]):
        old, new = before.get(clock), after.get(clock)
        if old is not None and new is not None and old.due == new.due:
            continue
        moves.append(
            Move(
                case_id=state.case_id,
                clock=clock,
                old_due=old.due if old else None,
                new_due=new.due if new else None,
                old_status=old.status.value if old else None,
                new_status=new.status.value if new else None,
            )
        )
    return CasePreview(
        case_id=state.case_id,
        pack_before=state.pack_id,
        pack_after=after_state.pack_id,
        from_digest=state.pack_pins.get(pack_id, state.pack.digest),
        to_digest=to_digest,
        moves=moves,
        state_after=after_state,
    )
