"""The responsibility procedure (issue 20) on the case page: its forms and what became of it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from db.users import Role
from tests.api.helpers import Api
from tests.ui.helpers import FORM, Dom, ago, assert_accessible, csrf_of, open_case, signin


def form_key(page: Dom, action: str) -> str:
    """The one-time key of `action`'s form."""
    keys = [
        i.attrs["value"]
        for i in page.all("input")
        if i.attrs.get("name") == "form_key" and i.attrs["value"].endswith(f"-{action}")
    ]
    assert len(keys) == 1, keys
    return keys[0]


async def test_request_and_reply_through_the_forms(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    steps: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 30, {}),
        ("register", 29, {}),
        ("lodge", 25, {}),
    ]
    case_id = await open_case(api.http, api.auth("cw"), 1, steps, None, 31, jurisdiction="eu")
    cw = await signin(api.http, api.tokens["cw"])
    url = f"/ui/cases/{case_id}"

    async def page() -> Dom:
        response = await api.http.get(url, headers=cw)
        assert response.status_code == 200, response.text[:500]
        dom = Dom(response.text)
        assert_accessible(dom)
        return dom

    lodged = await page()
    # The request's form is generated from its input model, labelled.
    hit = lodged.by_id("act-request_take_charge-eurodac_hit_on")
    assert hit is not None and hit.attrs["type"] == "date" and "required" not in hit.attrs
    state = lodged.by_id("act-request_take_charge-to_state")
    assert state is not None and "required" in state.attrs
    labels = {lb.attrs.get("for"): lb.text for lb in lodged.all("label")}
    assert labels["act-request_take_charge-to_state"].startswith("Requested Member State")

    fields = {
        "csrf": csrf_of(lodged),
        "form_key": form_key(lodged, "request_take_charge"),
        "on": ago(20),
        "to_state": "DE",
    }
    sent = await api.http.post(
        f"{url}/actions/request_take_charge", content=urlencode(fields), headers={**cw, **FORM}
    )
    assert sent.status_code == 303, sent.text[:1500]
    requested = await page()
    facts = dict(zip(requested.texts("dt"), requested.texts("dd"), strict=False))
    assert facts["Stage"] == "responsibility requested"
    assert facts["Responsibility"] == f"take charge request to DE of {ago(20)}: requested"
    row = next(tr for tr in requested.all("tr") if tr.text.startswith("responsibility reply"))
    assert "eu-2024/ammr-40-1" in row.text and "running" in row.text

    reply = {
        "csrf": csrf_of(requested),
        "form_key": form_key(requested, "record_responsibility_reply"),
        "on": ago(0),
        "accepted": "yes",
    }
    answered = await api.http.post(
        f"{url}/actions/record_responsibility_reply",
        content=urlencode(reply),
        headers={**cw, **FORM},
    )
    assert answered.status_code == 303, answered.text[:1500]
    pending = await page()
    facts = dict(zip(pending.texts("dt"), pending.texts("dd"), strict=False))
    assert facts["Stage"] == "transfer pending"
    assert facts["Responsibility"].endswith(": accepted")
    assert any(tr.text.startswith("transfer") for tr in pending.all("tr"))
