"""Benchmark: what a cached case costs a worker (memory) and what replaying one costs (CPU).

    .venv/bin/python -m bench.cache_cost [--sizes full|quick|tiny] [--parts memory,heap,replay]
        [--json-out PATH]

The two figures of issue 18 that depend on the workflow's code rather than on the API, measured
alone (without `bench.engine`'s creation and latency parts) so that they can be repeated and
interleaved between two checkouts in little time. On a fresh in-memory dev server:

1. worker RSS per 1,000 cached cases against the no-op's (`bench.measures.measure_memory`);
2. the Python heap per cached case, by tracemalloc, against the no-op's, split into what the
   sandbox's per-run imports allocate and the rest, and the modules the sandbox holds a copy of
   for every cached run;
3. CPU time (process time: every thread of this process) per replay of an integration
   history against the no-op's replay of a history with the same number of calls, the two
   alternating round by round (median of the rounds).

To measure another checkout with the same code, copy this file into its `bench/` and run it from
there (`python -m` puts the working directory first on the path; the JSON names the
`workflows/case.py` it imported). Where `PYTHONDONTWRITEBYTECODE` is set and no bytecode is on
disk (this environment), the sandbox compiles the workflow module from source for every run,
which a deployment never does (`make run` compiles first): for replay CPU as deployed, unset it
and point `PYTHONPYCACHEPREFIX` at a directory of the run's own.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
import types
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, Worker

from bench.engine import open_rig
from bench.measures import (
    _integration_steps,
    _lifecycle,
    _noop_lifecycle,
    measure_memory,
    replayers,
)
from bench.noop import NoopWorkflow
from bench.rig import SIZES, Rig, Sizes, ratio_of
from bench.storm import fresh_server
from models.deadline_memo import DEADLINE_MEMO
from worker import build_worker

HEAP_CASES = {"full": 200, "quick": 40, "tiny": 8}
"""Workflows of each kind cached while tracemalloc traces (it slows everything down)."""

REPLAY_ROUNDS = {"full": 7, "quick": 3, "tiny": 1}


def _memo_kib() -> tuple[int, float]:
    """Entries of the process-wide deadline memo and what its results hold (tuples, models).

    The keys' parts are the cases' own objects (shared, not counted); the key tuples and the
    result lists with their `Deadline` models are the memo's own.
    """
    size = 0
    for key, found in DEADLINE_MEMO.items():
        size += sys.getsizeof(key) + sys.getsizeof(found)
        size += sum(sys.getsizeof(d) + sys.getsizeof(d.__dict__) for d in found)
    return len(DEADLINE_MEMO), size / 1024


def _modules() -> Counter[str]:
    return Counter(m.__name__ for m in gc.get_objects() if isinstance(m, types.ModuleType))


async def measure_heap(rig: Rig, n: int) -> dict[str, Any]:
    """Python heap per cached case and per cached no-op, by tracemalloc, on fresh workers."""
    case_queue, noop_queue = f"heap-cases-{rig.tag}", f"heap-noop-{rig.tag}"
    prefix = f"bench-{rig.tag}-heap"
    out: dict[str, Any] = {"cached": n}
    async with (
        build_worker(rig.client, case_queue, rig.engine),
        Worker(rig.client, task_queue=noop_queue, workflows=[NoopWorkflow]),
    ):
        for i in range(4):  # one-off imports and connections, before tracing
            await rig.raw_case_create(f"{prefix}w{i}", case_queue)
            await rig.noop_create(f"{prefix}-noop-w{i}", noop_queue)
        tracemalloc.start(40)
        try:
            for kind in ("noop", "case"):
                modules_before = _modules()
                gc.collect()
                before = tracemalloc.take_snapshot()
                for i in range(n):
                    if kind == "case":
                        await rig.raw_case_create(f"{prefix}c{i}", case_queue)
                    else:
                        await rig.noop_create(f"{prefix}-noop-{i}", noop_queue)
                await asyncio.sleep(0.5)
                gc.collect()
                after = tracemalloc.take_snapshot()
                grown = [s for s in after.compare_to(before, "traceback") if s.size_diff > 0]
                total = sum(s.size_diff for s in grown)
                imports = sum(
                    s.size_diff
                    for s in grown
                    if any("importlib" in frame.filename for frame in s.traceback)
                )
                by_file: Counter[str] = Counter()
                for stat in after.compare_to(before, "filename"):
                    by_file[stat.traceback[0].filename] += stat.size_diff
                copies = _modules() - modules_before
                out[kind] = {
                    "kib_per_cached": total / n / 1024,
                    "imports_kib_per_cached": imports / n / 1024,
                    "rest_kib_per_cached": (total - imports) / n / 1024,
                    "top_files_kib_per_cached": {
                        name: size / n / 1024 for name, size in by_file.most_common(8)
                    },
                    # Modules the sandbox re-imported for (nearly) every run.
                    "modules_copied_per_run": sorted(
                        name for name, count in copies.items() if count >= n * 0.9
                    ),
                }
        finally:
            tracemalloc.stop()
    out["ratio"] = ratio_of(out["case"]["kib_per_cached"], out["noop"]["kib_per_cached"])
    # Bounded for the whole process (`models.deadline_memo.MEMO_SIZE`), not per cached case.
    out["deadline_memo_entries"], out["deadline_memo_kib"] = _memo_kib()
    return out


async def _replay_cpu_ms(replayer: Replayer, runs: list[WorkflowHistory], repeats: int) -> float:
    """Process CPU ms per replay of `runs` (every run once), averaged over `repeats`."""
    started = time.process_time()
    for _ in range(repeats):
        for history in runs:
            await replayer.replay_workflow(history, raise_on_replay_failure=True)
    return (time.process_time() - started) * 1000 / repeats


async def measure_replay(rig: Rig, rounds: int, repeats: int) -> dict[str, Any]:
    """CPU per replay of an integration history against a no-op history of as many calls."""
    runs, calls = await _lifecycle(rig, _integration_steps(rig))
    noop_runs = await _noop_lifecycle(rig, calls)
    case_replayer, noop_replayer = replayers()
    # The sandbox imports its modules on the first replay of each.
    await _replay_cpu_ms(case_replayer, runs, 1)
    await _replay_cpu_ms(noop_replayer, noop_runs, 1)
    case_ms: list[float] = []
    noop_ms: list[float] = []
    for i in range(rounds):
        # Alternate which side goes first, so a change in the machine's load hits both.
        order = [(case_replayer, runs, case_ms), (noop_replayer, noop_runs, noop_ms)]
        for replayer, histories, samples in order if i % 2 == 0 else order[::-1]:
            samples.append(await _replay_cpu_ms(replayer, histories, repeats))
    case, noop = statistics.median(case_ms), statistics.median(noop_ms)
    return {
        "events": sum(len(r.events) for r in runs),
        "noop_events": sum(len(r.events) for r in noop_runs),
        "calls": calls,
        "case_cpu_ms": case,
        "noop_cpu_ms": noop,
        "ratio": ratio_of(case, noop),
        "case_rounds": case_ms,
        "noop_rounds": noop_ms,
    }


PARTS = ("memory", "heap", "replay")


async def run(
    client: Client, db_url: str, sizes: Sizes, size_name: str, parts: Sequence[str] = PARTS
) -> dict[str, Any]:
    """Memory, heap and replay (or some of them) against `client`'s server, fresh read model."""
    async with open_rig(client, db_url, api_process=False) as rig:
        out: dict[str, Any] = {}
        if "memory" in parts:
            out["memory"] = await measure_memory(
                rig, sizes, lambda line: print(line, file=sys.stderr)
            )
        if "heap" in parts:
            out["heap"] = await measure_heap(rig, HEAP_CASES[size_name])
        if "replay" in parts:
            async with (
                build_worker(client, rig.settings.task_queue, rig.engine),
                Worker(client, task_queue=rig.noop_queue, workflows=[NoopWorkflow]),
            ):
                out["replay"] = await measure_replay(rig, REPLAY_ROUNDS[size_name], sizes.replays)
    return out


async def run_on_fresh_server(size_name: str, parts: Sequence[str] = PARTS) -> dict[str, Any]:
    """Start an in-memory dev server, measure, stop it."""
    with tempfile.TemporaryDirectory(prefix="asylumflow-cache-cost-") as tmp:
        async with fresh_server() as client:
            db_url = f"sqlite:///{Path(tmp) / 'readmodel.db'}"
            return await run(client, db_url, SIZES[size_name], size_name, parts)


def main(argv: list[str] | None = None) -> int:
    """Run once, print the figures as JSON (and write them with `--json-out`)."""
    parser = argparse.ArgumentParser(prog="bench.cache_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", choices=sorted(SIZES), default="full")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated, of memory, heap, replay (default: all three)",
    )
    parser.add_argument("--json-out", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts: {sorted(unknown)}")
    import workflows.case

    result = {
        "code": workflows.case.__file__,
        **asyncio.run(run_on_fresh_server(args.sizes, parts)),
    }
    text = json.dumps(result, indent=2)
    if args.json_out is not None:
        args.json_out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
