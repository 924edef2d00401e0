"""Protection at entry and during the procedure (issue #19), over HTTP against a real worker.

Profiling and referral (a referral never changes the stage, except declining to apply),
information and interpreters (an interview with no interpreter available waits for one, and is
stuck for that reason), the missed interview's side, children (age assessment, representative
clock, the pack's exempt procedures, best interests), and special-category detail kept out of
every workflow history and sealed in SQL.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from sqlmodel import Session, col, select

from api.protection import PendingDetail, after_protection_acts, detail_purpose
from core.codec import new_key
from core.sealed import PREFIX, unseal
from core.settings import Settings
from db.tables import PersonRecord, ProtectionDetailRecord
from db.users import Role
from models.enums import Action
from tests.api.helpers import NAMES, Api, act, ago, create
from tests.ui.helpers import Dom, assert_accessible, signin

SECRETS = (
    "scars-on-both-forearms",
    "wrist-x-ray-greulich-pyle",
    "sister-in-Vienna-wants-him",
    "trafficked-through-Bihac",
    "hepatitis-b-positive",
)
"""Special-category detail typed into the acts: never in a workflow history."""


def users(api: Api) -> None:
    """A border officer, a caseworker and a supervisor."""
    api.user("officer", Role.BORDER_OFFICER)
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)


async def post(api: Api, who: str, case_id: str, action: str, **body: Any) -> Any:
    """An action's raw response."""
    return await api.http.post(
        f"/cases/{case_id}/actions/{action}", json=body, headers=api.auth(who)
    )


async def interpreter(api: Api, ident: str, languages: list[str], available: bool = True) -> None:
    """Add an interpreter to the pool (as the supervisor)."""
    response = await api.http.post(
        "/interpreters",
        json={
            "id": ident,
            "name": f"Interpreter {ident}",
            "languages": languages,
            "available": available,
        },
        headers=api.auth("sup"),
    )
    assert response.status_code == 201, response.text


async def raw_history(api: Api, case_id: str) -> bytes:
    """The workflow's whole history, as the Temporal server stores it."""
    handle = api.env.client.get_workflow_handle(f"case-{case_id}")
    return b"".join(e.SerializeToString() for e in (await handle.fetch_history()).events)


async def stuck_codes(api: Api, case_id: str) -> list[str]:
    """The reason codes the supervisor's stuck list gives the case."""
    response = await api.http.get("/supervision/stuck?limit=500", headers=api.auth("sup"))
    assert response.status_code == 200, response.text
    return [i["reason_code"] for i in response.json()["items"] if i["id"] == case_id]


