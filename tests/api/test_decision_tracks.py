"""Tracks around a decision (issue #20) over HTTP, against a real worker on the dev server.

A further appeal to a court where the pack's law provides one (`rs`: an administrative dispute,
30 days; `pl`: a complaint to the Voivodeship Administrative Court, 30 days; none under EU law),
the decision final only when its window passes or the court decides; an assisted voluntary return
refused (or its consent withdrawn) as a path of its own; an assisted return closed only after its
reintegration follow-up.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from db.users import Role
from tests.api.helpers import SUP, Api, act, ago, caught_up, create, fetch_history
from tests.ui.helpers import Dom, signin

CW = "cw"


def users(api: Api) -> None:
    """A caseworker and a legal aid lawyer (who may not take the new actions)."""
    api.user(CW, Role.CASEWORKER)
    api.user("la", Role.LEGAL_AID, org="org-a")


async def post(api: Api, case_id: str, action: str, **body: Any) -> Any:
    """An action as the caseworker: the raw response (for the refusals)."""
    return await api.http.post(
        f"/cases/{case_id}/actions/{action}", json=body, headers=api.auth(CW)
    )


async def appealed(api: Api, jurisdiction: str = "rs", **overrides: Any) -> str:
    """A case rejected and appealed in time, as the caseworker: its id."""
    case_id: str = (await create(api, CW, jurisdiction=jurisdiction, **overrides))["id"]
    for action, body in (
        ("make_application", {"on": ago(320)}),
        ("register", {"on": ago(319)}),
        ("lodge", {"on": ago(318)}),
        ("decide", {"on": ago(230), "outcome": "rejected"}),
        ("notify_decision", {"on": ago(229)}),
        ("lodge_appeal", {"on": ago(225)}),
    ):
        await act(api, CW, case_id, action, **body)
    return case_id


def clock(view: dict[str, Any], name: str) -> dict[str, Any]:
    """The one deadline of the view with that clock name."""
    found: list[dict[str, Any]] = [d for d in view["deadlines"] if d["clock"] == name]
    assert len(found) == 1, found
    return found[0]


async def test_further_appeal_remanded_then_dismissed_ends_in_return(api: Api) -> None:
    users(api)
    case_id = await appealed(api)
    view = await act(api, CW, case_id, "decide_appeal", on=ago(20), result="dismissed")
    # Not final: the Administrative Court's 30 days run from the appeal decision.
    assert (view["stage"], view["final"]) == ("appeal_decided", False)
    window = clock(view, "further_appeal")
    assert (window["status"], window["rule"], window["period"]) == (
        "running",
        "rs-2023/lads-18",
        "30 days",
    )
    assert window["actor"] == "applicant" and window["unverified"] is True
    assert "lodge_further_appeal" in view["allowed_actions"]
    assert view["waiting_for"]["clock"] == "further_appeal"
    # The case page: the new stage, the clock with its provenance, the further appeal's form.
    session = await signin(api.http, api.tokens[CW])
    page = await api.http.get(f"/ui/cases/{case_id}", headers=session)
    assert page.status_code == 200, page.text[:300]
    dom = Dom(page.text)
    assert "appeal decided" in dom.body
    row = next(tr for tr in dom.all("tr") if tr.text.startswith("further appeal"))
    assert "rs-2023/lads-18" in row.text and "running" in row.text, row.text
    form = dom.all("form")
    assert any(f.attrs.get("action", "").endswith("/actions/lodge_further_appeal") for f in form)
    # The window is still open: the decision is not made final by hand.
    refused = await post(api, case_id, "make_final", on=ago(19))
    assert refused.status_code == 409, refused.text
    assert "further appeal window" in refused.json()["detail"]
    # Legal aid may not lodge it for the applicant (staff actions, as lodge_appeal).
    forbidden = await api.http.post(
        f"/cases/{case_id}/actions/lodge_further_appeal",
        json={"on": ago(15)},
        headers=api.auth("la"),
    )
    assert forbidden.status_code in (403, 404), forbidden.text

    view = await act(api, CW, case_id, "lodge_further_appeal", on=ago(15))
    assert view["stage"] == "further_appeal_lodged"
    assert clock(view, "further_appeal")["status"] == "met"
    assert "decide_further_appeal" in view["allowed_actions"]
    # A dismissal with an outcome is a field error, as for decide_appeal.
    bad = await post(
        api, case_id, "decide_further_appeal", on=ago(10), result="dismissed", outcome="rejected"
    )
    assert bad.status_code == 422, bad.text

    # The court annuls the Asylum Commission's decision: the appeal is decided again.
    view = await act(
        api, CW, case_id, "decide_further_appeal", on=ago(10), result="quashed_remanded"
    )
    assert (view["stage"], view["final"], view["outcome"]) == ("appeal_lodged", False, "rejected")
    view = await act(api, CW, case_id, "decide_appeal", on=ago(8), result="dismissed")
    assert view["stage"] == "appeal_decided"
    assert clock(view, "further_appeal")["trigger_date"] == ago(8)
    await act(api, CW, case_id, "lodge_further_appeal", on=ago(6))
    view = await act(api, CW, case_id, "decide_further_appeal", on=ago(2), result="dismissed")
    assert (view["stage"], view["final"], view["outcome"]) == ("return", True, "rejected")
    assert "start_return" in view["allowed_actions"]

    history = await fetch_history(api, CW, case_id)
    acts = [(e["action"], e["event"]) for e in history if not e["derived"]]
    assert ("lodge_further_appeal", "further_appeal_lodged") in acts
    assert ("decide_further_appeal", "further_appeal_decided") in acts


async def test_no_suit_within_the_window_makes_the_decision_final(api: Api) -> None:
    users(api)
    case_id = await appealed(api)
    # Dismissed 45 days ago: the 30 days ended (rolled at most to a Monday) well before today.
    view = await act(api, CW, case_id, "decide_appeal", on=ago(45), result="dismissed")
    assert (view["stage"], view["final"]) == ("return", True)
    assert clock(view, "further_appeal")["status"] == "expired"
    history = await fetch_history(api, CW, case_id)
    # (The appeal window's finality, settled before the appeal was recorded, is retracted.)
    (final,) = [e for e in history if e["action"] == "decision_final" and not e["retracted"]]
    assert final["derived"] and final["note"] == "no further appeal within its window"
    late = await post(api, case_id, "lodge_further_appeal", on=ago(1))
    assert late.status_code == 409, late.text
    assert late.json()["stage"] == "return"


async def test_the_court_grants_protection_and_other_packs(api: Api) -> None:
    users(api)
    # pl: a complaint to the Voivodeship Administrative Court, 30 days (PPSA Art 53 §1).
    pl = await appealed(api, "pl")
    view = await act(api, CW, pl, "decide_appeal", on=ago(5), result="dismissed")
    assert view["stage"] == "appeal_decided"
    assert clock(view, "further_appeal")["rule"] == "pl-2015/ppsa-53"
    await act(api, CW, pl, "lodge_further_appeal", on=ago(3))
    view = await act(
        api,
        CW,
        pl,
        "decide_further_appeal",
        on=ago(1),
        result="substituted",
        outcome="subsidiary_protection",
    )
    assert (view["stage"], view["final"], view["outcome"]) == (
        "integration",
        True,
        "subsidiary_protection",
    )
    # eu: no further level in EU law; a dismissed appeal is final at once, as before.
    eu = await appealed(api, "eu")
    view = await act(api, CW, eu, "decide_appeal", on=ago(5), result="dismissed")
    assert (view["stage"], view["final"]) == ("return", True)
    assert all(d["clock"] != "further_appeal" for d in view["deadlines"])


async def in_return(api: Api) -> str:
    """A rejected case whose appeal window passed long ago: in `return`, counselling open."""
    case_id: str = (await create(api, CW))["id"]
    for action, body in (
        ("make_application", {"on": ago(320)}),
        ("register", {"on": ago(319)}),
        ("lodge", {"on": ago(318)}),
        ("decide", {"on": ago(230), "outcome": "rejected"}),
        ("notify_decision", {"on": ago(229)}),
    ):
        await act(api, CW, case_id, action, **body)
    view = await act(api, CW, case_id, "start_return", on=ago(60))
    assert view["stage"] == "return"
    return case_id


async def test_avrr_refused_is_a_return_without_assistance(api: Api) -> None:
    users(api)
    case_id = await in_return(api)
    view = await act(api, CW, case_id, "refuse_return_consent", on=ago(55), withdrawn=False)
    assert view["stage"] == "return"
    assert "record_risk_assessment" in view["allowed_actions"]
    assert "refuse_return_consent" not in view["allowed_actions"]
    await act(api, CW, case_id, "record_risk_assessment", on=ago(50), at_risk=False)
    view = await act(api, CW, case_id, "record_departure", on=ago(40))
    # No reintegration support after a return without assistance; the case closes.
    assert "record_reintegration" not in view["allowed_actions"]
    refused = await post(api, case_id, "record_reintegration", on=ago(30))
    assert refused.status_code == 409, refused.text
    assert "assisted return only" in refused.json()["detail"]
    view = await act(api, CW, case_id, "close", on=ago(30))
    assert view["stage"] == "closed"
    history = await fetch_history(api, CW, case_id)
    (refusal,) = [e for e in history if e["action"] == "refuse_return_consent"]
    assert refusal["data"] == {"withdrawn": False} and refusal["event"] is None


async def test_withdrawn_consent_given_again_and_close_waits_for_reintegration(api: Api) -> None:
    users(api)
    case_id = await in_return(api)
    await act(api, CW, case_id, "record_return_consent", on=ago(58))
    view = await act(api, CW, case_id, "refuse_return_consent", on=ago(55), withdrawn=True)
    assert "record_return_consent" in view["allowed_actions"]
    # Consent given again: back on the assisted path.
    await act(api, CW, case_id, "record_return_consent", on=ago(52))
    await act(api, CW, case_id, "record_risk_assessment", on=ago(50), at_risk=False)
    view = await act(api, CW, case_id, "record_departure", on=ago(40))
    assert "close" not in view["allowed_actions"]
    early = await post(api, case_id, "close", on=ago(39))
    assert early.status_code == 409, early.text
    assert "reintegration" in early.json()["detail"]
    await act(api, CW, case_id, "record_reintegration", on=ago(10))
    view = await act(api, CW, case_id, "close", on=ago(9))
    assert view["stage"] == "closed"


async def test_voluntary_departure_period_fixed_by_the_return_decision(api: Api) -> None:
    users(api)
    # eu: no appeal window in EU law, so the decision is made final by hand.
    case_id: str = (await create(api, CW, jurisdiction="eu"))["id"]
    for action, body in (
        ("make_application", {"on": ago(320)}),
        ("register", {"on": ago(319)}),
        ("lodge", {"on": ago(318)}),
        ("decide", {"on": ago(230), "outcome": "rejected"}),
        ("notify_decision", {"on": ago(229)}),
        ("make_final", {"on": ago(200)}),
    ):
        await act(api, CW, case_id, action, **body)
    # Return Directive Art 7(1): between seven and thirty days, a field error outside them.
    for days in (6, 31):
        bad = await post(api, case_id, "record_return_decision", on=ago(10), departure_days=days)
        assert bad.status_code == 422, bad.text
        assert bad.json()["field"] == "departure_days"
    view = await act(api, CW, case_id, "record_return_decision", on=ago(10), departure_days=30)
    period = clock(view, "voluntary_departure")
    assert (period["status"], period["period"], period["actor"]) == (
        "running",
        "30 days",
        "applicant",
    )
    assert period["rule"].endswith("/rd-7-1") and period["trigger_date"] == ago(10)
    assert "record_return_decision" not in view["allowed_actions"]
    await act(api, CW, case_id, "start_return", on=ago(9))
    await act(api, CW, case_id, "record_return_consent", on=ago(8))
    await act(api, CW, case_id, "record_risk_assessment", on=ago(7), at_risk=False)
    view = await act(api, CW, case_id, "record_departure", on=ago(5))
    assert clock(view, "voluntary_departure")["status"] == "met"
    history = await fetch_history(api, CW, case_id)
    events = {e["action"]: e["event"] for e in history}
    assert events["record_return_decision"] == "return_decided"
    assert events["record_departure"] == "departed"


async def test_toleration_in_poland_and_none_in_serbia(api: Api) -> None:
    users(api)
    # pl: rejected, the 14-day appeal window passed long ago: return.
    pl: str = (await create(api, CW, jurisdiction="pl"))["id"]
    for action, body in (
        ("make_application", {"on": ago(320)}),
        ("register", {"on": ago(319)}),
        ("lodge", {"on": ago(318)}),
        ("decide", {"on": ago(230), "outcome": "rejected"}),
        ("notify_decision", {"on": ago(229)}),
    ):
        await act(api, CW, pl, action, **body)
    view = await act(api, CW, pl, "grant_toleration", on=ago(20))
    assert (view["stage"], view["stage_since"]) == ("tolerated", ago(20))
    assert "withdraw_toleration" in view["allowed_actions"]
    assert "close" not in view["allowed_actions"]
    view = await act(api, CW, pl, "withdraw_toleration", on=ago(2))
    assert view["stage"] == "return"
    # rs: no such status in the law; the refusal names it.
    rs = await in_return(api)
    refused = await post(api, rs, "grant_toleration", on=ago(1))
    assert refused.status_code == 409, refused.text
    assert "no status for persons who cannot be returned" in refused.json()["detail"]


async def test_family_reunification_with_an_outcome_and_its_clock(api: Api) -> None:
    users(api)
    case_id: str = (await create(api, CW, jurisdiction="eu"))["id"]
    for action, body in (
        ("make_application", {"on": ago(320)}),
        ("register", {"on": ago(319)}),
        ("lodge", {"on": ago(318)}),
        ("decide", {"on": ago(230), "outcome": "refugee_status"}),
        ("notify_decision", {"on": ago(229)}),
        ("make_final", {"on": ago(200)}),
        ("issue_permit", {"on": ago(150)}),
    ):
        await act(api, CW, case_id, action, **body)
    early = await post(api, case_id, "decide_family_reunification", on=ago(99), outcome="granted")
    assert early.status_code == 409, early.text
    view = await act(api, CW, case_id, "request_family_reunification", on=ago(100))
    # Directive 2003/86/EC Art 5(4): the decision within nine months, the authority's clock.
    period = clock(view, "family_reunification")
    assert (period["status"], period["period"], period["actor"]) == (
        "running",
        "9 months",
        "authority",
    )
    assert period["rule"].endswith("/frd-5-4")
    assert "close" not in view["allowed_actions"]
    bad = await post(api, case_id, "decide_family_reunification", on=ago(10), outcome="maybe")
    assert bad.status_code == 422, bad.text
    view = await act(api, CW, case_id, "decide_family_reunification", on=ago(10), outcome="granted")
    assert clock(view, "family_reunification")["status"] == "met"
    assert "close" in view["allowed_actions"]
    history = await fetch_history(api, CW, case_id)
    (decided,) = [e for e in history if e["action"] == "decide_family_reunification"]
    assert (decided["event"], decided["data"]) == (
        "family_reunification_decided",
        {"outcome": "granted"},
    )


async def test_resettlement_refused_then_accepted_departed_and_counted(api: Api) -> None:
    users(api)
    api.user(SUP, Role.SUPERVISOR)
    case_id: str = (await create(api, CW, identified_on=ago(100), identified_at="inland"))["id"]
    view = await act(api, CW, case_id, "identify_for_resettlement", on=ago(90))
    assert view["stage"] == "resettlement"
    assert "submit_for_resettlement" in view["allowed_actions"]
    assert "record_resettlement_departure" not in view["allowed_actions"]
    bad = await post(api, case_id, "submit_for_resettlement", on=ago(80), to_state="Sweden")
    assert bad.status_code == 422 and bad.json()["field"] == "to_state", bad.text
    await act(api, CW, case_id, "submit_for_resettlement", on=ago(80), to_state="SE")
    waiting = await post(api, case_id, "close", on=ago(70))
    assert waiting.status_code == 409 and "awaits its answer" in waiting.json()["detail"]
    view = await act(api, CW, case_id, "decide_resettlement", on=ago(60), accepted=False)
    assert "submit_for_resettlement" in view["allowed_actions"]
    await act(api, CW, case_id, "submit_for_resettlement", on=ago(50), to_state="NO")
    view = await act(api, CW, case_id, "decide_resettlement", on=ago(30), accepted=True)
    assert "close" not in view["allowed_actions"]
    assert "submit_for_resettlement" not in view["allowed_actions"]
    await act(api, CW, case_id, "record_resettlement_departure", on=ago(10))
    view = await act(api, CW, case_id, "close", on=ago(9))
    assert view["stage"] == "closed"

    # Eurostat counts the resettled person on the departure, by citizenship, sex and age.
    await caught_up(api, [case_id])
    departed = date.fromisoformat(ago(10))
    first = departed.month - (departed.month - 1) % 3  # the quarter's first and last months
    window = f"from={departed.year}-{first:02d}&to={departed.year}-{first + 2:02d}"
    response = await api.http.get(f"/stats/eurostat/resettled?{window}", headers=api.auth(SUP))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dimensions"] == ["time", "citizen", "sex", "age"]
    quarter = f"{departed.year}-Q{(departed.month - 1) // 3 + 1}"
    assert [(c["time"], c["citizen"], c["sex"], c["value"]) for c in body["cells"]] == [
        (quarter, "IQ", "F", 1)
    ]
