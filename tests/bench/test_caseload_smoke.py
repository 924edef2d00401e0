"""The caseload benchmark (`make bench-scale`) still runs end to end at a tiny size.

No timing is asserted; what is checked is that each phase did what its figures claim.
"""

from __future__ import annotations

import json
import math
import os
from datetime import date
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from bench import caseload, rig


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def test_the_caseload_is_stopped_at_every_stage_and_a_quarter_has_legal_aid() -> None:
    today = date(2026, 12, 5)
    rows = [caseload.caseload_row("t", n, today) for n in range(8)]
    assert [len(r["actions"]) for r in rows] == [0, 1, 2, 3, 3, 4, 4, 4]
    assert [r["case"].get("legal_aid_org") for r in rows].count(caseload.LEGAL_AID_ORG) == 2
    assert len({r["external_id"] for r in rows}) == 8
    # The dates move back with n, so the clocks do not all fall due on one day.
    assert rows[1]["case"]["identified_on"] != rows[2]["case"]["identified_on"]


async def test_caseload_bench_produces_its_figures(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    sizes = caseload.SIZES["tiny"]
    result = await caseload.run(
        dev_env.client,
        db_url=f"sqlite:///{tmp_path / 'readmodel.db'}",
        work=tmp_path,
        sizes=sizes,
        log=lambda _: None,
    )
    imported = result["import"]
    # Every row is in the read model, at the stage its acts lead to.
    assert imported["cases"] == sizes.cap and len(imported["files"]) == sizes.cap // sizes.chunk
    assert imported["read_model_stages"] == {
        "identified": 1,
        "application_made": 1,
        "registered": 1,
        "lodged": 2,
        "decided": 3,
    }
    assert imported["read_model_with_legal_aid"] == 2
    for key in ("seconds", "per_s", "worker_rss_mib", "read_model_mib", "seconds_for_aim"):
        assert _number(imported[key]) and imported[key] > 0, key
    # The session's dev server is found by its port, and its memory read.
    assert _number(imported["server_rss_growth_mib"])
    queries = result["supervision"]["queries"]
    assert set(queries) == set(caseload.QUERIES)
    assert all(_number(q["p95_ms"]) and q["p95_ms"] >= q["p50_ms"] > 0 for q in queries.values())
    assert result["supervision"]["visibility_count"]["count"] >= 0
    (only,) = result["storm"]["rounds"]
    assert result["storm"]["cases"] == sizes.storm_cases
    assert _number(only["case"]["seconds"]) and _number(only["noop"]["seconds"])
    on_file = result["sqlite_file_server"]
    assert on_file["cases"] == sizes.file_cap
    assert on_file["temporal_db_bytes_per_case"] > 0
    lines = caseload.format_result(result).splitlines()
    assert lines[-1].startswith("  storm on the caseload: ratio")
    json.loads(json.dumps(result, allow_nan=False))


def test_memory_of_a_process_and_of_none() -> None:
    rss, peak = rig.memory_bytes(os.getpid())
    assert 0 < rss <= peak
    assert rig.memory_bytes(2**22 + 7) == (0, 0)
