"""Shared helpers of the statistics tests: a seeded random caseload written into the read model."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from db.stat_facts import CONTEXT, COUNTED, EventRow, event_row, refresh_facts
from db.tables import CaseEventRecord, CaseRecord
from models.enums import DECISION_OUTCOMES, AppealResult, Procedure

JURISDICTIONS = ("rs", "rs", "me", "pl")
START = date(2024, 1, 1)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS = {
    "identify": "identified",
    "make_application": "made",
    "register": "registered",
    "lodge": "lodged",
    "assign_procedure": "procedure_assigned",
    "record_contact": None,
    "decide": "decided",
    "decide_admissibility": "admissibility_decided",
    "notify_decision": "notified",
    "lodge_appeal": "appeal_lodged",
    "decide_appeal": "appeal_decided",
    "discontinue": "discontinued",
    "review_abandonment": "discontinued",
    "withdraw": "withdrawn",
    "correct_event": None,
}


def load_events(
    engine: Engine,
    *,
    jurisdiction: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[EventRow]:
    """The events the replay needs, of the cases that can contribute to the window.

    What `/stats` read before the facts were stored (it now counts them): the reference
    `stats.figures` is computed from these, to check the facts against their events.

    With a window, only cases with a counted event dated inside it (or with a date correction,
    which may move one in) are read, through the (action, on) index; their whole relevant
    history is read, since a decision's processing time starts at an earlier lodging.
    """
    e = SQLModel.metadata.tables[CaseEventRecord.__tablename__].c
    query = sa.select(e.case_id, e.seq, e.action, e.event, e.on, e.data).where(
        e.action.in_(COUNTED + CONTEXT)
    )
    if jurisdiction:
        cases = SQLModel.metadata.tables[CaseRecord.__tablename__].c
        query = query.where(
            e.case_id.in_(sa.select(cases.id).where(cases.jurisdiction == jurisdiction))
        )
    if date_from or date_to:
        dated: list[ColumnElement[bool]] = [e.action.in_(COUNTED)]
        if date_from:
            dated.append(e.on >= date_from)
        if date_to:
            dated.append(e.on <= date_to)
        touched = sa.select(e.case_id).where(*dated)
        fixes = sa.select(e.case_id).where(e.action == "correct_event")
        query = query.where(sa.or_(e.case_id.in_(touched), e.case_id.in_(fixes)))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(e.case_id, e.seq)).all()
    return [event_row(*r) for r in rows]


def random_history(rng: random.Random) -> list[tuple[str, date, dict[str, Any]]]:
    """One case's (action, on, data), in order, with the twists the replay handles."""
    day = START + timedelta(days=rng.randint(0, 500))
    steps: list[tuple[str, date, dict[str, Any]]] = [("identify", day, {})]

    def step(action: str, data: dict[str, Any] | None = None, gap: int = 30) -> None:
        nonlocal day
        day += timedelta(days=rng.randint(0, gap))
        steps.append((action, day, data or {}))

    if rng.random() < 0.1:  # withdrawn before ever applying: not a closed application
        step("withdraw")
        return steps
    step("make_application")
    step("register")
    for _ in range(1 + (rng.random() < 0.15)):  # sometimes lodged again (subsequent)
        step("lodge", {"subsequent": rng.random() < 0.1})
        if rng.random() < 0.3:
            step("assign_procedure", {"procedure": rng.choice(list(Procedure)).value}, 5)
        step("record_contact")
        roll = rng.random()
        if roll < 0.1:
            step(rng.choice(["discontinue", "review_abandonment", "withdraw"]))
            if rng.random() < 0.5:
                continue  # a case may be lodged again after it was closed
            break
        if roll < 0.2:
            step("decide_admissibility", {"admissible": rng.random() < 0.4}, 60)
        if roll < 0.85:
            step("decide", {"outcome": rng.choice(list(DECISION_OUTCOMES)).value}, 300)
            if rng.random() < 0.5:
                step("notify_decision")
                step("lodge_appeal", {}, 10)
                result = rng.choice(list(AppealResult)).value
                data = {"result": result}
                if result == AppealResult.SUBSTITUTED.value:
                    data["outcome"] = rng.choice(list(DECISION_OUTCOMES)).value
                step("decide_appeal", data, 200)
        break
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        legal = rng.choice(["lodged", "decided", "appeal_decided", "discontinued", "withdrawn"])
        fixed = START + timedelta(days=rng.randint(0, 900))
        step("correct_event", {"event": legal, "date": fixed.isoformat()}, 3)
    return steps


def add_case(
    session: Session,
    case_id: str,
    jurisdiction: str,
    history: list[tuple[str, date, dict[str, Any]]],
) -> None:
    """Add a lodged case's row and its events (action, date, data), numbered from 1."""
    first = history[0][1]
    session.add(
        CaseRecord(
            id=case_id,
            jurisdiction=jurisdiction,
            stage="lodged",
            stage_since=first,
            procedure="regular",
            pack_id="rs-2023",
            pack_version="1",
            last_action_on=first,
            last_contact_on=first,
            identified_on=first,
            updated_at=NOW,
        )
    )
    write_history(session, case_id, history, first=1)


def write_history(
    session: Session, case_id: str, history: list[tuple[str, date, dict[str, Any]]], first: int
) -> None:
    """Add a case's events (action, date, data) to `session`, numbered from `first`."""
    for seq, (action, on, data) in enumerate(history, start=first):
        session.add(
            CaseEventRecord(
                case_id=case_id,
                seq=seq,
                actor="test",
                action=action,
                event=EVENTS[action],
                on=on,
                recorded_at=NOW,
                data=data,
            )
        )


def seed_caseload(engine: Engine, n: int, seed: int) -> tuple[list[EventRow], dict[str, str]]:
    """Insert `n` random cases and their events and refresh their facts, as the projection does.

    Returns the events as the replay reads them, and each case's jurisdiction.
    """
    rng = random.Random(seed)
    rows: list[EventRow] = []
    jurisdictions: dict[str, str] = {}
    with Session(engine) as session:
        for i in range(n):
            case_id = f"r{seed}-{i:04d}"
            history = random_history(rng)
            jurisdictions[case_id] = rng.choice(JURISDICTIONS)
            add_case(session, case_id, jurisdictions[case_id], history)
            rows.extend(
                event_row(case_id, seq, action, EVENTS[action], on, data)
                for seq, (action, on, data) in enumerate(history, start=1)
            )
            refresh_facts(session, case_id)
        session.commit()
    return rows, jurisdictions


WINDOWS = [
    (None, None),
    (date(2024, 1, 1), date(2024, 12, 31)),
    (date(2024, 3, 15), date(2024, 6, 14)),
    (date(2025, 1, 1), None),
    (None, date(2024, 9, 30)),
    (date(2024, 8, 1), date(2024, 8, 1)),
]
