"""Legal records for the convergence tests: valid sets of acts with legal dates.

Shared by the pure-model property test (tests/unit/test_legal_time.py) and the one through the
real workflow (tests/workflows/test_legal_time_workflow.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from models.actions import input_model
from models.enums import Action, IdentifiedAt
from models.legal_record import ActRequest
from models.lifecycle import CaseState, new_case

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
TODAY = date(2026, 11, 23)


def fresh(identified_on: date, family: str = "rs", **opening: Any) -> CaseState:
    """A new case, identified at the border on `identified_on`.

    `opening`: `new_case`'s other arguments where the defaults will not do (its vulnerabilities).
    """
    return new_case(
        **{
            "case_id": "lt-1",
            "family": family,
            "identified_on": identified_on,
            "identified_at": IdentifiedAt.BORDER,
            "unaccompanied_child": False,
            "vulnerable": False,
            "legal_aid_org": None,
            "actor": "officer",
            "recorded_at": NOW,
            **opening,
        }
    )


def req(action: Action, **fields: Any) -> ActRequest:
    """One act to record."""
    return ActRequest(action, input_model(action)(**fields), "caseworker")


@dataclass(frozen=True)
class Act:
    """One act of a generated record: what, when, with which fields."""

    action: Action
    on: date
    fields: tuple[tuple[str, Any], ...] = ()

    def request(self, on: date | None = None) -> ActRequest:
        """The act as recorded (optionally under a wrong date, corrected later)."""
        return req(self.action, on=on or self.on, **dict(self.fields))


@st.composite
def records(draw: st.DrawFn) -> tuple[date, list[Act]]:
    """A valid legal record of a case: its identification day and its acts in legal order.

    One act a day: within a day the law does not order acts and typing order decides (of two
    conflicting acts of one day, the first typed stands), so only acts on distinct days have
    one legal order whatever the typing order.
    """
    start = date(2024, 6, 1) + timedelta(days=draw(st.integers(0, 200)))
    day = start
    acts: list[Act] = []

    def step(lo: int, hi: int) -> date:
        nonlocal day
        day += timedelta(days=draw(st.integers(lo, hi)))
        return day

    acts.append(Act(Action.MAKE_APPLICATION, step(0, 3)))
    acts.append(Act(Action.REGISTER, step(1, 5)))
    acts.append(Act(Action.LODGE, step(1, 25)))
    if draw(st.booleans()):
        acts.append(
            Act(
                Action.PAUSE_CLOCK,
                step(1, 40),
                (("reason", "documents"), ("attributable_to", "applicant")),
            )
        )
        acts.append(Act(Action.RESUME_CLOCK, step(1, 30)))
    for _ in range(draw(st.integers(0, 2))):
        acts.append(Act(Action.RECORD_CONTACT, step(1, 45)))
    if draw(st.booleans()):
        acts.append(
            Act(Action.EXTEND_DEADLINE, step(1, 60), (("clock", "decision"), ("reason", "complex")))
        )
    scheduled = step(1, 40)
    acts.append(Act(Action.SCHEDULE_INTERVIEW, scheduled, (("interview_on", step(1, 20)),)))
    acts.append(Act(Action.RECORD_INTERVIEW, day, (("attended", True),)))
    outcome = draw(st.sampled_from(["rejected", "refugee_status"]))
    acts.append(Act(Action.DECIDE, step(1, 120), (("outcome", outcome),)))
    acts.append(Act(Action.NOTIFY_DECISION, step(1, 10)))
    if outcome == "rejected" and draw(st.booleans()):
        acts.append(Act(Action.LODGE_APPEAL, step(1, 14)))
        if draw(st.booleans()):
            acts.append(Act(Action.DECIDE_APPEAL, step(10, 90), (("result", "dismissed"),)))
    assert day <= TODAY
    return start, acts
