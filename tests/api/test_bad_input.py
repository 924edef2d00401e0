"""What each kind of bad input gets (the table in the README), and that it changes nothing."""

from __future__ import annotations

from datetime import timedelta

from db.users import Role
from tests.api.helpers import Api, act, ago, create, today


async def _history(api: Api, cid: str) -> list[str]:
    r = await api.http.get(f"/cases/{cid}/history", headers=api.auth("cw"))
    return [e["action"] for e in r.json()["items"]]


async def test_bad_input_table(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(30)))["id"]
    await act(api, "cw", cid, "make_application", on=ago(20))
    before = await _history(api, cid)
    url = f"/cases/{cid}/actions/register"
    headers = {**api.auth("cw"), "Content-Type": "application/json"}

    malformed = await api.http.post(url, content=b'{"on": "2026-', headers=headers)
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "body"

    wrong_type = await api.http.post(url, json={"on": 12}, headers=headers)
    assert wrong_type.status_code == 422
    assert wrong_type.json()["field"] == "on"

    extra = await api.http.post(url, json={"on": ago(19), "colour": "red"}, headers=headers)
    assert extra.status_code == 422
    assert extra.json()["field"] == "colour"

    unknown = await api.http.post(
        f"/cases/{cid}/actions/fly", json={"on": ago(19)}, headers=headers
    )
    assert unknown.status_code == 404
    assert "register" in unknown.json()["known_actions"]

    before_trigger = await api.http.post(url, json={"on": ago(25)}, headers=headers)
    assert before_trigger.status_code == 422
    assert before_trigger.json()["field"] == "on"

    future = await api.http.post(
        url, json={"on": (today() + timedelta(days=1)).isoformat()}, headers=headers
    )
    assert future.status_code == 422
    assert future.json()["field"] == "on"

    huge = await api.http.post(url, json={"on": ago(19), "note": "x" * 70_000}, headers=headers)
    assert huge.status_code == 413

    assert await _history(api, cid) == before  # nothing of the above reached the case

    await act(api, "cw", cid, "withdraw", on=ago(10))
    await act(api, "cw", cid, "close", on=ago(9))
    closed = await api.http.post(url, json={"on": ago(1)}, headers=headers)
    assert closed.status_code == 409
    assert closed.json()["stage"] == "closed"
    assert closed.json()["allowed_actions"] == []


async def test_ids_beyond_the_database_range_are_422(api: Api) -> None:
    """Found by the fuzzer: a path id too large for an INTEGER column used to be a 500."""
    sup = api.user("sup", Role.SUPERVISOR)
    la = api.user("la", Role.LEGAL_AID, org="org-a")
    admin = api.user("admin", Role.ADMIN)
    huge = 2**31
    assert (await api.http.post(f"/duplicates/{huge}/confirm", headers=sup)).status_code == 422
    deliveries = await api.http.get(f"/legal-aid/webhooks/{huge}/deliveries", headers=la)
    assert deliveries.status_code == 422
    assert (await api.http.get(f"/audit?after_id={huge}", headers=admin)).status_code == 422