async def test_a_child_at_the_border_referred_assessed_represented_housed_interviewed_decided(
    api: Api,
) -> None:
    users(api)
    await interpreter(api, "int-fa-1", ["fa", "prs"])
    case = await create(
        api, "officer", jurisdiction="eu", identified_on=ago(30), identified_at="border"
    )
    cid = case["id"]
    # Profiling at the border: the needs found, the detail sealed in SQL.
    screened = await act(
        api,
        "officer",
        cid,
        "complete_screening",
        on=ago(30),
        needs=["unaccompanied_child"],
        detail=SECRETS[0],
    )
    assert screened["stage"] == "screening"
    assert "unaccompanied_child" in screened["flags"]
    # Referred to child protection: the stage stays.
    referred = await act(
        api, "officer", cid, "refer", on=ago(30), to="child_protection", detail=SECRETS[3]
    )
    assert referred["stage"] == "screening"
    (referral,) = referred["protection"]["referrals"]
    assert (referral["to"], referral["on"], referral["acknowledged_on"]) == (
        "child_protection",
        ago(30),
        None,
    )
    informed = await act(
        api, "officer", cid, "record_information_given", on=ago(30), language="fa", form="oral"
    )
    assert informed["protection"]["information_given"] == [
        {"on": ago(30), "language": "fa", "form": "oral"}
    ]
    await act(api, "officer", cid, "make_application", on=ago(29))
    # The service answers: acknowledgement, then the outcome.
    await act(
        api,
        "cw",
        cid,
        "record_referral_outcome",
        on=ago(28),
        referral=referral["id"],
        acknowledged=True,
    )
    answered = await act(
        api,
        "cw",
        cid,
        "record_referral_outcome",
        on=ago(27),
        referral=referral["id"],
        outcome="accepted",
        detail=SECRETS[2],
    )
    (referral,) = answered["protection"]["referrals"]
    assert (referral["acknowledged_on"], referral["outcome"], referral["outcome_on"]) == (
        ago(28),
        "accepted",
        ago(27),
    )
    # Age assessed as a minor: still an unaccompanied child.
    assessed = await act(
        api, "cw", cid, "record_age_assessment", on=ago(27), outcome="minor", detail=SECRETS[1]
    )
    assert assessed["protection"]["age_assessment"] == "minor"
    assert "unaccompanied_child" in assessed["flags"]
    clock = next(d for d in assessed["deadlines"] if d["clock"] == "uasc_representative")
    # 15 working days from the making (APR Art 23(2)(b)): past by now, but not yet met.
    assert clock["status"] == "expired" and clock["rule"] == "eu-2024/apr-23-2-b"
    represented = await act(api, "cw", cid, "appoint_representative", on=ago(27))
    clock = next(d for d in represented["deadlines"] if d["clock"] == "uasc_representative")
    assert clock["status"] == "met"
    await act(api, "cw", cid, "record_best_interests", on=ago(26), detail=SECRETS[2])
    await act(api, "cw", cid, "register", on=ago(28))
    await act(api, "cw", cid, "lodge", on=ago(25))
    # The pack exempts an unaccompanied child from the border procedure.
    border = await post(api, "cw", cid, "assign_procedure", on=ago(25), procedure="border")
    assert border.status_code == 409, border.text
    assert "child_exempt_procedures" in border.json()["detail"]
    # Accommodated in a reception centre for children (issue #19's reception track).
    centre = await api.http.post(
        "/reception/centres",
        json={
            "id": "eu-children",
            "name": "Children's centre",
            "jurisdiction": "eu",
            "capacity": 4,
        },
        headers=api.auth("sup"),
    )
    assert centre.status_code == 201, centre.text
    placed = await act(api, "cw", cid, "assign_accommodation", on=ago(25), centre="eu-children")
    assert placed["accommodation"] == {"centre": "eu-children", "since": ago(25)}
    assert "accommodated" in placed["flags"] and "over_capacity" not in placed["flags"]
    centres = await api.http.get("/reception/centres", headers=api.auth("cw"))
    (children,) = [c for c in centres.json()["items"] if c["id"] == "eu-children"]
    assert (children["occupancy"], children["over_capacity"]) == (1, False)
    # Interviewed in Dari/Farsi with the pool's interpreter (picked by the API).
    scheduled = await act(
        api, "cw", cid, "schedule_interview", on=ago(20), interview_on=ago(10), language="fa"
    )
    assert scheduled["protection"]["interview"] == {
        "on": ago(10),
        "language": "fa",
        "interpreter": "int-fa-1",
    }
    assert scheduled["waiting_for"]["what"] != "interpreter"
    await act(api, "cw", cid, "record_interview", on=ago(10), attended=True)
    decided = await act(api, "cw", cid, "decide", on=ago(5), outcome="refugee_status")
    assert decided["stage"] == "decided"
    assert decided["protection"]["best_interests_on"] == ago(26)

    # The person's record follows the needs found; the detail is in SQL, not in the history.
    with Session(api.engine) as session:
        assert session.get(PersonRecord, cid).vulnerabilities == ["unaccompanied_child"]  # type: ignore[union-attr]
        kept = session.exec(
            select(ProtectionDetailRecord)
            .where(ProtectionDetailRecord.case_id == cid)
            .order_by(col(ProtectionDetailRecord.id))
        ).all()
    assert [(r.action, r.detail) for r in kept] == [
        ("complete_screening", SECRETS[0]),
        ("refer", SECRETS[3]),
        ("record_referral_outcome", SECRETS[2]),
        ("record_age_assessment", SECRETS[1]),
        ("record_best_interests", SECRETS[2]),
    ]
    assert kept[1].referral == referral["id"] == kept[1].seq
    assert kept[2].referral == referral["id"]
    # The case page shows the referral and its answer, never the detail.
    page = Dom(
        (
            await api.http.get(f"/ui/cases/{cid}", headers=await signin(api.http, api.tokens["cw"]))
        ).text
    )
    assert_accessible(page)
    referrals = page.by_id("referrals-caption")
    assert referrals is not None
    assert "child protection" in page.body and "accepted" in page.body
    assert not any(secret in page.body for secret in SECRETS)
    raw = await raw_history(api, cid)
    for secret in (*SECRETS, *NAMES):
        assert secret.encode() not in raw, secret
    history = await api.http.get(f"/cases/{cid}/history", headers=api.auth("cw"))
    for secret in SECRETS:
        assert secret not in history.text


