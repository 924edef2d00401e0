"""A case entered late: its past actions in one batch, clocks settled once, all or nothing."""

from __future__ import annotations

from typing import Any

from db.users import Role
from tests.api.helpers import Api, act, ago, create

PAST = [
    {"action": "make_application", "on": ago(399)},
    {"action": "register", "on": ago(398)},
    {"action": "lodge", "on": ago(395)},
    {"action": "decide", "on": ago(300), "outcome": "rejected"},
    {"action": "notify_decision", "on": ago(299)},
    {"action": "lodge_appeal", "on": ago(290)},
]


async def _history(api: Api, cid: str) -> list[dict[str, Any]]:
    r = await api.http.get(f"/cases/{cid}/history", headers=api.auth("cw"))
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_migrated_case_in_one_batch(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    batch_case = (await create(api, "cw", identified_on=ago(400)))["id"]
    response = await api.http.post(
        f"/cases/{batch_case}/actions", json={"actions": PAST}, headers=api.auth("cw")
    )
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["stage"] == "appeal_lodged"
    lma = next(d for d in state["deadlines"] if d["clock"] == "labour_market_access")
    assert lma["status"] == "cancelled"  # the decision came before the 6 months ran out
    actions = [e["action"] for e in await _history(api, batch_case)]
    assert "entitlement_reached" not in actions
    assert "decision_final" not in actions

    # The same acts one at a time, late, end in the same record: legal time, not typing time.
    single = (await create(api, "cw", identified_on=ago(400)))["id"]
    for item in PAST[:-1]:
        await act(
            api, "cw", single, item["action"], **{k: v for k, v in item.items() if k != "action"}
        )
    # Typed after the window closed, the appeal lodged in time is accepted, and the finality
    # concluded in between is retracted.
    late = await api.http.post(
        f"/cases/{single}/actions/lodge_appeal", json={"on": ago(290)}, headers=api.auth("cw")
    )
    assert late.status_code == 200, late.text
    assert late.json()["stage"] == "appeal_lodged"
    assert late.json()["deadlines"] == state["deadlines"]
    items = await _history(api, single)
    finality = [e for e in items if e["action"] == "decision_final"]
    appeal = next(e for e in items if e["action"] == "lodge_appeal")
    assert finality and all(e["retracted"] for e in finality)
    assert {e["retracted_by"] for e in finality} == {appeal["seq"]}
    standing = [
        (e["action"], e["on"]) for e in items if not e["retracted"] and e["action"] != "identify"
    ]
    in_batch = [(e["action"], e["on"]) for e in await _history(api, batch_case)]
    assert standing == [a for a in in_batch if a[0] != "identify"]


async def test_batch_is_all_or_nothing(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("la", Role.LEGAL_AID, org="org-a")
    cid = (await create(api, "cw", identified_on=ago(50)))["id"]
    made = {"action": "make_application", "on": ago(45)}
    bad_order = [made, {"action": "decide", "on": ago(40), "outcome": "rejected"}]
    conflict = await api.http.post(
        f"/cases/{cid}/actions", json={"actions": bad_order}, headers=api.auth("cw")
    )
    assert conflict.status_code == 409
    assert conflict.json()["index"] == 1
    assert conflict.json()["stage"] == "application_made"
    bad_field = await api.http.post(
        f"/cases/{cid}/actions",
        json={"actions": [made, {"action": "refer", "on": ago(40), "to": "moon"}]},
        headers=api.auth("cw"),
    )
    assert bad_field.status_code == 422
    assert bad_field.json()["field"] == "actions.1.to"
    forbidden = await api.http.post(
        f"/cases/{cid}/actions", json={"actions": [made]}, headers=api.auth("la")
    )
    assert forbidden.status_code == 403
    assert [e["action"] for e in await _history(api, cid)] == ["identify"]
