"""The front-door and simulator benchmarks still run at a tiny size (no timing assertions)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from bench import floor_parts, front_door, simulator


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


async def test_front_door_bench_measures_every_variant(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    result = await front_door.run(
        dev_env.client,
        db_url=f"sqlite:///{tmp_path / 'readmodel.db'}",
        sizes=front_door.SIZES["tiny"],
        log=lambda _: None,
    )
    assert [r["variant"] for r in result["variants"]] == [v.name for v in front_door.VARIANTS]
    assert _number(result["noop_p50_ms"]) and result["noop_p50_ms"] > 0
    for row in result["variants"]:
        for key in ("floor_p50_ms", "action_p50_ms", "floor_ratio", "action_ratio"):
            assert _number(row[key]) and row[key] > 0, key
    lines = front_door.format_result(result).splitlines()
    assert sum(line.endswith((" ok", "MISS")) for line in lines) == len(front_door.VARIANTS)
    json.loads(json.dumps(result, allow_nan=False))


async def test_floor_parts_bench_serves_and_measures_every_app(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    result = await floor_parts.run(
        dev_env.client,
        db_url=f"sqlite:///{tmp_path / 'readmodel.db'}",
        sizes=floor_parts.SIZES["tiny"],
        log=lambda _: None,
    )
    # Every app answered its requests (a refusal raises), and each server's CPU was read.
    assert [r["app"] for r in result["apps"]] == list(floor_parts.APPS)
    assert _number(result["noop_p50_ms"]) and result["noop_p50_ms"] > 0
    for row in result["apps"]:
        assert _number(row["p50_ms"]) and row["p50_ms"] > 0
        assert _number(row["ratio"]) and row["ratio"] > 0
        assert _number(row["server_cpu_ms"]) and row["server_cpu_ms"] >= 0
    lines = floor_parts.format_result(result).splitlines()
    assert len(lines) == 2 + len(floor_parts.APPS)
    json.loads(json.dumps(result, allow_nan=False))


async def test_simulator_bench_counts_calls_and_measures_its_ceiling() -> None:
    config = simulator.SIZES["tiny"]
    result = await simulator.run(config, log=lambda _: None)
    assert result["cases"] == config.arrivals_per_week * config.weeks
    # Every arrival is one start; the ceiling replays the same calls.
    assert result["calls"]["start"] == result["cases"]
    assert result["calls"]["update"] >= result["cases"]
    for key in (
        "simulator_per_s",
        "ceiling_per_s",
        "ratio",
        "outputs_s",
        "simulation_only_per_s",
        "simulation_only_ratio",
    ):
        assert _number(result[key]) and result[key] > 0, key
    # The files are written inside the run: the simulation alone is faster than the whole.
    assert result["simulation_only_per_s"] > result["simulator_per_s"]
    assert simulator.format_result(result).splitlines()[-1].endswith((" ok", "MISS"))
    json.loads(json.dumps(result, allow_nan=False))
