"""The stuck list's condition as disjoint arms, and its total from the tallies.

A case is stuck when it has been in its stage longer than the stage's service level under the
case's pack, or (issue #19) when its interview waits for an interpreter. The condition is cut
into disjoint arms, one per stage and level (`stuck_arms`): each is one ordered range of the
(stage, stage_since, id) index, which pages the list (`db.supervision`).

The total is the arms' counts summed. Counting an arm's range visits every stuck case of the
stage (386,000 index entries at 1,000,000 cases, 86 ms of CPU per request); instead the total
sums `case_tallies` up to the cutoffs' months and corrects each arm by the cases of its cutoff's
month on the wrong side of the cutoff, counted from the index: at most half a month of the
stage's intake, whatever the caseload (`total`). Both parts are read in one statement, so from
one snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import SQLModel

from db.tables import CaseRecord, CaseTallyRecord
from db.tallies import Tallied
from models.enums import Stage

_CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]
_TALLIES = SQLModel.metadata.tables[CaseTallyRecord.__tablename__]


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


def _month_after(day: date) -> date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def total(
    arms: Sequence[Arm], today: date, jurisdiction: str | None, procedure: str | None
) -> ColumnElement[int]:
    """How many cases the arms hold together (within the filters), from the tallies.

    Per arm with a cutoff: the tallies of the months before the cutoff's month plus that month's
    cases before the cutoff, or the tallies up to and including the cutoff's month minus that
    month's cases from the cutoff on, whichever leaves fewer days to count from the index (the
    days up to today: none enter a stage later). The arms are disjoint, and a tally row is
    one combination of the columns the arms test, so no row is in two arms: all the arms'
    tallies are one sum over one `OR`. A sum per arm read the same heap pages of `case_tallies`
    once per arm, which updates leave sparse (at 1,000,000 cases 7,032 rows on 736 pages; 22
    sums made 3,833 page reads, more than half of the stuck page's time in the database).
    """
    tallied: list[ColumnElement[bool]] = []
    corrections: list[tuple[int, ColumnElement[int]]] = []
    for arm in arms:
        counted = arm._tallied(jurisdiction, procedure)
        if arm.before is None:
            tallied.append(and_(*counted.on(_TALLIES)))
            continue
        month, following = arm.before.replace(day=1), _month_after(arm.before)
        end = min(following, today + timedelta(days=1))
        if arm.before - month <= end - arm.before:
            sign, months_before, since, until = 1, month, month, arm.before
        else:
            sign, months_before, since, until = -1, following, arm.before, following
        tallied.append(and_(*replace(counted, months_before=months_before).on(_TALLIES)))
        if since < until:
            in_month = (
                sa.select(func.count())
                .select_from(_CASES)
                .where(
                    *counted.on(_CASES),
                    _CASES.c.stage_since >= since,
                    _CASES.c.stage_since < until,
                )
                .scalar_subquery()
            )
            corrections.append((sign, in_month))
    if not tallied:
        return sa.literal(0, sa.Integer)
    summed = sa.select(func.coalesce(func.sum(_TALLIES.c.n), 0)).where(or_(*tallied))
    found: ColumnElement[int] = summed.scalar_subquery()
    for sign, part in corrections:
        found = found + part if sign > 0 else found - part
    return found


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