async def test_an_interview_with_no_interpreter_waits_and_is_stuck_until_one_is_assigned(
    api: Api,
) -> None:
    users(api)
    await interpreter(api, "int-ps-busy", ["ps"], available=False)
    await interpreter(api, "int-ar-1", ["ar"])
    cid = (await create(api, "cw", identified_on=ago(40)))["id"]
    for action, on in (("make_application", 40), ("register", 39), ("lodge", 38)):
        await act(api, "cw", cid, action, on=ago(on))
    scheduled = await act(
        api, "cw", cid, "schedule_interview", on=ago(1), interview_on=ago(-14), language="ps"
    )
    assert scheduled["waiting_for"] == {
        "what": "interpreter",
        "language": "ps",
        "clock": None,
        "until": ago(-14),
    }
    assert "waiting_for_interpreter" in scheduled["flags"]
    assert await stuck_codes(api, cid) == ["waiting_for_interpreter"]
    # The case page says so, and the supervisor's stuck page lists it.
    page = Dom(
        (
            await api.http.get(f"/ui/cases/{cid}", headers=await signin(api.http, api.tokens["cw"]))
        ).text
    )
    assert_accessible(page)
    assert "no interpreter of the pool is available" in page.body
    assert "no interpreter assigned" in page.body
    # Not any interpreter: one of the pool, for the interview's language.
    unknown = await post(api, "cw", cid, "assign_interpreter", on=ago(0), interpreter="nobody")
    assert (unknown.status_code, unknown.json()["field"]) == (422, "interpreter")
    wrong = await post(api, "cw", cid, "assign_interpreter", on=ago(0), interpreter="int-ar-1")
    assert (wrong.status_code, wrong.json()["field"]) == (422, "interpreter")
    # The pool: by language and availability.
    pool = await api.http.get("/interpreters?language=ps", headers=api.auth("sup"))
    assert [(i["id"], i["available"]) for i in pool.json()["items"]] == [("int-ps-busy", False)]
    assert (await api.http.get("/interpreters", headers=api.auth("cw"))).status_code == 403
    freed = await api.http.post(
        "/interpreters/int-ps-busy/availability",
        json={"available": True},
        headers=api.auth("sup"),
    )
    assert freed.json()["available"] is True
    assigned = await act(api, "cw", cid, "assign_interpreter", on=ago(0), interpreter="int-ps-busy")
    assert assigned["waiting_for"]["what"] != "interpreter"
    assert "waiting_for_interpreter" not in assigned["flags"]
    assert assigned["protection"]["interview"]["interpreter"] == "int-ps-busy"
    assert await stuck_codes(api, cid) == []


