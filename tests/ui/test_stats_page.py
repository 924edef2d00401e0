"""The statistics page: the `/stats` figures as inline SVG charts, within the page's policy."""

from __future__ import annotations

from db.users import Role
from tests.api.helpers import Api
from tests.api.test_security_headers import check_page_satisfies_policy
from tests.ui.helpers import Dom, assert_accessible, build_caseload, signin


async def test_statistics_as_charts(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    api.user("cw", Role.CASEWORKER)
    await build_caseload(api.http, api.auth("cw"), api.engine)
    figures = (await api.http.get("/stats", headers=api.auth("sup"))).json()
    sup = await signin(api.http, api.tokens["sup"])
    response = await api.http.get("/ui/stats", headers=sup)
    assert response.status_code == 200, response.text
    check_page_satisfies_policy("/ui/stats", response.text)
    dom = Dom(response.text)
    assert_accessible(dom)
    assert dom.texts("h2") == [
        "Applications per month (first-time and subsequent)",
        "First-instance decisions by outcome",
        "Recognition rates (per cent)",
        "Processing time from lodging to decision (days: median and 90th percentile)",
        "Open cases by stage, now",
    ]
    charts = {e.attrs["aria-labelledby"].split()[0]: e for e in dom.all("svg")}
    assert all(e.attrs.get("role") == "img" for e in charts.values())
    # Each chart says its figures as text, and they are the API's.
    backlog = dom.by_id("chart-backlog-desc")
    assert backlog is not None
    held = {stage: count for stage, count in figures["backlog"].items() if count}
    assert held
    for stage, count in held.items():
        assert f"{stage.replace('_', ' ')}: {count}" in backlog.text, (stage, backlog.text)
    assert len(backlog.text.split(";")) == len(held)  # stages holding no case are left out
    months = dom.by_id("chart-applications-desc")
    assert months is not None
    for month, n in figures["applications"].items():
        assert f"{month}: {n['first_time'] + n['subsequent']}" in months.text
    widths = [float(r.attrs["width"]) for r in dom.all("rect")]
    assert widths and max(widths) == 360.0
    assert "Nothing to show" in dom.body  # no decisions yet

    # One jurisdiction, a window; a bad date is a 422 page; caseworkers may not open it.
    none = Dom((await api.http.get("/ui/stats?jurisdiction=me", headers=sup)).text)
    assert none.by_id("chart-backlog-desc") is None
    bad = await api.http.get("/ui/stats?from=2026-13-01", headers=sup)
    assert bad.status_code == 422
    cw = await signin(api.http, api.tokens["cw"])
    assert (await api.http.get("/ui/stats", headers=cw)).status_code == 403
