"""The API writes the read model from each update's result; the workflow projects only its own.

Checked against the real worker and dev server, on SQLite and PostgreSQL: the row is current
when the caller gets the answer (no waiting), the history holds no projection activity for
API-driven changes, and a write the API lost is repaired from the workflow by the workers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType

from api import casework
from db import intents
from db.tables import CaseEventRecord, CaseRecord, DeadlineRecord
from db.users import Role
from models.messages import ProjectionBatch
from tests.api.helpers import Api, act, ago, create


def _stored(api: Api, case_id: str) -> tuple[CaseRecord | None, list[int], list[str]]:
    with Session(api.engine) as session:
        row = session.get(CaseRecord, case_id)
        seqs = session.exec(
            select(CaseEventRecord.seq)
            .where(CaseEventRecord.case_id == case_id)
            .order_by(CaseEventRecord.seq)  # type: ignore[arg-type]
        ).all()
        clocks = session.exec(
            select(DeadlineRecord.clock).where(DeadlineRecord.case_id == case_id)
        ).all()
    return row, list(seqs), sorted(clocks)


async def _history(api: Api, case_id: str) -> list[dict[str, Any]]:
    handle = api.env.client.get_workflow_handle(f"case-{case_id}")
    history: list[dict[str, Any]] = await handle.query("history")
    return history


async def _projection_activities(api: Api, case_id: str) -> int:
    handle = api.env.client.get_workflow_handle(f"case-{case_id}")
    events = (await handle.fetch_history()).events
    return sum(
        1
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "project_case"
    )


async def test_row_is_current_when_the_answer_comes(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    case = await create(api, "cw", identified_on=ago(30))
    cid = case["id"]
    assert "projection" not in case
    # Read straight after each answer: no polling, the API wrote the row before answering.
    row, seqs, _ = _stored(api, cid)
    assert row is not None and row.stage == "identified"
    assert seqs == [e["seq"] for e in await _history(api, cid)]
    steps = [
        ("make_application", {"on": ago(29)}),
        ("register", {"on": ago(28)}),
        ("lodge", {"on": ago(20)}),
        ("record_contact", {"on": ago(10), "note": "phoned"}),
    ]
    for action, body in steps:
        view = await act(api, "cw", cid, action, **body)
        assert "projection" not in view
        row, seqs, clocks = _stored(api, cid)
        assert row is not None
        assert row.stage == view["stage"]
        assert seqs == [e["seq"] for e in await _history(api, cid)]
        assert row.last_seq == seqs[-1]
        running = sorted(d["clock"] for d in view["deadlines"])
        assert clocks == running
    assert row is not None and row.stage == "lodged"
    # Nothing was due on the case's own clocks, so it never needed a projection activity.
    assert await _projection_activities(api, cid) == 0


def _lose_the_next_write(monkeypatch: pytest.MonkeyPatch) -> list[ProjectionBatch]:
    """Make the API's next read-model write fail (and later ones succeed); the lost batch."""
    written = intents.write_returned_batch
    lost: list[ProjectionBatch] = []

    def flaky(engine: Any, batch: ProjectionBatch, intent_id: int | None, also: Any) -> Any:
        if not lost:
            lost.append(batch)
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return written(engine, batch, intent_id, also)

    monkeypatch.setattr(casework, "write_returned_batch", flaky)
    return lost


async def test_a_lost_write_is_repaired_from_the_workflow(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(30)))["id"]
    failures = _lose_the_next_write(monkeypatch)
    # The action happened: the answer is 200 although the API could not write the row.
    view = await act(api, "cw", cid, "make_application", on=ago(29), note="at the border")
    assert view["stage"] == "application_made"
    assert [e.seq for e in failures[0].events] == [2]
    row, seqs, _ = _stored(api, cid)
    assert row is not None and row.stage == "identified" and seqs == [1]
    # Its intent is what the workers' repair loop finds (here called once, with no minimum age).
    assert intents.pending(api.engine, timedelta(0)) != {}
    assert cid in await intents.repair_pending(api.engine, api.env.client, timedelta(0))
    row, seqs, _ = _stored(api, cid)
    assert row is not None and row.stage == "application_made"
    assert seqs == [e["seq"] for e in await _history(api, cid)] == [1, 2]
    assert cid not in intents.pending(api.engine, timedelta(0))
    assert await _projection_activities(api, cid) == 0
    # Later changes go the fast way again, and leave no intent behind.
    await act(api, "cw", cid, "register", on=ago(28))
    row, seqs, _ = _stored(api, cid)
    assert row is not None and row.stage == "registered"
    assert seqs == [e["seq"] for e in await _history(api, cid)]
    assert cid not in intents.pending(api.engine, timedelta(0))


async def test_rejected_actions_leave_no_intent(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(30)))["id"]
    recorded: list[str] = []
    record = intents.record_intent

    def counted(engine: Any, case_id: str) -> int:
        recorded.append(case_id)
        return record(engine, case_id)

    monkeypatch.setattr(casework, "record_intent", counted)
    # A valid body the stage refuses: the intent is stored, the workflow's validator rejects
    # the update, and the intent must go again (a body the API refuses never makes one).
    single = await api.http.post(
        f"/cases/{cid}/actions/decide",
        json={"on": ago(1), "outcome": "rejected"},
        headers=api.auth("cw"),
    )
    assert single.status_code == 409, single.text
    assert single.json()["stage"] == "identified"
    batch = await api.http.post(
        f"/cases/{cid}/actions",
        json={"actions": [{"action": "lodge", "on": ago(1)}]},
        headers=api.auth("cw"),
    )
    assert batch.status_code == 409, batch.text
    assert recorded == [cid, cid]  # both reached the workflow
    assert cid not in intents.pending(api.engine, timedelta(0))


async def test_a_repair_never_moves_a_newer_row_back(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(30)))["id"]
    lost = _lose_the_next_write(monkeypatch)
    await act(api, "cw", cid, "make_application", on=ago(29))  # lost: its intent stays
    await act(api, "cw", cid, "register", on=ago(28))  # written: the row is newer
    row, _, _ = _stored(api, cid)
    assert row is not None and row.stage == "registered"
    # The repair read the workflow before the second action landed (a race with the API): it
    # writes the older state, which must add what is missing and leave the newer row alone.
    monkeypatch.setattr(intents, "full_batch", lambda state, now: lost[0])
    assert cid in await intents.repair_pending(api.engine, api.env.client, timedelta(0))
    row, seqs, _ = _stored(api, cid)
    assert row is not None and row.stage == "registered"
    assert seqs == [e["seq"] for e in await _history(api, cid)]
