"""A supervisor reviews a presumed abandonment from the case page: CSRF, inline refusals, done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from db.tables import AuditRecord
from db.users import Role
from models.rules import calendar_today
from tests.api.helpers import Api
from tests.ui.helpers import FORM, Dom, assert_accessible, csrf_of, open_case, signin, today

HEADING = "Review the presumed abandonment"


async def test_review_abandonment_from_the_case_page(
    api: Api, audit_writes: list[tuple[str, int]]
) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    steps: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 52, {}),
        ("register", 51, {}),
        ("lodge", 50, {}),
    ]
    case_id = await open_case(api.http, api.auth("cw"), 1, steps, None, 52)
    case = (await api.http.get(f"/cases/{case_id}", headers=api.auth("sup"))).json()
    assert "presumed_abandoned" in case["flags"] and "review_abandonment" in case["allowed_actions"]

    sup = await signin(api.http, api.tokens["sup"])
    page = Dom((await api.http.get(f"/ui/cases/{case_id}", headers=sup)).text)
    assert_accessible(page)
    assert HEADING in page.texts("h2")
    on = page.by_id("review-on")
    assert (
        on is not None and on.attrs["value"] == calendar_today("rs").isoformat()
    )  # Belgrade today, editable
    assert "required" in on.attrs
    cw = await signin(api.http, api.tokens["cw"])
    cw_page = Dom((await api.http.get(f"/ui/cases/{case_id}", headers=cw)).text)
    assert HEADING not in cw_page.texts("h2")  # only supervisors review

    async def post(session: dict[str, str], body: str, status: int) -> Dom:
        response = await api.http.post(
            f"/ui/cases/{case_id}/review-abandonment", content=body, headers={**session, **FORM}
        )
        assert response.status_code == status, response.text[:800]
        return Dom(response.text)

    token = csrf_of(page)
    await post(sup, f"confirm=no&on={today().isoformat()}", 403)  # no CSRF token
    await post(cw, f"csrf={csrf_of(cw_page)}&confirm=no&on={today().isoformat()}", 403)
    # A date in the future: 422 shown next to the form, what was typed kept.
    future = (today() + timedelta(days=5)).isoformat()
    refused = await post(sup, f"csrf={token}&confirm=no&on={future}&note=back+in+touch", 422)
    assert_accessible(refused)
    error = refused.by_id("review-error")
    assert error is not None and "on" in error.text
    field = refused.by_id("review-on")
    assert field is not None and field.attrs["value"] == future
    assert field.attrs.get("aria-invalid") == "true"
    lift = refused.by_id("review-lift")
    assert lift is not None and "checked" in lift.attrs
    note = refused.by_id("review-note")
    assert note is not None and note.text == "back in touch"
    assert "confirm" in (await post(sup, f"csrf={token}&on={today().isoformat()}", 422)).body

    # Lifted: the case is back at work, the presumption gone.
    audit_writes.clear()
    done = await api.http.post(
        f"/ui/cases/{case_id}/review-abandonment",
        content=f"csrf={token}&confirm=no&on={today().isoformat()}&note=back+in+touch",
        headers={**sup, **FORM, "X-Request-Id": "rid-review"},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/ui/cases/{case_id}"
    # Its audit record (303) went into the review's read-model write: no commit of its own.
    with Session(api.engine) as session:
        records = session.exec(select(AuditRecord).where(AuditRecord.request_id == "rid-review"))
        assert [(r.status, r.kind) for r in records] == [(303, "change")]
    assert audit_writes == []
    case = (await api.http.get(f"/cases/{case_id}", headers=api.auth("sup"))).json()
    assert case["stage"] == "lodged" and "presumed_abandoned" not in case["flags"]
    after = Dom((await api.http.get(f"/ui/cases/{case_id}", headers=sup)).text)
    assert HEADING not in after.texts("h2")
    # Posting the same review again: the case no longer allows it (409), shown on the page.
    again = await post(sup, f"csrf={token}&confirm=no&on={today().isoformat()}", 409)
    assert_accessible(again)
    shown = again.by_id("review-error")
    assert shown is not None and "review_abandonment" in shown.text, shown
