"""An action's `Idempotency-Key`: a retry reaches the same update and records nothing twice."""

from __future__ import annotations

from db.users import Role
from tests.api.helpers import Api, act, ago, create, today


async def test_a_retried_action_is_recorded_once(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    case = await create(api, "cw")
    await act(api, "cw", case["id"], "make_application", on=ago(10))
    # record_contact can happen any number of times: only the key keeps a retry from adding one.
    url = f"/cases/{case['id']}/actions/record_contact"
    body = {"on": today().isoformat(), "note": "phoned"}
    headers = {**api.auth("cw"), "Idempotency-Key": "contact-1"}
    first = await api.http.post(url, json=body, headers=headers)
    again = await api.http.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    other = await api.http.post(url, json={**body, "note": "emailed"}, headers=headers)
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    # Without a key (or with another one) it is a new contact.
    fresh = await api.http.post(
        url, json=body, headers={**api.auth("cw"), "Idempotency-Key": "contact-2"}
    )
    assert fresh.status_code == 200
    history = await api.http.get(f"/cases/{case['id']}/history", headers=api.auth("cw"))
    contacts = [i for i in history.json()["items"] if i["action"] == "record_contact"]
    assert len(contacts) == 2, contacts
