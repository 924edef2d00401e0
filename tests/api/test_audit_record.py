"""Each audited request leaves exactly one record, committed before the answer, with its status.

Against the real worker and dev server. A change that writes the read model stores its record in
that write's transaction, and the middleware commits nothing of its own. Any other request's
record is begun as soon as its user is known, so it is already in the database while the route
still waits on Temporal. Whatever the request ends with (success, refusal, a failed write, an
unhandled error, cancellation), the one record carries that status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from api import audit, casework
from api.routes import actions, cases
from db.tables import AuditRecord
from db.users import Role
from tests.api.helpers import Api, ago, create, person


def _records(api: Api, request_id: str) -> list[AuditRecord]:
    with Session(api.engine) as session:
        return list(session.exec(select(AuditRecord).where(AuditRecord.request_id == request_id)))


async def _record_appears(api: Api, request_id: str) -> None:
    """Wait until the request's record is in the database (the request is still running)."""
    async with asyncio.timeout(10):
        while not await asyncio.to_thread(_records, api, request_id):
            await asyncio.sleep(0.01)


def _after_its_record(
    api: Api, request_id: str, call: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    """`call`, made to wait first until the request's audit record is committed."""

    async def waited(*args: Any, **kwargs: Any) -> Any:
        await _record_appears(api, request_id)
        return await call(*args, **kwargs)

    return waited


async def _post(api: Api, path: str, rid: str, **body: Any) -> int:
    response = await api.http.post(path, json=body, headers={**api.auth("cw"), "X-Request-Id": rid})
    return response.status_code


async def test_an_action_is_audited_in_its_write(
    api: Api, audit_writes: list[tuple[str, int]]
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    audit_writes.clear()  # the creation's record went the same way; checked below
    assert await _post(api, f"/cases/{cid}/actions/make_application", "rid-act", on=ago(4)) == 200
    [record] = _records(api, "rid-act")
    assert (record.status, record.kind, record.user_name, record.case_id) == (
        200,
        "change",
        "cw",
        cid,
    )
    assert record.route == "/cases/{case_id}/actions/{action}"
    assert audit_writes == []


async def test_a_batch_of_actions_is_audited_in_its_write(
    api: Api, audit_writes: list[tuple[str, int]]
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    audit_writes.clear()
    response = await api.http.post(
        f"/cases/{cid}/actions",
        json={"actions": [{"action": "make_application", "on": ago(4)}]},
        headers={**api.auth("cw"), "X-Request-Id": "rid-batch"},
    )
    assert response.status_code == 200, response.text
    assert [r.status for r in _records(api, "rid-batch")] == [200]
    assert audit_writes == []


async def test_a_read_is_recorded_while_it_waits(
    api: Api, audit_writes: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    # The case is only read from Temporal once the record is in the database: written at the
    # answer, it never would be, and the wait times out (a 500).
    read_view = _after_its_record(api, "rid-read", casework.read_view)
    monkeypatch.setattr(cases, "read_view", read_view)
    audit_writes.clear()
    response = await api.http.get(
        f"/cases/{cid}", headers={**api.auth("cw"), "X-Request-Id": "rid-read"}
    )
    assert response.status_code == 200
    assert [(r.status, r.kind) for r in _records(api, "rid-read")] == [(200, "read")]
    assert audit_writes == [("insert", 200)]


async def test_a_rejected_action_is_audited_by_the_middleware(
    api: Api, audit_writes: list[tuple[str, int]]
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    audit_writes.clear()
    status = await _post(api, f"/cases/{cid}/actions/decide", "rid-rejected", on=ago(1))
    assert status in (409, 422)
    assert [r.status for r in _records(api, "rid-rejected")] == [status]
    assert audit_writes == [("insert", status)]


async def test_a_refused_role_is_recorded_as_refused(api: Api) -> None:
    api.user("la", Role.LEGAL_AID, org="org-a")
    response = await api.http.get(
        "/supervision/stuck", headers={**api.auth("la"), "X-Request-Id": "rid-403"}
    )
    assert response.status_code == 403
    assert [r.status for r in _records(api, "rid-403")] == [403]


async def test_a_failed_read_model_write_still_leaves_one_record(
    api: Api, audit_writes: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]

    def locked(*_: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(casework, "write_returned_batch", locked)
    audit_writes.clear()
    status = await _post(api, f"/cases/{cid}/actions/make_application", "rid-lost", on=ago(4))
    assert status == 200  # the action happened; its row is left to the repair loop
    assert [r.status for r in _records(api, "rid-lost")] == [200]
    assert audit_writes == [("insert", 200)]


async def test_a_failed_audit_write_is_written_again_before_the_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    insert = audit._insert
    failures = [OperationalError("INSERT", {}, Exception("database is locked"))]

    def once_locked(engine: Any, values: dict[str, Any]) -> int:
        if failures:
            raise failures.pop()
        return insert(engine, values)

    monkeypatch.setattr(audit, "_insert", once_locked)
    response = await api.http.get(
        f"/cases/{cid}", headers={**api.auth("cw"), "X-Request-Id": "rid-again"}
    )
    assert response.status_code == 200
    assert [r.status for r in _records(api, "rid-again")] == [200]
    assert failures == []


async def test_a_response_that_ends_otherwise_corrects_the_record(
    api: Api, audit_writes: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    await _post(api, f"/cases/{cid}/actions/make_application", "rid-app", on=ago(4))

    def broken(*_: Any) -> None:
        raise RuntimeError("duplicate check failed")

    # Registration checks for duplicates after its write: that failing turns the 200 into a 500.
    monkeypatch.setattr(actions, "record_matches", broken)
    audit_writes.clear()
    with pytest.raises(RuntimeError):
        await _post(api, f"/cases/{cid}/actions/register", "rid-500", on=ago(3))
    [record] = _records(api, "rid-500")
    assert record.status == 500
    assert audit_writes == [("correct", 500)]


async def test_creation_is_audited_in_its_write(
    api: Api, audit_writes: list[tuple[str, int]]
) -> None:
    api.user("cw", Role.CASEWORKER)
    response = await api.http.post(
        "/cases",
        json={
            "jurisdiction": "rs",
            "identified_on": ago(2),
            "identified_at": "border",
            "person": person(),
        },
        headers={**api.auth("cw"), "X-Request-Id": "rid-create"},
    )
    assert response.status_code == 201, response.text
    [record] = _records(api, "rid-create")
    assert (record.status, record.route, record.case_id) == (201, "/cases", None)
    assert audit_writes == []


async def test_an_unhandled_error_is_logged_and_audited(
    api: Api, audit_writes: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]

    async def broken(*_: Any) -> None:
        raise RuntimeError("the workflow could not be read")

    # Starlette's outermost middleware answers such a 500 itself, past the audit middleware.
    monkeypatch.setattr(cases, "read_view", broken)
    audit_writes.clear()
    with pytest.raises(RuntimeError):
        await api.http.get(f"/cases/{cid}", headers={**api.auth("cw"), "X-Request-Id": "rid-err"})
    [record] = _records(api, "rid-err")
    assert (record.status, record.kind) == (500, "read")
    assert audit_writes == [("insert", 200), ("correct", 500)]


async def test_a_request_cancelled_before_its_answer_is_not_recorded_as_answered(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    reading = asyncio.Event()

    async def hangs(*_: Any) -> None:
        reading.set()
        await asyncio.Event().wait()  # never answers: the server stops first

    monkeypatch.setattr(cases, "read_view", _after_its_record(api, "rid-gone", hangs))
    request = asyncio.create_task(
        api.http.get(f"/cases/{cid}", headers={**api.auth("cw"), "X-Request-Id": "rid-gone"})
    )
    await asyncio.wait_for(reading.wait(), 10)
    assert [r.status for r in _records(api, "rid-gone")] == [200]  # begun as a success
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert [r.status for r in _records(api, "rid-gone")] == [audit.CANCELLED]
