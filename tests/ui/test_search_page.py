"""Finding a person from the dashboard: a CSRF-checked POST, typos tolerated, reach applied."""

from __future__ import annotations

from db.users import Role
from tests.api.helpers import Api
from tests.ui.helpers import FORM, Dom, assert_accessible, build_caseload, csrf_of, signin


async def test_search_by_misspelt_name_within_reach(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("north", Role.LEGAL_AID, "la-north")
    api.user("admin", Role.ADMIN)
    load = await build_caseload(api.http, api.auth("cw"), api.engine)
    cw = await signin(api.http, api.tokens["cw"])
    home = await api.http.get("/ui", headers=cw)
    dom = Dom(home.text)
    [form] = [f for f in dom.all("form") if f.attrs.get("action") == "/ui/search"]
    assert form.attrs["method"] == "post"  # what is typed never goes in a URL
    token = csrf_of(dom)

    async def find(session: dict[str, str], q: str, csrf: str, status: int = 200) -> Dom:
        response = await api.http.post(
            "/ui/search", content=f"csrf={csrf}&q={q}", headers={**session, **FORM}
        )
        assert response.status_code == status, response.text[:500]
        assert str(response.url).endswith("/ui/search")
        found = Dom(response.text)
        assert_accessible(found)
        return found

    # A misspelt name finds the person, shown by name with the case's reference.
    result = await find(cw, "Dashbord1 Persn001", token)
    first = next(tr for tr in result.all("tr") if "Dashboard1 Person001" in tr.text)
    link = next(a for a in result.all("a") if a.attrs["href"] == f"/ui/cases/{load.overdue}")
    assert link.text.startswith("RS-") and "name" in first.text
    field = result.by_id("search-q")
    assert field is not None and field.attrs["value"] == "Dashbord1 Persn001"  # nothing lost
    # Legal aid finds its own org's clients only.
    north = await signin(api.http, api.tokens["north"])
    north_token = csrf_of((await api.http.get("/ui", headers=north)).text)
    assert "Person002" in (await find(north, "Dashboard2 Person002", north_token)).body
    other = await find(north, "Dashboard3 Person003", north_token)
    assert "Person003" not in " ".join(tr.text for tr in other.all("tr"))
    assert load.other_org not in other.body
    nobody = await find(north, "1900-01-01", north_token)
    assert "No case within your reach matches." in nobody.body
    # Refusals: a forged form, an empty query, a role that reads no person.
    assert "another site" in (await find(cw, "Dashboard1", "forged", 403)).body
    assert "q:" in (await find(cw, "", token, 422)).body
    admin = await signin(api.http, api.tokens["admin"])
    admin_token = csrf_of((await api.http.get("/ui", headers=admin)).text)
    await find(admin, "Dashboard1", admin_token, 403)
