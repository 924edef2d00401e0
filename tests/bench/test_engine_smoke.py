"""The engine benchmark still runs end to end at a tiny size (no timing assertions)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from bench import engine
from bench.__main__ import _summary, machine
from bench.engine_table import format_table
from bench.rig import SIZES


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@pytest.mark.parametrize("api_process", [False, True], ids=["asgi", "api-process"])
async def test_engine_bench_produces_every_figure(
    dev_env: WorkflowEnvironment, tmp_path: Path, api_process: bool
) -> None:
    result = await engine.run(
        dev_env.client,
        db_url=f"sqlite:///{tmp_path / 'readmodel.db'}",
        sizes=SIZES["tiny"],
        server="test",
        log=lambda _: None,
        api_process=api_process,
    )
    assert result["api"].startswith("separate process") is api_process

    creation = result["creation"]
    assert [c["concurrency"] for c in creation] == [1, 8, 32]
    for c in creation:
        for key in (
            "api_per_s",
            "noop_update_with_start_per_s",
            "noop_start_workflow_per_s",
            "case_update_with_start_per_s",
            "ratio",
            "case_ratio",
        ):
            assert _number(c[key]) and c[key] > 0, key

    actions = result["actions"]
    for side in ("api", "api_floor", "case_update", "noop_update"):
        assert 0 < actions[side]["p50"] <= actions[side]["p95"] <= actions[side]["p99"]
    for q in ("p50", "p95", "p99"):
        assert _number(actions[f"ratio_{q}"]) and actions[f"ratio_{q}"] > 0
    assert _number(actions["ratio_floor_p50"]) and actions["ratio_floor_p50"] > 0
    assert _number(actions["api_p50_first_quarter_ms"])
    assert _number(actions["api_p50_last_quarter_ms"])

    lifecycles = result["lifecycles"]
    for name in ("integration", "return"):
        life = lifecycles[name]
        assert life["runs"] >= 1
        assert life["events"] > life["api_calls"] > 0
        assert life["noop_events"] > 0
        assert _number(life["ratio"])
    replay = lifecycles["replay"]
    assert replay["case_ms"] > 0 and replay["noop_ms"] > 0 and _number(replay["ratio"])

    memory = result["memory"]
    assert _number(memory["case_mib_per_1000"]) and _number(memory["noop_mib_per_1000"])
    # At 16 workflows the RSS deltas are within noise: a ratio may be missing, never invalid.
    assert memory["ratio"] is None or _number(memory["ratio"])

    # Every row renders, every target gets a verdict, and the figures are plain JSON.
    table = format_table(result)
    assert sum(line.endswith((" ok", "MISS")) for line in table.splitlines()) == 3 + 1 + 2
    assert len(_summary([result])) == 3
    json.loads(json.dumps(result, allow_nan=False))


def test_machine_description() -> None:
    info = machine()
    assert info["nproc"] >= 1
    assert info["python"].startswith("3.")
    assert info["temporalio"]