async def test_only_the_applicants_side_of_a_missed_interview_counts(api: Api) -> None:
    users(api)

    async def scheduled_case() -> tuple[str, dict[str, Any]]:
        cid = (await create(api, "cw", identified_on=ago(60)))["id"]
        for action, on in (("make_application", 60), ("register", 59), ("lodge", 58)):
            await act(api, "cw", cid, action, on=ago(on))
        view = await act(api, "cw", cid, "schedule_interview", on=ago(30), interview_on=ago(20))
        return cid, view

    def clocks(view: dict[str, Any]) -> dict[str, tuple[str, int]]:
        return {d["clock"]: (d["due"], d["pause_days"]) for d in view["deadlines"]}

    by_authority, before = await scheduled_case()
    missed = await act(
        api,
        "cw",
        by_authority,
        "record_interview",
        on=ago(20),
        attended=False,
        missed_by="authority",
    )
    assert missed["stage"] == "lodged"
    assert "missed_interview" not in missed["flags"]
    assert clocks(missed) == clocks(before)  # nothing paused, nothing moved
    history = await api.http.get(f"/cases/{by_authority}/history", headers=api.auth("cw"))
    entry = next(i for i in history.json()["items"] if i["action"] == "record_interview")
    assert entry["data"] == {"attended": False, "missed_by": "authority"}

    by_applicant, before = await scheduled_case()
    missed = await act(
        api,
        "cw",
        by_applicant,
        "record_interview",
        on=ago(20),
        attended=False,
        missed_by="applicant",
    )
    assert missed["stage"] == "lodged"
    assert "missed_interview" in missed["flags"]
    # Without `missed_by`, as before: the applicant's.
    default, _ = await scheduled_case()
    missed = await act(api, "cw", default, "record_interview", on=ago(20), attended=False)
    assert "missed_interview" in missed["flags"]
    both = await post(
        api, "cw", default, "record_interview", on=ago(20), attended=True, missed_by="applicant"
    )
    assert both.status_code in (409, 422)


async def test_referrals_keep_the_stage_except_declining_to_apply(api: Api) -> None:
    users(api)
    # api.md's body `{to: none}` still works: not seeking protection, referred.
    plain = (await create(api, "officer", identified_on=ago(5)))["id"]
    assert (await act(api, "officer", plain, "refer", on=ago(5), to="none"))["stage"] == "referred"
    declined = (await create(api, "officer", identified_on=ago(5)))["id"]
    view = await act(
        api, "officer", declined, "refer", on=ago(5), to="none", declines_to_apply=True
    )
    assert (view["stage"], view["protection"]["referrals"]) == ("referred", [])
    # A referral to a service, before or during the procedure, leaves the stage.
    cid = (await create(api, "cw", identified_on=ago(20)))["id"]
    asylum = await act(api, "cw", cid, "refer", on=ago(20), to="asylum")
    assert asylum["stage"] == "identified"
    for action, on in (("make_application", 19), ("register", 18), ("lodge", 17)):
        await act(api, "cw", cid, action, on=ago(on))
    for service in ("medical_care", "trafficking_support", "return_counselling", "other"):
        view = await act(api, "cw", cid, "refer", on=ago(10), to=service, detail=SECRETS[4])
        assert view["stage"] == "lodged"
    assert [r["to"] for r in view["protection"]["referrals"]] == [
        "asylum",
        "medical_care",
        "trafficking_support",
        "return_counselling",
        "other",
    ]
    # After the application, declining to apply is a withdrawal, not a referral.
    late = await post(api, "cw", cid, "refer", on=ago(9), to="none")
    assert late.status_code == 409, late.text
    odd = await post(api, "cw", cid, "refer", on=ago(9), to="medical_care", declines_to_apply=True)
    assert odd.status_code == 422
    unknown = await post(
        api, "cw", cid, "record_referral_outcome", on=ago(9), referral=999, acknowledged=True
    )
    assert (unknown.status_code, unknown.json()["field"]) == (422, "referral")
    # Referrals in /stats, by service (`none` is no service).
    stats = (await api.http.get(f"/stats?from={ago(30)}", headers=api.auth("sup"))).json()
    assert stats["referrals"] == {
        "asylum": 1,
        "medical_care": 1,
        "other": 1,
        "return_counselling": 1,
        "trafficking_support": 1,
    }
    assert SECRETS[4].encode() not in await raw_history(api, cid)


