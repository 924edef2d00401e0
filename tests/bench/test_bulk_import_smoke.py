"""The bulk-import benchmark still runs end to end at a tiny size (no timing assertions)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from bench import bulk_import


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@pytest.mark.parametrize("worker_process", [False, True], ids=["worker-in-process", "worker"])
async def test_bulk_import_bench_produces_its_figures(
    dev_env: WorkflowEnvironment, tmp_path: Path, worker_process: bool
) -> None:
    result = await bulk_import.run(
        dev_env.client,
        db_url=f"sqlite:///{tmp_path / 'readmodel.db'}",
        work=tmp_path,
        sizes=bulk_import.SIZES["tiny"],
        concurrency=4,
        worker_process=worker_process,
    )
    assert result["cases"] == bulk_import.SIZES["tiny"].cases and result["concurrency"] == 4
    for key in ("import_per_s", "raw_update_with_start_per_s", "ratio"):
        assert _number(result[key]) and result[key] > 0, key
    assert result["worker"] == ("separate process" if worker_process else "in process")
    lines = bulk_import.format_result(result).splitlines()
    assert len(lines) == 4 and lines[-1].endswith((" ok", "MISS"))
    json.loads(json.dumps(result, allow_nan=False))
