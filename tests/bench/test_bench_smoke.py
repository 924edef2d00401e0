"""The supervision benchmark still runs (a small caseload; no timing assertions)."""

from __future__ import annotations

import pytest

from bench import supervision as bench


def test_benchmark_runs_every_query(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--cases", "200", "--repeat", "2", "--database-url", db_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "200 cases" in lines[0]
    assert lines[1].split() == ["query", "p50", "ms", "p95", "ms", "p50", "/", "baseline"]
    rows = [line.rsplit(maxsplit=3) for line in lines[2:]]
    assert [r[0].strip() for r in rows] == [
        "baseline: SELECT count(*) FROM cases",
        "GET /supervision/overdue",
        "GET /supervision/stuck",
        "GET /supervision/stuck (pages 1+2)",
        "GET /supervision/stuck?jurisdiction&assignee",
        "GET /supervision/abandoned",
        "GET /supervision/entitled-blocked",
        "GET /stats",
        "GET /stats?from&to (90 days)&jurisdiction",
    ]
    for _, p50, p95, ratio in rows:
        assert 0 <= float(p50) <= float(p95)
        assert float(ratio) >= 0
    # A database that already holds cases is refused: never added to, never cleared.
    assert bench.main(["--cases", "10", "--repeat", "1", "--database-url", db_url]) == 2
    assert "already holds 200 cases" in capsys.readouterr().out
