"""Benchmark: `asylumflow simulate` against its ceiling on the time-skipping test server.

    .venv/bin/python -m bench.simulator [--sizes full|quick|tiny] [--json-out PATH]

Runs the what-if simulator (`tools.simulate.run_simulation`) on a fresh time-skipping test
server and counts its calls (workflow starts, updates, queries); then, on another fresh one,
drives no-op workflows (`bench.noop.NoopWorkflow`, unsandboxed as the simulator's worker is)
with the same calls week by week, at the same concurrency, with the same time skipping: the
server's and SDK's ceiling for that traffic. Prints cases simulated per second for both and
simulator ÷ ceiling. Target: >= 50 cases/s, or the ceiling. No figure is asserted here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.noop import NoopWorkflow
from bench.rig import ratio_of, show_ratio
from tools import sim_output
from tools.simulate import CONCURRENCY, SimulationConfig, run_simulation

TARGET = 50.0
"""Cases simulated per second (or the ceiling, if that is lower)."""

SIZES = {
    "full": SimulationConfig(pack="rs", arrivals_per_week=40, weeks=12),
    "quick": SimulationConfig(pack="rs", arrivals_per_week=20, weeks=6),
    "tiny": SimulationConfig(pack="rs", arrivals_per_week=4, weeks=2),
}


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Count the client calls made inside: workflow starts, updates and queries."""
    calls: Counter[str] = Counter()
    start, update, query = (
        Client.start_workflow,
        WorkflowHandle.execute_update,
        WorkflowHandle.query,
    )

    def wrap(name: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return await method(*args, **kwargs)

        return counted

    with (
        mock.patch.object(Client, "start_workflow", wrap("start", start)),
        mock.patch.object(WorkflowHandle, "execute_update", wrap("update", update)),
        mock.patch.object(WorkflowHandle, "query", wrap("query", query)),
    ):
        yield calls


async def ceiling(config: SimulationConfig, calls: Counter[str]) -> float:
    """Seconds the no-op workflows take for the same calls, spread over the same weeks."""
    server = Path(sys.executable).parent / "temporal-test-server"
    # Timed from the server's start to its stop, as the simulator's run is.
    started = time.perf_counter()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(server)
    )
    queue = f"sim-ceiling-{uuid.uuid4().hex[:8]}"
    gate = asyncio.Semaphore(CONCURRENCY)
    handles: list[WorkflowHandle[Any, Any]] = []

    async def bounded(work: Awaitable[Any]) -> None:
        async with gate:
            await work

    async def start() -> None:
        handles.append(
            await env.client.start_workflow(
                NoopWorkflow.run,
                id=f"{queue}-{len(handles)}-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
        )

    def share(name: str, week: int) -> int:
        total, weeks = calls[name], config.weeks
        return total // weeks + (1 if week < total % weeks else 0)

    try:
        worker = Worker(
            env.client,
            task_queue=queue,
            workflows=[NoopWorkflow],
            workflow_runner=UnsandboxedWorkflowRunner(),
            max_cached_workflows=max(1000, calls["start"] + 100),
            max_concurrent_workflow_tasks=CONCURRENCY * 2,
        )
        async with worker:
            for week in range(config.weeks):
                await env.sleep(timedelta(weeks=1))
                await asyncio.gather(*(bounded(start()) for _ in range(share("start", week))))
                n = len(handles)
                await asyncio.gather(
                    *(
                        bounded(handles[i % n].execute_update(NoopWorkflow.touch, {}))
                        for i in range(share("update", week))
                    )
                )
                await asyncio.gather(
                    *(
                        bounded(handles[i % n].query(NoopWorkflow.touched))
                        for i in range(share("query", week))
                    )
                )
    finally:
        await env.shutdown()
    return time.perf_counter() - started


@contextmanager
def timing_outputs() -> Iterator[list[float]]:
    """Seconds the simulator spends writing its CSVs and drawing its charts (one entry a run).

    Work the ceiling has no counterpart for (it writes nothing): shown beside the whole run,
    which stays the headline figure, so that the two can be told apart.
    """
    spent: list[float] = []
    write = sim_output.write_outputs

    def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return write(*args)
        finally:
            spent.append(time.perf_counter() - started)

    # Where `tools.simulate` looks the function up (it imported the name).
    with mock.patch("tools.simulate.write_outputs", timed):
        yield spent


async def run(config: SimulationConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The simulator, then its ceiling; the figures."""
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="asylumflow-bench-sim-") as tmp,
        counting() as calls,
        timing_outputs() as outputs,
    ):
        started = time.perf_counter()
        await run_simulation(config, Path(tmp))
        sim_s = time.perf_counter() - started
    outputs_s = sum(outputs)
    cases = config.arrivals_per_week * config.weeks
    log(
        f"simulator: {cases} cases in {sim_s:.1f} s ({outputs_s:.1f} s of it writing the CSVs "
        f"and charts), calls {dict(calls)}"
    )
    noop_s = await ceiling(config, calls)
    log(f"ceiling: the same calls on no-op workflows in {noop_s:.1f} s")
    sim_rate, noop_rate = cases / sim_s, cases / noop_s
    return {
        "cases": cases,
        "weeks": config.weeks,
        "calls": dict(calls),
        "simulator_s": sim_s,
        "simulator_per_s": sim_rate,
        "outputs_s": outputs_s,
        # Without the files it writes, which the ceiling does not: the simulation proper.
        "simulation_only_per_s": cases / (sim_s - outputs_s),
        "simulation_only_ratio": ratio_of(cases / (sim_s - outputs_s), noop_rate),
        "ceiling_s": noop_s,
        "ceiling_per_s": noop_rate,
        "ratio": ratio_of(sim_rate, noop_rate),
        "target_per_s": min(TARGET, noop_rate),
        "loadavg_1min": [load_before, os.getloadavg()[0]],
    }


def format_result(result: dict[str, Any]) -> str:
    """The figures as a few fixed-width lines."""
    ok = result["simulator_per_s"] >= result["target_per_s"]
    return "\n".join(
        [
            f"simulator: {result['cases']} cases over {result['weeks']} weeks, calls "
            f"{result['calls']}, load {result['loadavg_1min'][0]:.1f} -> "
            f"{result['loadavg_1min'][1]:.1f}",
            f"  asylumflow simulate                 {result['simulator_per_s']:8.1f} cases/s",
            f"  no-op workflows, same calls         {result['ceiling_per_s']:8.1f} cases/s",
            f"  (the simulation without writing its files: "
            f"{result['simulation_only_per_s']:.1f} cases/s, "
            f"{show_ratio(result['simulation_only_ratio'])} of the ceiling)",
            f"  simulator / ceiling {show_ratio(result['ratio'])} (target >= "
            f"{result['target_per_s']:.1f} cases/s) {'ok' if ok else 'MISS'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run both, print the figures, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="bench.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", choices=sorted(SIZES), default="full")
    parser.add_argument("--json-out", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(f"[simulator] {line}", file=sys.stderr, flush=True)

    result = asyncio.run(run(SIZES[args.sizes], log))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2))
    print(format_result(result))
    sys.stdout.flush()
    # As the CLI does: a Temporal client can crash the interpreter at exit (sdk-python#300).
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
