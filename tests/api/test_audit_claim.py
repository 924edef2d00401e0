"""A change's audit record is stored in its read-model write's transaction, exactly once.

Against the real worker and dev server: a successful action leaves one record with its request
id and status, and the middleware commits nothing of its own; if the write fails, or the
response ends with another status than the route's success, the middleware still leaves one
correct record.
"""

from __future__ import annotations

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


@pytest.fixture
def middleware_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The statuses the middleware committed a record (or a correction) for itself."""
    written = audit._write
    calls: list[int] = []

    def counted(engine: Any, values: dict[str, Any], pending: Any, status: int) -> None:
        calls.append(status)
        written(engine, values, pending, status)

    monkeypatch.setattr(audit, "_write", counted)
    return calls


async def _post(api: Api, path: str, rid: str, **body: Any) -> int:
    response = await api.http.post(path, json=body, headers={**api.auth("cw"), "X-Request-Id": rid})
    return response.status_code


async def test_an_action_is_audited_in_its_write(api: Api, middleware_writes: list[int]) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    middleware_writes.clear()  # the creation's record went the same way; checked below
    status = await _post(api, f"/cases/{cid}/actions/make_application", "rid-act-1", on=ago(4))
    assert status == 200
    [record] = _records(api, "rid-act-1")
    assert (record.status, record.kind, record.user_name, record.case_id) == (
        200,
        "change",
        "cw",
        cid,
    )
    assert record.route == "/cases/{case_id}/actions/{action}"
    assert middleware_writes == []
    # A read has no write of its own: the middleware stores it.
    response = await api.http.get(
        f"/cases/{cid}", headers={**api.auth("cw"), "X-Request-Id": "rid-read-1"}
    )
    assert response.status_code == 200
    assert [r.status for r in _records(api, "rid-read-1")] == [200]
    assert middleware_writes == [200]


async def test_a_rejected_action_is_audited_by_the_middleware(
    api: Api, middleware_writes: list[int]
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    middleware_writes.clear()
    status = await _post(api, f"/cases/{cid}/actions/decide", "rid-rejected", on=ago(1))
    assert status in (409, 422)
    assert [r.status for r in _records(api, "rid-rejected")] == [status]
    assert middleware_writes == [status]


async def test_a_failed_write_still_leaves_one_record(
    api: Api, middleware_writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]

    def locked(*_: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(casework, "write_returned_batch", locked)
    middleware_writes.clear()
    status = await _post(api, f"/cases/{cid}/actions/make_application", "rid-lost", on=ago(4))
    assert status == 200  # the action happened; its row is left to the repair loop
    assert [r.status for r in _records(api, "rid-lost")] == [200]
    assert middleware_writes == [200]


async def test_a_response_that_ends_otherwise_corrects_the_record(
    api: Api, middleware_writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]
    await _post(api, f"/cases/{cid}/actions/make_application", "rid-app", on=ago(4))

    def broken(*_: Any) -> None:
        raise RuntimeError("duplicate check failed")

    # Registration checks for duplicates after its write: that failing turns the 200 into a 500.
    monkeypatch.setattr(actions, "record_matches", broken)
    middleware_writes.clear()
    with pytest.raises(RuntimeError):
        await _post(api, f"/cases/{cid}/actions/register", "rid-500", on=ago(3))
    [record] = _records(api, "rid-500")
    assert record.status == 500
    assert middleware_writes == [500]


async def test_creation_is_audited_in_its_write(api: Api, middleware_writes: list[int]) -> None:
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
    assert middleware_writes == []


async def test_an_unhandled_error_is_logged_and_audited(
    api: Api, middleware_writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(5)))["id"]

    async def broken(*_: Any) -> None:
        raise RuntimeError("the workflow could not be read")

    # Starlette's outermost middleware answers such a 500 itself, past the audit middleware.
    monkeypatch.setattr(cases, "read_view", broken)
    middleware_writes.clear()
    with pytest.raises(RuntimeError):
        await api.http.get(f"/cases/{cid}", headers={**api.auth("cw"), "X-Request-Id": "rid-err"})
    [record] = _records(api, "rid-err")
    assert (record.status, record.kind) == (500, "read")
    assert middleware_writes == [500]
