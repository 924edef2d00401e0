"""The cache-cost benchmark still runs end to end at a tiny size (no timing assertions)."""

from __future__ import annotations

import math
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bench import cache_cost
from bench.rig import SIZES


async def test_cache_cost_produces_every_figure(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    result = await cache_cost.run(
        dev_env.client, f"sqlite:///{tmp_path / 'readmodel.db'}", SIZES["tiny"], "tiny"
    )
    assert set(result) == {"memory", "heap", "replay"}
    heap = result["heap"]
    for kind in ("case", "noop"):
        assert heap[kind]["kib_per_cached"] > 0
        assert math.isclose(
            heap[kind]["kib_per_cached"],
            heap[kind]["imports_kib_per_cached"] + heap[kind]["rest_kib_per_cached"],
        )
    # The case workflow runs unsandboxed: no module of it is copied per run.
    assert not {"workflows.case", "workflows.case_engine"} & set(
        heap["case"]["modules_copied_per_run"]
    )
    replay = result["replay"]
    assert replay["events"] > 0 and replay["noop_events"] > 0
    assert replay["case_cpu_ms"] > 0 and replay["noop_cpu_ms"] > 0
