"""The responsibility procedure (Dublin III / AMMR, issue 20) over HTTP against a real worker.

Under each regime, chosen by the date of registration (604/2013 before 1 July 2026, 2024/1351
from that day): a request, a reply (explicit, and acceptance by silence, which the engine
records when the reply period ends), a transfer that closes the case, and a transfer deadline
that passes so the case stays here. The 604/2013 cases use fixed dates before 1 July 2026; the
2024/1351 cases count back from today (the registration is always after 1 July 2026).
"""

from __future__ import annotations

from typing import Any

from db.users import Role
from tests.api.helpers import Api, act, ago, create, fetch_history

CW = "cw"


def users(api: Api) -> None:
    """A caseworker, a supervisor and a border officer."""
    api.user(CW, Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    api.user("officer", Role.BORDER_OFFICER)


async def eu_case(api: Api, made: str, registered: str, lodged: str) -> str:
    """An eu case made, registered and lodged on those days."""
    case_id: str = (await create(api, CW, jurisdiction="eu", identified_on=made))["id"]
    await act(api, CW, case_id, "make_application", on=made)
    await act(api, CW, case_id, "register", on=registered)
    await act(api, CW, case_id, "lodge", on=lodged)
    return case_id


def clock(view: dict[str, Any], name: str) -> dict[str, Any]:
    """The deadline `name` of a case view (exactly one)."""
    found = [d for d in view["deadlines"] if d["clock"] == name]
    assert len(found) == 1, (name, view["deadlines"])
    one: dict[str, Any] = found[0]
    return one


async def view_of(api: Api, case_id: str) -> dict[str, Any]:
    response = await api.http.get(f"/cases/{case_id}", headers=api.auth(CW))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_604_take_charge_accepted_and_transferred(api: Api) -> None:
    """Registered before 1 July 2026: 604/2013 figures; an explicit acceptance; a transfer."""
    users(api)
    case_id = await eu_case(api, "2026-03-04", "2026-03-05", "2026-03-10")
    lodged = await view_of(api, case_id)
    assert "request_take_charge" in lodged["allowed_actions"]
    assert lodged["responsibility"] is None
    # Border officers do not make requests to other states.
    refused = await api.http.post(
        f"/cases/{case_id}/actions/request_take_charge",
        json={"on": "2026-05-04", "to_state": "DE"},
        headers=api.auth("officer"),
    )
    assert refused.status_code == 403

    # Lodged 10 Mar + 3 months = Wed 10 Jun 2026: a request dated the 11th is out of time
    # (Art 21(1) third subparagraph), refused on its date, and nothing is recorded.
    late = await api.http.post(
        f"/cases/{case_id}/actions/request_take_charge",
        json={"on": "2026-06-11", "to_state": "DE"},
        headers=api.auth(CW),
    )
    assert late.status_code == 422, late.text
    assert late.json()["field"] == "on"
    assert "ended on 2026-06-10" in late.json()["detail"], late.text
    assert "leaves responsibility with this state" in late.json()["detail"]
    assert (await view_of(api, case_id))["stage"] == "lodged"

    requested = await act(api, CW, case_id, "request_take_charge", on="2026-05-04", to_state="DE")
    request = clock(requested, "responsibility_request")
    assert (request["due"], request["status"], request["rule"]) == (
        "2026-06-10",
        "met",
        "eu-2013/dub3-21-1",
    )
    # The record runs up to now: the reply period ended on Mon 6 July 2026 (4 July + rolled)
    # without a reply on record, so the engine took the silence as acceptance that day.
    reply = clock(requested, "responsibility_reply")
    assert (reply["due"], reply["rule"], reply["unverified"]) == (
        "2026-07-06",
        "eu-2013/dub3-22-1",
        True,
    )
    assert requested["stage"] == "transfer_pending"
    assert requested["responsibility"]["status"] == "accepted_implicitly"
    # The explicit acceptance of 10 June, recorded now, takes its place in the legal record:
    # the implied one is no longer given, and the transfer runs from 10 June.
    accepted = await act(
        api, CW, case_id, "record_responsibility_reply", on="2026-06-10", accepted=True
    )
    assert accepted["stage"] == "transfer_pending"
    assert clock(accepted, "responsibility_reply")["status"] == "met"
    transfer = clock(accepted, "transfer")
    assert (transfer["due"], transfer["rule"]) == ("2026-12-10", "eu-2013/dub3-29")
    assert accepted["responsibility"]["status"] == "accepted"
    # Imprisonment: one step of Art 29(2), to a year from the acceptance.
    extended = await act(
        api, CW, case_id, "extend_deadline", on=ago(0), clock="transfer", reason="imprisoned"
    )
    assert clock(extended, "transfer")["due"] == "2027-06-10"

    done = await act(api, CW, case_id, "record_transfer", on=ago(0))
    assert done["stage"] == "closed"
    assert clock(done, "transfer")["status"] == "met"
    assert done["responsibility"] == {
        "kind": "take_charge",
        "to_state": "DE",
        "requested_on": "2026-05-04",
        "status": "transferred",
        "accepted_on": "2026-06-10",
        "transferred_on": ago(0),
    }
    history = await fetch_history(api, CW, case_id)
    assert [e["event"] for e in history if e["action"] == "record_transfer"] == ["transferred"]


async def test_604_take_back_silence_then_the_transfer_lapses(api: Api) -> None:
    """Silence accepts (Art 25(2)); no transfer within 6 months: the case is examined here."""
    users(api)
    case_id = await eu_case(api, "2026-03-04", "2026-03-05", "2026-03-10")
    await act(
        api,
        CW,
        case_id,
        "request_take_back",
        on="2026-04-01",
        to_state="IT",
        eurodac_hit_on="2026-03-20",
    )
    history = await fetch_history(api, CW, case_id)
    actions = [e["action"] for e in history]
    # Reply due 15 April (2 weeks on Eurodac data): accepted by silence that day; transfer due
    # 15 October 2026, which passed: responsibility shifted to this state on 16 October.
    implicit = next(e for e in history if e["action"] == "responsibility_accepted_implicitly")
    assert (implicit["on"], implicit["derived"]) == ("2026-04-15", True)
    shifted = next(e for e in history if e["action"] == "responsibility_shifted")
    assert (shifted["on"], shifted["event"]) == ("2026-10-16", "responsibility_shifted")
    assert actions.index("responsibility_accepted_implicitly") < actions.index(
        "responsibility_shifted"
    )
    view = await view_of(api, case_id)
    assert view["stage"] == "lodged"
    assert view["responsibility"]["status"] == "shifted"
    assert view["responsibility"]["accepted_on"] == "2026-04-15"
    assert clock(view, "responsibility_request")["rule"] == "eu-2013/dub3-23-2-hit"
    assert clock(view, "responsibility_reply")["status"] == "met"
    transfer = clock(view, "transfer")
    assert (transfer["due"], transfer["status"]) == ("2026-10-15", "missed")
    # The examination goes on here: the case can be decided, and no transfer is possible.
    assert "decide" in view["allowed_actions"]
    assert "record_transfer" not in view["allowed_actions"]


async def test_ammr_take_charge_accepted_and_transferred(api: Api) -> None:
    """Registered after 1 July 2026: 2024/1351 figures, counted from registration."""
    users(api)
    case_id = await eu_case(api, ago(61), ago(60), ago(55))
    requested = await act(api, CW, case_id, "request_take_charge", on=ago(10), to_state="AT")
    request = clock(requested, "responsibility_request")
    assert request["rule"] == "eu-2024/ammr-39-1"
    assert (request["trigger"], request["period"], request["status"]) == (
        "registered",
        "2 months",
        "met",
    )
    # The reply period (1 month) still runs: nothing to transfer yet.
    reply = clock(requested, "responsibility_reply")
    assert (reply["rule"], reply["status"]) == ("eu-2024/ammr-40-1", "running")
    assert requested["stage"] == "responsibility_requested"
    refused_first = await api.http.post(
        f"/cases/{case_id}/actions/record_transfer", json={"on": ago(0)}, headers=api.auth(CW)
    )
    assert refused_first.status_code == 409
    accepted = await act(api, CW, case_id, "record_responsibility_reply", on=ago(5), accepted=True)
    transfer = clock(accepted, "transfer")
    assert (transfer["rule"], transfer["period"], transfer["status"]) == (
        "eu-2024/ammr-46-1",
        "6 months",
        "running",
    )
    assert transfer["trigger_date"] == ago(5)
    done = await act(api, CW, case_id, "record_transfer", on=ago(0))
    assert (done["stage"], done["responsibility"]["status"]) == ("closed", "transferred")

    # /stats counts the outgoing request and the transfer (on the days of the acts).
    async def counted() -> bool:
        response = await api.http.get("/stats?jurisdiction=eu", headers=api.auth("sup"))
        assert response.status_code == 200, response.text
        return bool(
            response.json()["responsibility"]
            == {"take_charge_requests": 1, "take_back_requests": 0, "transfers": 1}
        )

    await api.wait_for(counted, "the transfer in /stats")
    csv = await api.http.get("/stats?jurisdiction=eu&format=csv", headers=api.auth("sup"))
    assert "responsibility,transfers,1" in csv.text


async def test_ammr_take_back_confirmed_by_silence(api: Api) -> None:
    """Art 41(4): no answer within 2 weeks confirms the notification; the transfer runs."""
    users(api)
    case_id = await eu_case(api, ago(61), ago(60), ago(55))
    await act(
        api,
        CW,
        case_id,
        "request_take_back",
        on=ago(44),
        to_state="BE",
        eurodac_hit_on=ago(45),
    )
    view = await view_of(api, case_id)
    assert view["stage"] == "transfer_pending"
    assert clock(view, "responsibility_request")["rule"] == "eu-2024/ammr-41-1"
    reply = clock(view, "responsibility_reply")
    assert (reply["rule"], reply["period"], reply["status"]) == (
        "eu-2024/ammr-41-3",
        "2 weeks",
        "met",
    )
    assert view["responsibility"]["status"] == "accepted_implicitly"
    transfer = clock(view, "transfer")
    assert transfer["status"] == "running"
    assert transfer["trigger_date"] == reply["due"]
    assert "record_transfer" in view["allowed_actions"]


async def test_a_refusal_keeps_the_case_and_rs_has_no_responsibility_procedure(api: Api) -> None:
    """A refused request brings the case back to its stage; national packs without EU law 409."""
    users(api)
    case_id = await eu_case(api, ago(61), ago(60), ago(55))
    await act(api, CW, case_id, "request_take_charge", on=ago(50), to_state="NL")
    refused = await act(api, CW, case_id, "record_responsibility_reply", on=ago(45), accepted=False)
    assert refused["stage"] == "lodged"
    assert refused["responsibility"]["status"] == "refused"
    assert "transfer" not in {d["clock"] for d in refused["deadlines"]}

    rs_case: str = (await create(api, CW, identified_on=ago(30)))["id"]
    for step in ("make_application", "register", "lodge"):
        await act(api, CW, rs_case, step, on=ago(20))
    response = await api.http.post(
        f"/cases/{rs_case}/actions/request_take_charge",
        json={"on": ago(0), "to_state": "DE"},
        headers=api.auth(CW),
    )
    assert response.status_code == 409, response.text
    assert "no responsibility" in response.text
