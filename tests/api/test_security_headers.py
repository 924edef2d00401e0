"""Issue 21 finding 4: security headers on every answer, `no-store` on personal data.

Also checks that the dashboard's pages satisfy their Content-Security-Policy: no inline script
or style, every stylesheet and form on the API's own origin (the browser test checks the same
in Chromium when it is installed).
"""

from __future__ import annotations

import httpx

from api.routes.ui import COOKIE
from db.users import Role
from tests.api.helpers import Api, ago, create
from tests.ui.helpers import Dom, post_signin

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def check_headers(label: str, response: httpx.Response, *, personal: bool = True) -> None:
    """Every security header is there; answers with personal data are `no-store`."""
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (label, name, dict(response.headers))
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, (label, policy)
    assert "default-src 'none'" in policy, (label, policy)
    if personal:
        assert "no-store" in response.headers.get("cache-control", ""), (label, response.headers)


def check_page_satisfies_policy(label: str, html: str) -> None:
    """No inline script or style; stylesheets, images and forms on the API's own origin."""
    dom = Dom(html)
    assert not dom.all("script"), label
    assert not dom.all("style"), label
    assert not any("style" in e.attrs for e in dom.elements), label
    assert not any(a.startswith("on") for e in dom.elements for a in e.attrs), label
    for element in dom.all("link"):
        assert element.attrs.get("href", "").startswith("/"), (label, element.attrs)
    for element in dom.all("form"):
        assert element.attrs.get("action", "").startswith("/"), (label, element.attrs)
    for element in dom.all("img"):
        assert element.attrs.get("src", "").startswith("/"), (label, element.attrs)


async def test_security_headers_on_every_answer(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("admin", Role.ADMIN)
    api.user("la", Role.LEGAL_AID, org="org-a")
    cid = (await create(api, "cw", identified_on=ago(3)))["id"]
    http = api.http
    answers: dict[str, httpx.Response] = {
        "case": await http.get(f"/cases/{cid}", headers=api.auth("cw")),
        "history": await http.get(f"/cases/{cid}/history", headers=api.auth("cw")),
        "list": await http.get("/cases", headers=api.auth("cw")),
        "action": await http.post(
            f"/cases/{cid}/actions/make_application", json={"on": ago(2)}, headers=api.auth("cw")
        ),
        "401": await http.get(f"/cases/{cid}"),
        "403": await http.get("/audit", headers=api.auth("cw")),
        "404": await http.get("/cases/nope", headers=api.auth("cw")),
        "422": await http.post("/cases", json={}, headers=api.auth("cw")),
        "413": await http.post("/cases", content=b"x" * 70_000, headers=api.auth("cw")),
        "audit": await http.get("/audit", headers=api.auth("admin")),
        "deadlines": await http.get("/legal-aid/deadlines", headers=api.auth("la")),
        "health": await http.get("/health/live"),
        "signin page": await http.get("/ui/signin"),
        "ui redirect": await http.get("/ui"),
        "openapi": await http.get("/openapi.json"),
        "docs": await http.get("/docs"),
    }
    for label, response in answers.items():
        assert response.status_code < 500, (label, response.text)
        check_headers(label, response)
    assert answers["413"].status_code == 413
    # The documentation pages load Swagger UI from the app itself (tests/api/test_docs_offline.py).
    assert "script-src 'self' 'sha256-" in answers["docs"].headers["content-security-policy"]
    assert "script-src" not in answers["case"].headers["content-security-policy"]

    # Static assets carry no personal data: cacheable, but with the other headers.
    css = await http.get("/ui/static/ui.css")
    assert css.status_code == 200
    check_headers("static", css, personal=False)
    assert "no-store" not in css.headers.get("cache-control", "")

    # The dashboard's pages satisfy the policy they are served with.
    signin = await post_signin(http, api.tokens["cw"])
    check_headers("signin", signin)
    session = {"Cookie": f"{COOKIE}={signin.cookies[COOKIE]}"}
    for path in ("/ui", f"/ui/cases/{cid}", "/ui/signin", "/ui/supervision/overdue"):
        page = await http.get(path, headers=session)
        check_headers(path, page)
        check_page_satisfies_policy(path, page.text)
