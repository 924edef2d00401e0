"""The supervision benchmark still runs (a small caseload; no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import supervision as bench

QUERIES = [
    "baseline: SELECT count(*) FROM cases",
    "stuck total, counted case by case (before 0016)",
    "stuck total from the tallies",
    "backlog, counted case by case (before 0016)",
    "backlog from the tallies",
    "GET /supervision/overdue",
    "GET /supervision/stuck",
    "GET /supervision/stuck (pages 1+2)",
    "GET /supervision/stuck?jurisdiction&assignee",
    "GET /supervision/abandoned",
    "GET /supervision/entitled-blocked",
    "GET /legal-aid/deadlines?within_days=14",
    "GET /legal-aid/deadlines (default, 30 days)",
    "GET /legal-aid/deadlines?limit=50 (pages 1+2)",
    "GET /stats",
    "GET /stats?from&to (90 days)&jurisdiction",
]


def test_benchmark_runs_every_query(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--cases", "200", "--repeat", "2", "--database-url", db_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "200 cases" in lines[0]
    assert lines[1].split() == ["query", "p50", "ms", "p95", "ms", "p50", "/", "baseline", "n"]
    rows = [line.rsplit(maxsplit=4) for line in lines[2:]]
    assert [r[0].strip() for r in rows] == QUERIES
    for _, p50, p95, ratio, n in rows:
        assert 0 <= float(p50) <= float(p95)
        assert float(ratio) >= 0
        assert int(n) == 2
    # A database that already holds cases is refused: never added to, never cleared.
    assert bench.main(["--cases", "10", "--repeat", "1", "--database-url", db_url]) == 2
    assert "already holds 200 cases" in capsys.readouterr().out


def test_sweep_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--sizes` seeds up to each size in turn; `--json-out` records every table."""
    out = tmp_path / "supervision.json"
    argv = ["--sizes", "50,120", "--repeat", "1", "--budget", "0", "--json-out", str(out)]
    assert bench.main(argv) == 0
    printed = capsys.readouterr().out
    assert "50 cases" in printed and "120 cases" in printed
    result = json.loads(out.read_text())
    assert result["dialect"] == "sqlite"
    assert [size["counts"]["cases"] for size in result["sizes"]] == [50, 120]
    for size in result["sizes"]:
        assert list(size["queries"]) == QUERIES
        assert size["counts"]["case_stat_facts"] > 0
        assert all(q["n"] == 1 and q["p50_ms"] <= q["p95_ms"] for q in size["queries"].values())
    with pytest.raises(SystemExit):
        bench.main(["--sizes", "100,10"])
