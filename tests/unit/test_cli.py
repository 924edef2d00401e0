"""The `asylumflow` command line: rules list and deadlines, as shared/api.md fixes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.cli import app

runner = CliRunner()
SCRIPT = Path(sys.executable).with_name("asylumflow")


def test_console_script_prints_rs_clocks_with_provenance() -> None:
    """The issue's own example, through the installed console script."""
    out = subprocess.run(
        [
            str(SCRIPT),
            "deadlines",
            "--pack",
            "rs",
            "--event",
            "lodged=2026-01-15",
            "--json",
            "--as-of",
            "2026-02-01",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    items = {d["clock"]: d for d in json.loads(out.stdout)}
    assert set(items) == {"decision", "labour_market_access"}
    lma = items["labour_market_access"]
    assert lma["due"] == "2026-07-15"
    assert lma["status"] == "running"
    assert lma["pack"] == "rs-2023"
    assert lma["rule"] == "rs-2023/efa-2023"
    assert lma["trigger"] == "lodged"
    assert lma["trigger_date"] == "2026-01-15"
    assert lma["period"] == "6 months"
    assert lma["calendar"] == "RS"
    assert lma["rolled"] is False
    assert "62/2023" in lma["citation"]
    assert items["decision"]["due"] == "2026-04-15"


def test_rules_list_shows_every_pack() -> None:
    result = runner.invoke(app, ["rules", "list", "--json"])
    assert result.exit_code == 0
    rows = {r["pack"]: r for r in json.loads(result.stdout)}
    assert {"eu-2013", "eu-2024", "rs-2018", "rs-2023", "me-2018", "pl-2015"} <= set(rows)
    assert rows["eu-2024"]["valid_from"] == "2026-06-12"
    table = runner.invoke(app, ["rules", "list"])
    assert "rs-2023" in table.stdout


def test_family_resolves_by_lodging_date() -> None:
    args = [
        "deadlines",
        "--pack",
        "eu",
        "--event",
        "made=2026-06-10",
        "--event",
        "registered=2026-06-11",
        "--event",
        "lodged=2026-06-15",
        "--json",
        "--as-of",
        "2026-06-20",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    items = {d["clock"]: d for d in json.loads(result.stdout)}
    assert items["labour_market_access"]["pack"] == "eu-2024"
    assert items["labour_market_access"]["due"] == "2026-12-11"
    assert items["registration"]["status"] == "met"


def test_pause_option_moves_due_date() -> None:
    base = [
        "deadlines",
        "--pack",
        "rs-2023",
        "--event",
        "lodged=2026-01-15",
        "--json",
        "--as-of",
        "2026-02-01",
    ]
    paused = runner.invoke(app, [*base, "--pause", "2026-03-01:2026-03-11"])
    items = {d["clock"]: d for d in json.loads(paused.stdout)}
    assert items["labour_market_access"]["due"] == "2026-07-25"
    assert items["labour_market_access"]["pause_days"] == 10


def test_table_output_is_readable() -> None:
    result = runner.invoke(app, ["deadlines", "--pack", "pl", "--event", "lodged=2026-01-15"])
    assert result.exit_code == 0
    assert "labour_market_access" in result.stdout
    assert "pl-2015" in result.stdout


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--pack", "xx", "--event", "lodged=2026-01-15"], ["'xx'", "rs", "eu-2024"]),
        (["--pack", "rs", "--event", "foo=2026-01-15"], ["'foo'", "lodged"]),
        (["--pack", "rs", "--event", "lodged=2026-13-15"], ["2026-13-15", "YYYY-MM-DD"]),
        (["--pack", "rs", "--event", "lodged"], ["NAME=DATE"]),
        (["--pack", "rs", "--event", "lodged=2026-01-15", "--procedure", "fast"], ["'fast'"]),
        (["--pack", "rs", "--event", "lodged=2026-01-15", "--pause", "x"], ["START:END"]),
        (["--pack", "rs", "--event", "lodged=2000-01-15"], ["no rs rule pack", "2000-01-15"]),
    ],
)
def test_bad_values_exit_2_with_one_line(args: list[str], names: list[str]) -> None:
    out = subprocess.run(
        [str(SCRIPT), "deadlines", *args], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for name in names:
        assert name in lines[0]