async def test_age_assessed_adult_loses_the_child_flag_and_clock(api: Api) -> None:
    users(api)
    cid = (
        await create(
            api,
            "cw",
            jurisdiction="eu",
            identified_on=ago(10),
            vulnerabilities=["unaccompanied_child"],
        )
    )["id"]
    made = await act(api, "cw", cid, "make_application", on=ago(10))
    assert any(d["clock"] == "uasc_representative" for d in made["deadlines"])
    adult = await act(
        api, "cw", cid, "record_age_assessment", on=ago(9), outcome="adult", detail=SECRETS[1]
    )
    assert "unaccompanied_child" not in adult["flags"]
    # Its only kind, given at opening, is gone: no longer flagged vulnerable either.
    assert "vulnerable" not in adult["flags"]
    assert adult["protection"]["vulnerabilities"] == []
    assert not any(d["clock"] == "uasc_representative" for d in adult["deadlines"])
    with Session(api.engine) as session:
        assert session.get(PersonRecord, cid).vulnerabilities == []  # type: ignore[union-attr]
    # An adult may be channelled into the border procedure; a best-interests assessment is
    # for a child only.
    refused = await post(api, "cw", cid, "record_best_interests", on=ago(8))
    assert refused.status_code == 409
    assert SECRETS[1].encode() not in await raw_history(api, cid)


async def test_detail_is_sealed_in_sql_when_a_key_is_set(api: Api) -> None:
    users(api)
    cid = (await create(api, "cw", identified_on=ago(3)))["id"]
    await act(api, "cw", cid, "refer", on=ago(3), to="medical_care")
    keyed = Settings(_env_file=None, ASYLUMFLOW_ENCRYPTION_KEY=SecretStr(new_key()))
    pending = [PendingDetail(Action.REFER, SECRETS[4], None)]
    await after_protection_acts(api.engine, keyed, cid, [], pending, "cw")
    with Session(api.engine) as session:
        row = session.exec(
            select(ProtectionDetailRecord).where(ProtectionDetailRecord.case_id == cid)
        ).one()
    assert row.detail.startswith(PREFIX) and SECRETS[4] not in row.detail
    assert unseal(row.detail, detail_purpose("refer"), keyed) == SECRETS[4]
    # The workflow itself refuses detail (the API takes it out before sending).
    assert row.seq is not None


