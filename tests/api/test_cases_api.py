"""The caseworker API over ASGI, against a real worker, the dev server and a real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlmodel import Session, select

from api.casework import handle_for
from db.tables import PersonRecord
from db.users import Role
from models.rules import get_pack
from tests.api.helpers import Api, act, ago, create, person, today
from workflows.case import CaseWorkflow


async def test_lifecycle_by_http_alone(api: Api) -> None:
    api.user("officer", Role.BORDER_OFFICER)
    api.user("cw", Role.CASEWORKER)
    case = await create(api, "officer")
    cid = case["id"]
    assert case["stage"] == "identified"
    assert case["person"]["family_name"] == "Qarawi-Testperson"
    await act(api, "officer", cid, "complete_screening", on=ago(400))
    await act(api, "officer", cid, "make_application", on=ago(399))
    await act(api, "cw", cid, "register", on=ago(398))
    state = await act(api, "cw", cid, "lodge", on=ago(395))
    pack = get_pack("rs-2023")
    assert state["rule_pack"] == {
        "id": "rs-2023",
        "version": pack.version,
        "pinned": True,
        "digest": pack.digest,
    }
    await act(api, "cw", cid, "schedule_interview", on=ago(380), interview_on=ago(370))
    await act(api, "cw", cid, "record_interview", on=ago(370), attended=True)
    await act(api, "cw", cid, "decide", on=ago(300), outcome="refugee_status")
    state = await act(api, "cw", cid, "notify_decision", on=ago(299))
    # The 15-day appeal window ended long ago: the decision is final, the case in integration.
    assert state["stage"] == "integration"
    assert state["final"] is True
    await act(api, "cw", cid, "issue_permit", on=ago(250))
    await act(api, "cw", cid, "issue_personal_id", on=ago(249))
    state = await act(api, "cw", cid, "close", on=ago(200))
    assert state["stage"] == "closed"
    recorded = await api.http.get(f"/cases/{cid}/history?order=recorded", headers=api.auth("cw"))
    seqs = [e["seq"] for e in recorded.json()["items"]]
    assert seqs == sorted(seqs)
    # By default in legal order: by date, acts before what was derived on the same day.
    history = (await api.http.get(f"/cases/{cid}/history", headers=api.auth("cw"))).json()
    legal = [(e["on"], e["derived"], e["seq"]) for e in history["items"]]
    assert legal == sorted(legal)
    assert sorted(seqs) == sorted(s for _, _, s in legal)
    by_users = [e["action"] for e in history["items"] if e["actor"] != "system"]
    assert by_users[:5] == [
        "identify",
        "complete_screening",
        "make_application",
        "register",
        "lodge",
    ]
    # A closed case answers 409 with its stage and no allowed actions.
    late = await api.http.post(
        f"/cases/{cid}/actions/record_contact",
        json={"on": today().isoformat()},
        headers=api.auth("cw"),
    )
    assert late.status_code == 409
    assert late.json()["stage"] == "closed"
    assert late.json()["allowed_actions"] == []


async def test_error_statuses_and_bodies(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("admin", Role.ADMIN)
    api.user("gone", Role.CASEWORKER)
    api.user("la", Role.LEGAL_AID, org="org-a")
    cid = (await create(api, "cw"))["id"]

    no_token = await api.http.get(f"/cases/{cid}")
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"] == "Bearer"
    bad_token = await api.http.get(f"/cases/{cid}", headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401
    revoked = await api.http.post("/users/gone/revoke", headers=api.auth("admin"))
    assert revoked.status_code == 200
    assert (await api.http.get(f"/cases/{cid}", headers=api.auth("gone"))).status_code == 401

    forbidden = await api.http.get(f"/cases/{cid}", headers=api.auth("admin"))
    assert forbidden.status_code == 403
    wrong_role = await api.http.post(
        f"/cases/{cid}/actions/review_abandonment",
        json={"on": ago(1), "confirm": True},
        headers=api.auth("cw"),
    )
    assert wrong_role.status_code == 403
    assert "supervisor" in wrong_role.json()["allowed_roles"]

    missing = await api.http.get("/cases/doesnotexist", headers=api.auth("cw"))
    assert missing.status_code == 404
    unknown_action = await api.http.post(
        f"/cases/{cid}/actions/teleport", json={"on": ago(1)}, headers=api.auth("cw")
    )
    assert unknown_action.status_code == 404
    assert "decide" in unknown_action.json()["known_actions"]
    unknown_case_action = await api.http.post(
        "/cases/nope/actions/register", json={"on": ago(1)}, headers=api.auth("cw")
    )
    assert unknown_case_action.status_code == 404

    conflict = await api.http.post(
        f"/cases/{cid}/actions/decide",
        json={"on": ago(1), "outcome": "rejected"},
        headers=api.auth("cw"),
    )
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["stage"] == "identified"
    assert "make_application" in body["allowed_actions"]
    assert "decide" in body["detail"]

    bad_field = await api.http.post(
        f"/cases/{cid}/actions/refer", json={"on": ago(1), "to": "moon"}, headers=api.auth("cw")
    )
    assert bad_field.status_code == 422
    assert bad_field.json()["field"] == "to"
    future = await api.http.post(
        f"/cases/{cid}/actions/complete_screening",
        json={"on": (today() + timedelta(days=2)).isoformat()},
        headers=api.auth("cw"),
    )
    assert future.status_code == 422
    assert future.json()["field"] == "on"
    before = await api.http.post(
        f"/cases/{cid}/actions/complete_screening", json={"on": ago(500)}, headers=api.auth("cw")
    )
    assert before.status_code == 422
    assert before.json()["field"] == "on"
    bad_create = await api.http.post(
        "/cases",
        json={"jurisdiction": "rs", "person": person(nationality="XX"), "identified_on": ago(1)},
        headers=api.auth("cw"),
    )
    assert bad_create.status_code == 422
    assert bad_create.json()["field"] == "person.nationality"
    legal_aid_decides = await api.http.post(
        f"/cases/{cid}/actions/decide",
        json={"on": ago(1), "outcome": "rejected"},
        headers=api.auth("la"),
    )
    assert legal_aid_decides.status_code == 403
    # Nothing of the rejected requests reached the case.
    history = (await api.http.get(f"/cases/{cid}/history", headers=api.auth("cw"))).json()
    assert [e["action"] for e in history["items"]] == ["identify"]


async def test_idempotent_create(api: Api) -> None:
    api.user("officer", Role.BORDER_OFFICER)
    body = {"jurisdiction": "me", "person": person(), "identified_on": ago(3)}
    # Unique per test run: the case id derives from user and key, and the dev server is shared.
    headers = {**api.auth("officer"), "Idempotency-Key": f"border-post-7/{uuid.uuid4().hex}"}
    first, second = await asyncio.gather(
        api.http.post("/cases", json=body, headers=headers),
        api.http.post("/cases", json=body, headers=headers),
    )
    third = await api.http.post("/cases", json=body, headers=headers)
    assert {first.status_code, second.status_code} <= {200, 201}
    assert third.status_code == 200
    assert third.headers["idempotent-replayed"] == "true"
    assert first.json()["id"] == second.json()["id"] == third.json()["id"]
    with Session(api.engine) as session:
        people = session.exec(select(PersonRecord)).all()
    assert len(people) == 1
    changed = await api.http.post("/cases", json={**body, "identified_on": ago(4)}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["field"] == "Idempotency-Key"


async def test_eight_concurrent_identical_actions_exactly_one_wins(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(10)))["id"]
    await act(api, "cw", cid, "make_application", on=ago(9))
    responses = await asyncio.gather(
        *[
            api.http.post(
                f"/cases/{cid}/actions/register", json={"on": ago(8)}, headers=api.auth("cw")
            )
            for _ in range(8)
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 7, [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert r.json()["stage"] == "registered"
    history = (await api.http.get(f"/cases/{cid}/history", headers=api.auth("cw"))).json()
    assert [e["action"] for e in history["items"]].count("register") == 1


async def test_legal_aid_sees_only_its_org(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user("la-b", Role.LEGAL_AID, org="org-b")
    case_a = (await create(api, "cw", legal_aid_org="org-a"))["id"]
    case_b = (await create(api, "cw", legal_aid_org="org-b"))["id"]
    assert (await api.http.get(f"/cases/{case_a}", headers=api.auth("la-a"))).status_code == 200
    hidden = await api.http.get(f"/cases/{case_b}", headers=api.auth("la-a"))
    assert hidden.status_code == 404
    assert (
        await api.http.get(f"/cases/{case_b}/history", headers=api.auth("la-a"))
    ).status_code == 404
    contact = await api.http.post(
        f"/cases/{case_b}/actions/record_contact", json={"on": ago(1)}, headers=api.auth("la-a")
    )
    assert contact.status_code == 404
    own_contact = await api.http.post(
        f"/cases/{case_a}/actions/record_contact", json={"on": ago(1)}, headers=api.auth("la-a")
    )
    assert own_contact.status_code == 200

    async def listed() -> bool:
        r = await api.http.get("/cases", headers=api.auth("la-a"))
        return [c["id"] for c in r.json()["items"]] == [case_a]

    await api.wait_for(listed, "org A's list to show exactly its case")


async def test_no_personal_data_in_workflow_history(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(30)))["id"]
    await act(api, "cw", cid, "make_application", on=ago(29), note="first contact at the border")
    await act(api, "cw", cid, "register", on=ago(28))
    handle = api.env.client.get_workflow_handle(f"case-{cid}")
    raw = b"".join(e.SerializeToString() for e in (await handle.fetch_history()).events)
    for secret in (b"Zainab", b"Qarawi-Testperson", b"1991-04-17", b"IRQ"):
        assert secret not in raw, secret
    description = await handle.describe()
    attributes = str(description.typed_search_attributes)
    assert "Zainab" not in attributes
    assert "CaseStage" in attributes


async def test_list_filters_and_pagination(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    ids = [
        (await create(api, "cw", jurisdiction="pl", identified_on=ago(5)))["id"] for _ in range(3)
    ]
    await act(api, "cw", ids[0], "make_application", on=ago(4))

    async def projected() -> bool:
        r = await api.http.get("/cases?jurisdiction=pl&limit=500", headers=api.auth("cw"))
        rows = {c["id"]: c["stage"] for c in r.json()["items"]}
        return set(rows) == set(ids) and rows[ids[0]] == "application_made"

    await api.wait_for(projected, "the read model")
    made = await api.http.get(
        "/cases?stage=application_made&jurisdiction=pl", headers=api.auth("cw")
    )
    assert [c["id"] for c in made.json()["items"]] == [ids[0]]
    seen: list[str] = []
    cursor = None
    while True:
        url = "/cases?jurisdiction=pl&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.http.get(url, headers=api.auth("cw"))).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)


async def test_duplicates_across_transliterations(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    first = (
        await create(
            api,
            "cw",
            identified_on=ago(60),
            person=person(
                given_name="Mukhammad",
                family_name="Rakhimov",
                date_of_birth="1990-05-06",
                nationality="UZB",
            ),
        )
    )["id"]
    await act(api, "cw", first, "make_application", on=ago(60))
    await act(api, "cw", first, "register", on=ago(59))
    second = (
        await create(
            api,
            "cw",
            identified_on=ago(10),
            person=person(
                given_name="Мухаммад",
                family_name="Рахимов",
                date_of_birth="1990-05-06",
                nationality="UZ",
            ),
        )
    )["id"]
    unrelated = (
        await create(
            api,
            "cw",
            identified_on=ago(10),
            person=person(
                given_name="Olena",
                family_name="Kovalenko",
                date_of_birth="1990-05-06",
                nationality="UKR",
            ),
        )
    )["id"]
    await act(api, "cw", second, "make_application", on=ago(9))
    registered = await act(api, "cw", second, "register", on=ago(8))
    assert [d["other_case_id"] for d in registered["duplicate_candidates"]] == [first]
    await act(api, "cw", unrelated, "make_application", on=ago(9))
    assert (await act(api, "cw", unrelated, "register", on=ago(8)))["duplicate_candidates"] == []
    pending = (await api.http.get("/duplicates", headers=api.auth("cw"))).json()["items"]
    assert [(d["case_id"], d["other_case_id"]) for d in pending] == [(second, first)]
    assert any("transliteration" in r for r in pending[0]["reasons"])
    cw_confirm = await api.http.post(
        f"/duplicates/{pending[0]['id']}/confirm", headers=api.auth("cw")
    )
    assert cw_confirm.status_code == 403
    confirmed = await api.http.post(
        f"/duplicates/{pending[0]['id']}/confirm", headers=api.auth("sup")
    )
    assert confirmed.status_code == 200
    case = (await api.http.get(f"/cases/{first}", headers=api.auth("cw"))).json()
    assert case["linked_cases"] == [second]
    # Never merged: both cases go on separately.
    assert case["stage"] == "registered"


async def test_audit_records_reads_and_changes(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("admin", Role.ADMIN)
    cid = (await create(api, "cw", identified_on=ago(3)))["id"]
    await api.http.get(f"/cases/{cid}", headers=api.auth("cw"))
    await act(api, "cw", cid, "make_application", on=ago(2))
    log = (await api.http.get(f"/audit?case_id={cid}", headers=api.auth("admin"))).json()
    kinds = [(e["user_name"], e["kind"], e["route"]) for e in log["items"]]
    assert ("cw", "read", "/cases/{case_id}") in kinds
    assert ("cw", "change", "/cases/{case_id}/actions/{action}") in kinds
    assert (await api.http.get("/audit", headers=api.auth("cw"))).status_code == 403
    export = await api.http.get(f"/audit?case_id={cid}&format=csv", headers=api.auth("admin"))
    assert export.headers["content-type"].startswith("text/csv")
    rows = export.text.strip().splitlines()
    assert rows[0].startswith("id,at,user_name,role,kind")
    assert len(rows) == len(log["items"]) + 1  # a header, then the same entries as the JSON


async def test_typed_views_answer_what_the_workflow_built(api: Api) -> None:
    """The response models type the JSON; they never add, drop or change a key or value.

    Each route answers with `response_model_exclude_unset`: without it, every case would carry
    `"duplicate_candidates": null` and every history item its unset fields.
    """
    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on=ago(30)))["id"]
    acted = await act(api, "cw", cid, "make_application", on=ago(20))
    handle = handle_for(api.env.client, cid)
    raw = await handle.query(CaseWorkflow.state)
    shown = (await api.http.get(f"/cases/{cid}", headers=api.auth("cw"))).json()
    assert shown == {**raw, "person": shown["person"], "linked_cases": []}
    assert set(acted) == set(raw)  # an action's answer: the view, nothing added
    registered = await act(api, "cw", cid, "register", on=ago(19))
    assert set(registered) == set(await handle.query(CaseWorkflow.state)) | {"duplicate_candidates"}
    events = await handle.query(CaseWorkflow.history)
    history = (await api.http.get(f"/cases/{cid}/history", headers=api.auth("cw"))).json()
    keys: tuple[str, ...] = ("seq", "actor", "action", "event", "on", "recorded_at", "note")
    keys = (*keys, "data", "derived", "retracted", "retracted_by")
    built = [{k: e.get(k) for k in keys} for e in events]
    built.sort(key=lambda i: (i["on"], i["derived"], i["seq"]))  # legal order
    # `note_org` is the API's: whose organisation wrote each note (legal aid sees its own).
    assert [{k: v for k, v in i.items() if k != "note_org"} for i in history["items"]] == built
