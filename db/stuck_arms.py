"""The stuck list's condition as disjoint arms, and its total from the tallies.

A case is stuck when it has been in its stage longer than the stage's service level under the
case's pack, or (issue #19) when its interview waits for an interpreter. The condition is cut
into disjoint arms, one per stage and level (`stuck_arms`): each is one ordered range of the
(stage, stage_since, id) index, which pages the list (`db.supervision`).

The total is the arms' counts summed. Counting an arm's range visits every stuck case of the
stage (386,000 index entries at 1,000,000 cases, 86 ms of CPU per request); instead an arm
sums `case_tallies` over the months before its cutoff's month and counts from the index only
the cases that entered the stage in that month before the cutoff: one month of the stage's
intake, whatever the caseload (`Arm.total`). Both parts are read in one statement, so from one
snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, func
from sqlmodel import SQLModel

from db.tables import CaseRecord
from db.tallies import Tallied
from models.enums import Stage

_CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]


@dataclass(frozen=True)
class Arm:
    """One disjoint part of the stuck condition: a stage, a cutoff, and the packs it covers."""

    stage: Stage
    before: date | None
    """In the stage since before this day (None: any day; the interpreter arm)."""
    packs_in: tuple[str, ...] | None = None
    """Only cases of these packs (a pack with a level of its own)."""
    packs_not_in: tuple[str, ...] = ()
    """Not the cases of these packs (they have arms of their own)."""
    waiting_for_interpreter: bool | None = None
    """A condition on the interview's interpreter (interview_scheduled only)."""

    def _tallied(self, jurisdiction: str | None, procedure: str | None) -> Tallied:
        return Tallied(
            stages=(self.stage.value,),
            jurisdiction=jurisdiction,
            procedure=procedure,
            packs_in=self.packs_in,
            packs_not_in=self.packs_not_in,
            waiting_for_interpreter=self.waiting_for_interpreter,
        )

    def on_cases(self) -> ColumnElement[bool]:
        """The arm as a condition on `cases`."""
        c = _CASES.c
        found = self._tallied(None, None).on(_CASES)
        if self.before is not None:
            found.append(c.stage_since < self.before)
        return and_(*found)

    def total(self, jurisdiction: str | None, procedure: str | None) -> ColumnElement[int]:
        """How many cases the arm holds (within the filters).

        The tallies of the months before the cutoff's, plus the cases of the cutoff's own
        month that entered the stage before the cutoff (one month of an index range).
        """
        tallied = self._tallied(jurisdiction, procedure)
        if self.before is None:
            return tallied.count()
        month = self.before.replace(day=1)
        earlier = replace(tallied, months_before=month).count()
        this_month = (
            sa.select(func.count())
            .select_from(_CASES)
            .where(
                *tallied.on(_CASES),
                _CASES.c.stage_since >= month,
                _CASES.c.stage_since < self.before,
            )
            .scalar_subquery()
        )
        return earlier + this_month


def stuck_arms(
    today: date,
    stages: Iterable[Stage],
    default: Mapping[Stage, int],
    by_pack: Mapping[str, Mapping[Stage, int]],
) -> list[Arm]:
    """`stage_since` older than the level of the case's stage under the case's pack.

    Disjoint arms, one per stage and level: packs that keep the default level share one range
    per stage (which the (stage, stage_since, id) index answers); only packs with a level of
    their own add arms, on those packs alone.
    """
    arms: list[Arm] = []
    for stage in stages:
        own: dict[int, list[str]] = defaultdict(list)
        for pack_id, levels in by_pack.items():
            if levels[stage] != default[stage]:
                own[levels[stage]].append(pack_id)
        others = tuple(sorted(p for ids in own.values() for p in ids))
        # A case waiting for an interpreter is listed for that reason (its own arm below),
        # whatever its service level: the arms stay disjoint.
        interpreted = False if stage is Stage.INTERVIEW_SCHEDULED else None
        arms.append(
            Arm(
                stage,
                today - timedelta(days=default[stage]),
                packs_not_in=others,
                waiting_for_interpreter=interpreted,
            )
        )
        for level, ids in sorted(own.items()):
            arms.append(
                Arm(
                    stage,
                    today - timedelta(days=level),
                    packs_in=tuple(sorted(ids)),
                    waiting_for_interpreter=interpreted,
                )
            )
        if stage is Stage.INTERVIEW_SCHEDULED:
            # Issue #19: an interview in a language with no interpreter is stuck at once.
            arms.append(Arm(stage, None, waiting_for_interpreter=True))
    return arms