async def test_sealed_detail_reads_back_to_caseworkers_and_supervisors_only(api: Api) -> None:
    """What the acts' `detail` and the detention ground said comes back opened, to staff only."""
    from tests.api.test_reception_detention import GROUND, eu_2024_applicant

    users(api)
    api.user("lawyer", Role.LEGAL_AID, org="org-a")
    api.user("mon", Role.MONITOR)
    key = SecretStr(new_key())
    api.app.state.settings = api.app.state.settings.model_copy(update={"encryption_key": key})
    cid = await eu_2024_applicant(api)
    await act(api, "cw", cid, "refer", on=ago(20), to="medical_care", detail=SECRETS[4])
    vulnerable = await act(
        api,
        "cw",
        cid,
        "record_vulnerability",
        on=ago(19),
        kind="serious_illness",
        present=True,
        detail=SECRETS[2],
    )
    await act(api, "cw", cid, "order_detention", on=ago(12), ground=GROUND)
    # Sealed in SQL: neither the detail nor the ground is there in the clear.
    with Session(api.engine) as session:
        stored = session.exec(
            select(ProtectionDetailRecord).where(ProtectionDetailRecord.case_id == cid)
        ).all()
    assert [r.action for r in stored] == ["refer", "record_vulnerability"]
    assert all(r.detail.startswith(PREFIX) for r in stored)

    for who in ("cw", "sup"):
        response = await api.http.get(f"/cases/{cid}/protection/details", headers=api.auth(who))
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        refer, vuln = body["items"]
        assert (refer["action"], refer["detail"], refer["recorded_by"]) == (
            "refer",
            SECRETS[4],
            "cw",
        )
        assert (vuln["action"], vuln["detail"]) == ("record_vulnerability", SECRETS[2])
        assert vuln["seq"] == max(
            e["seq"] for e in await history_of(api, cid) if e["action"] == "record_vulnerability"
        )
        assert body["detention_orders"] == [
            {"ordered_on": ago(12), "alternative": False, "ground": GROUND}
        ]
    assert vulnerable["stage"] == "lodged"
    # Nobody else: not a border officer, not legal aid, not a monitor (health and detention
    # detail are for the authority's staff); an unknown case is 404.
    for who in ("officer", "lawyer", "mon"):
        refused = await api.http.get(f"/cases/{cid}/protection/details", headers=api.auth(who))
        assert refused.status_code == 403, (who, refused.text)
        assert SECRETS[4] not in refused.text
    missing = await api.http.get("/cases/no-such-case/protection/details", headers=api.auth("cw"))
    assert missing.status_code == 404
    # Without the key the sealed rows cannot be opened: 503, and no half-answer.
    api.app.state.settings = api.app.state.settings.model_copy(update={"encryption_key": None})
    closed = await api.http.get(f"/cases/{cid}/protection/details", headers=api.auth("cw"))
    assert closed.status_code == 503, closed.text
    assert SECRETS[4] not in closed.text and "Ground-Sentinel-7Q" not in closed.text


async def history_of(api: Api, case_id: str) -> list[dict[str, Any]]:
    """The case's history items, as a supervisor reads them."""
    response = await api.http.get(f"/cases/{case_id}/history", headers=api.auth("sup"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_protection_detail_page_shows_staff_what_was_sealed(api: Api) -> None:
    """The case page links to the detail; the page opens it for staff, and for no one else."""
    from tests.api.test_reception_detention import GROUND, eu_2024_applicant

    users(api)
    api.user("lawyer", Role.LEGAL_AID, org="org-a")
    key = SecretStr(new_key())
    api.app.state.settings = api.app.state.settings.model_copy(update={"encryption_key": key})
    cid = await eu_2024_applicant(api)
    await act(api, "cw", cid, "refer", on=ago(20), to="medical_care", detail=SECRETS[4])
    await act(api, "cw", cid, "order_detention", on=ago(12), ground=GROUND)
    cw = await signin(api.http, api.tokens["cw"])

    case_page = await api.http.get(f"/ui/cases/{cid}", headers=cw)
    assert case_page.status_code == 200
    # The case page itself never shows the detail: only the link to it.
    assert SECRETS[4] not in case_page.text and "Ground-Sentinel-7Q" not in case_page.text
    link = f"/ui/cases/{cid}/protection-detail"
    assert any(a.attrs.get("href") == link for a in Dom(case_page.text).all("a"))

    page = await api.http.get(link, headers=cw)
    assert page.status_code == 200, page.text[:500]
    dom = Dom(page.text)
    assert_accessible(dom)
    rows = [tr.text for tr in dom.all("tr")]
    assert any("refer" in r and SECRETS[4] in r and "cw" in r for r in rows), rows
    assert any(ago(12) in r and GROUND in r for r in rows), rows

    # A border officer and legal aid get the refusal page, with nothing of the detail.
    for who in ("officer", "lawyer"):
        other = await signin(api.http, api.tokens[who])
        refused = await api.http.get(link, headers=other)
        assert refused.status_code == 403, (who, refused.status_code)
        assert SECRETS[4] not in refused.text and "Ground-Sentinel-7Q" not in refused.text
        page_of_case = await api.http.get(f"/ui/cases/{cid}", headers=other)
        assert link not in page_of_case.text
    missing = await api.http.get("/ui/cases/no-such-case/protection-detail", headers=cw)
    assert missing.status_code == 404
