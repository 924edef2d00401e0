"""The supervisor's list pages: filters, sorting, the CSV download and refusals, over ASGI."""

from __future__ import annotations

import csv
import io

from db.users import Role
from tests.api.helpers import Api
from tests.ui.helpers import Dom, assert_accessible, build_caseload, signin


async def test_filters_sorting_and_csv_download(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    api.user("cw", Role.CASEWORKER)
    load = await build_caseload(api.http, api.auth("cw"), api.engine)
    sup = await signin(api.http, api.tokens["sup"])

    async def page(path: str, status: int = 200) -> Dom:
        response = await api.http.get(path, headers=sup)
        assert response.status_code == status, (path, response.text[:500])
        dom = Dom(response.text)
        assert_accessible(dom)
        return dom

    def cases(dom: Dom) -> list[str]:
        links = [a.attrs["href"] for a in dom.all("a")]
        return [h.removeprefix("/ui/cases/") for h in links if h.startswith("/ui/cases/")]

    everything = await page("/ui/supervision/stuck")
    assert {"jurisdiction", "stage", "procedure", "assignee", "sort"} <= {
        e.attrs.get("name") for e in everything.all("select") + everything.all("input")
    }
    assert load.overdue in cases(everything)
    # Filtered to one jurisdiction, one stage; sorted by stage.
    assert cases(await page("/ui/supervision/overdue?jurisdiction=rs")) == [load.overdue]
    assert cases(await page("/ui/supervision/overdue?jurisdiction=me")) == []
    by_stage = await page("/ui/supervision/stuck?sort=stage&stage=registered")
    assert load.overdue in cases(by_stage)
    assert "sorted by stage" in by_stage.body
    selected = [o for o in by_stage.all("option") if "selected" in o.attrs]
    assert {o.attrs["value"] for o in selected} == {"registered", "stage"}
    # A bad filter is a 422 page naming it, not an error.
    bad = await page("/ui/supervision/overdue?stage=nonsense", 422)
    assert "stage" in bad.body

    # The CSV link keeps the filters and order; the download is the whole list as CSV.
    dom = await page("/ui/supervision/overdue?jurisdiction=rs&sort=stage")
    [link] = [a.attrs["href"] for a in dom.all("a") if "export.csv" in a.attrs["href"]]
    assert link == "/ui/supervision/overdue/export.csv?jurisdiction=rs&sort=stage"
    download = await api.http.get(link, headers=sup)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert 'filename="overdue.csv"' in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [r["id"] for r in rows] == [load.overdue]
    assert rows[0]["clock"] == "lodging"
    empty = await api.http.get("/ui/supervision/overdue/export.csv?jurisdiction=me", headers=sup)
    assert empty.text.splitlines()[1:] == []

    # Only supervisors; anonymous visitors go to sign in.
    cw = await signin(api.http, api.tokens["cw"])
    refused = await api.http.get("/ui/supervision/overdue/export.csv", headers=cw)
    assert refused.status_code == 403 and load.overdue not in refused.text
    api.http.cookies.clear()
    anonymous = await api.http.get("/ui/supervision/overdue/export.csv")
    assert anonymous.status_code == 303
