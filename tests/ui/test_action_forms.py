"""The case page's action forms over ASGI with a real worker: generated, posted, refused inline."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from sqlmodel import Session, select

from db.tables import AuditRecord
from db.users import Role
from models.rules import calendar_today
from tests.api.helpers import Api, fetch_history
from tests.ui.helpers import FORM, Dom, ago, assert_accessible, csrf_of, open_case, signin


def action_forms(page: Dom) -> set[str]:
    """The actions the page offers as forms."""
    return {
        f.attrs["action"].rsplit("/", 1)[1]
        for f in page.all("form")
        if "/actions/" in f.attrs.get("action", "")
    }


def form_key(page: Dom, action: str) -> str:
    """The one-time key of `action`'s form."""
    keys = [
        i.attrs["value"]
        for i in page.all("input")
        if i.attrs.get("name") == "form_key" and i.attrs["value"].endswith(f"-{action}")
    ]
    assert len(keys) == 1, keys
    return keys[0]


async def test_actions_through_the_forms(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("north", Role.LEGAL_AID, "la-north")
    steps: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 3, {}),
        ("register", 2, {}),
    ]
    case_id = await open_case(api.http, api.auth("cw"), 1, steps, "la-north", 4)
    cw = await signin(api.http, api.tokens["cw"])
    url = f"/ui/cases/{case_id}"

    async def page() -> Dom:
        response = await api.http.get(url, headers=cw)
        assert response.status_code == 200, response.text[:500]
        return Dom(response.text)

    async def post(
        action: str, fields: dict[str, str], status: int, session: dict[str, str] = cw
    ) -> httpx.Response:
        response = await api.http.post(
            f"{url}/actions/{action}", content=urlencode(fields), headers={**session, **FORM}
        )
        assert response.status_code == status, response.text[:1500]
        return response

    first = await page()
    assert_accessible(first)
    case = (await api.http.get(f"/cases/{case_id}", headers=api.auth("cw"))).json()
    # One form per action the stage allows and a caseworker may take (never the supervisor's).
    assert action_forms(first) == set(case["allowed_actions"]) - {"review_abandonment"}
    assert "lodge" in action_forms(first)
    on = first.by_id("act-lodge-on")
    assert on is not None and on.attrs["type"] == "date" and "required" in on.attrs
    assert (
        on.attrs["value"] == on.attrs["max"] == calendar_today("rs").isoformat()
    )  # Belgrade today, editable
    label = next(lb for lb in first.all("label") if lb.attrs.get("for") == "act-lodge-on")
    assert label.text.endswith("*")  # required, marked
    procedure = first.by_id("act-assign_procedure-procedure")
    assert procedure is not None and procedure.tag == "select" and "required" in procedure.attrs

    # Lodged yesterday, through the form: the legal date is the one typed.
    token = csrf_of(first)
    lodge = {"csrf": token, "form_key": form_key(first, "lodge"), "on": ago(1)}
    done = await post("lodge", lodge, 303)
    assert done.headers["location"] == f"{url}?done=lodge#actions-heading"
    lodged = [e for e in await fetch_history(api, "cw", case_id) if e.get("action") == "lodge"]
    assert [e["on"] for e in lodged] == [ago(1)]
    after = Dom((await api.http.get(done.headers["location"], headers=cw)).text)
    status = after.by_id("action-done")
    assert status is not None and status.text == "Recorded: lodge."
    assert "lodge" not in action_forms(after)
    # The same submit again (a double click): one act, the first one's result.
    await post("lodge", lodge, 303)
    again = [e for e in await fetch_history(api, "cw", case_id) if e.get("action") == "lodge"]
    assert len(again) == 1

    # 422: a required field left empty is named beside it; everything typed stays.
    typed = {
        "csrf": token,
        "form_key": form_key(after, "assign_procedure"),
        "on": ago(1),
        "procedure": "",
        "grounds": "safe country",
        "note": "typed by hand",
    }
    refused = Dom((await post("assign_procedure", typed, 422)).text)
    assert_accessible(refused)
    error = refused.by_id("act-assign_procedure-procedure-error")
    assert error is not None and "required" in error.text.lower()
    select = refused.by_id("act-assign_procedure-procedure")
    assert select is not None and select.attrs.get("aria-invalid") == "true"
    assert select.attrs.get("aria-describedby") == "act-assign_procedure-procedure-error"
    assert "open" in (refused.by_id("act-assign_procedure") or select).attrs
    note = refused.by_id("act-assign_procedure-note")
    grounds = refused.by_id("act-assign_procedure-grounds")
    assert note is not None and note.text == "typed by hand"
    assert grounds is not None and grounds.text == "safe country"
    on_kept = refused.by_id("act-assign_procedure-on")
    assert on_kept is not None and on_kept.attrs["value"] == ago(1)

    # 409: the lodging form sent again from another tab (its own key) after the case moved on:
    # the refusal with the stage and what it allows now, at the top of the form, kept in view.
    stale = {"csrf": token, "form_key": "other-tab-lodge", "on": ago(0), "note": "x2"}
    conflict = Dom((await post("lodge", stale, 409)).text)
    assert_accessible(conflict)
    top = conflict.by_id("act-lodge-error")
    assert top is not None and "lodged" in top.text and "assign procedure" in top.text, top
    kept = conflict.by_id("act-lodge-note")
    assert kept is not None and kept.text == "x2"
    assert "open" in (conflict.by_id("act-lodge") or kept).attrs
    lodged = [e for e in await fetch_history(api, "cw", case_id) if e.get("action") == "lodge"]
    assert len(lodged) == 1

    # Legal aid may record a contact only: that is its one form, and it works for it.
    north = await signin(api.http, api.tokens["north"])
    la_page = Dom((await api.http.get(url, headers=north)).text)
    assert action_forms(la_page) == {"record_contact"}
    contact = {"csrf": csrf_of(la_page), "form_key": form_key(la_page, "record_contact")}
    await post("record_contact", {**contact, "on": ago(0)}, 303, north)
    # A role's forbidden action has no form; posted anyway, it is a refusal page.
    forbidden = await post("lodge_appeal", {**contact, "on": ago(0)}, 403, north)
    assert "may not" in Dom(forbidden.text).body
    # Without the session's CSRF token nothing is recorded.
    await post("record_contact", {"on": ago(0)}, 403, north)
    contacts = [
        e for e in await fetch_history(api, "cw", case_id) if e.get("action") == "record_contact"
    ]
    assert len(contacts) == 1


async def test_a_form_action_is_audited_in_its_write(
    api: Api, audit_writes: list[tuple[str, int]]
) -> None:
    """A form's success (303) is recorded in the action's write: the middleware commits nothing."""
    api.user("cw", Role.CASEWORKER)
    steps: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 3, {}),
        ("register", 2, {}),
    ]
    case_id = await open_case(api.http, api.auth("cw"), 2, steps, None, 4)
    cw = await signin(api.http, api.tokens["cw"])
    url = f"/ui/cases/{case_id}"
    page = Dom((await api.http.get(url, headers=cw)).text)
    audit_writes.clear()
    fields = {"csrf": csrf_of(page), "form_key": form_key(page, "lodge"), "on": ago(1)}
    done = await api.http.post(
        f"{url}/actions/lodge",
        content=urlencode(fields),
        headers={**cw, **FORM, "X-Request-Id": "rid-form"},
    )
    assert done.status_code == 303, done.text[:500]
    with Session(api.engine) as session:
        records = session.exec(select(AuditRecord).where(AuditRecord.request_id == "rid-form"))
        assert [(r.status, r.kind) for r in records] == [(303, "change")]
    assert audit_writes == []
