"""The statistics page: the `/stats` figures as inline SVG charts, within the page's policy."""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta

from db.users import Role
from tests.api.helpers import Api, today
from tests.api.test_security_headers import check_page_satisfies_policy
from tests.ui.helpers import Dom, ago, assert_accessible, build_caseload, signin


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
    # The Eurostat sections cover whole quarters: this one and the three before it.
    now = today()
    this_quarter = date(now.year, 3 * ((now.month - 1) // 3) + 1, 1)
    first = (this_quarter - relativedelta(months=9)).isoformat()[:7]
    last = (this_quarter + relativedelta(months=2)).isoformat()[:7]
    assert dom.texts("h2") == [
        "Applications per month (first-time and subsequent)",
        "First-instance decisions by outcome",
        "Recognition rates (per cent)",
        "Processing time from lodging to decision (days: median and 90th percentile)",
        "Open cases by stage, now",
        "Referrals to services, by service",  # issue #19
        f"Official statistics (Eurostat), {first} to {last}",
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

    await official_sections(api, dom, sup, first, last)

    # One jurisdiction, a window; a bad date is a 422 page; caseworkers may not open it.
    none = Dom((await api.http.get("/ui/stats?jurisdiction=me", headers=sup)).text)
    assert none.by_id("chart-backlog-desc") is None
    bad = await api.http.get("/ui/stats?from=2026-13-01", headers=sup)
    assert bad.status_code == 422
    cw = await signin(api.http, api.tokens["cw"])
    assert (await api.http.get("/ui/stats", headers=cw)).status_code == 403
    csv_link = f"/ui/stats/eurostat/applicants.csv?from={first}&to={last}"
    assert (await api.http.get(csv_link, headers=cw)).status_code == 403


async def official_sections(api: Api, dom: Dom, sup: dict[str, str], first: str, last: str) -> None:
    """A section per Eurostat table, its cells the API's, and a CSV link that works signed in.

    Two cases of the caseload are lodged (ten days ago): Afghan men born in 1982 and 1983,
    both 35 to 64, both pending.
    """
    listed = (await api.http.get("/stats/eurostat", headers=api.auth("sup"))).json()["items"]
    assert dom.texts("h3") == [f"{t['title']} ({t['dataset']}, {t['frequency']})" for t in listed]
    month = ago(10)[:7]
    applicants = dom.all("table")[0]
    assert applicants.text == (
        "Asylum applicants (first-time and subsequent) by citizenship, age and sex: "
        "2 non-zero cells time citizen sex age asyl_app value "
        f"{month} AF M Y35-64 ASY_APP 2 {month} AF M Y35-64 NASY_APP 2"
    )
    # Every section's table shows the API's cells for the same window.
    window = f"from={first}&to={last}"
    shown = {t.text.split(":")[0]: t.text for t in dom.all("table")}
    for t in listed:
        body = (
            await api.http.get(f"/stats/eurostat/{t['table']}?{window}", headers=api.auth("sup"))
        ).json()
        if not body["cells"]:
            assert t["title"] not in shown
            continue
        values = [str(c[d]) for c in body["cells"] for d in [*t["dimensions"], "value"]]
        assert shown[t["title"]].split(" value ", 1)[1] == " ".join(values)
    links = [a for a in dom.all("a") if a.text == "Download CSV"]
    assert len(links) == len(listed)
    href = links[0].attrs["href"].replace("&amp;", "&")
    assert href == f"/ui/stats/eurostat/applicants.csv?{window}&jurisdiction="
    download = await api.http.get(href, headers=sup)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    api_csv = await api.http.get(
        f"/stats/eurostat/applicants?{window}&format=csv", headers=api.auth("sup")
    )
    assert download.text == api_csv.text
    assert download.text.splitlines()[1:] == [
        f"{month},AF,M,Y35-64,ASY_APP,2",
        f"{month},AF,M,Y35-64,NASY_APP,2",
    ]
