"""The timer-storm benchmark still runs end to end at a tiny size (no timing assertions)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml
from temporalio.testing import WorkflowEnvironment

from bench import storm
from models.rules import load_pack_file


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def test_storm_pack_is_the_test_pack_with_one_clock_in_the_window(tmp_path: Path) -> None:
    assert storm.storm_pack(tmp_path, "stormz", 12.4) == 12
    pack = load_pack_file(tmp_path / "stormz-2020.yaml")
    periods = {c.name.value: c.period.n for c in pack.clocks if c.period is not None}
    base = yaml.safe_load(storm.TEST_PACK.read_text())
    assert pack.family == "stormz" and pack.test_only
    assert len(pack.clocks) == len(base["clocks"])
    assert periods["labour_market_access"] == 12
    assert periods["decision"] == 12 + 86_400


async def test_storm_bench_produces_its_figures(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    sizes = storm.SIZES["tiny"]
    result = await storm.run(
        dev_env.client,
        db_url=f"sqlite:///{tmp_path / 'readmodel.db'}",
        work=tmp_path,
        sizes=sizes,
        log=lambda _: None,
    )
    assert result["cases"] == sizes.cases and result["cache"] < sizes.cases
    (only,) = result["rounds"]
    for side in ("case", "noop"):
        for key in ("seconds", "per_s", "worker_cpu_s", "armed_per_s"):
            assert _number(only[side][key]) and only[side][key] >= 0, (side, key)
    # Both settled counts (workflows and the entitled-but-blocked list) reached N.
    assert len(only["case"]["settled_at_s"]) == 2
    assert _number(result["ratio"]) and result["ratio"] > 0
    lines = storm.format_result(result).splitlines()
    assert lines[-1].endswith((" ok", "MISS"))
    json.loads(json.dumps(result, allow_nan=False))
