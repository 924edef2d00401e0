"""Benchmark: a timer storm, N cases whose labour-market clocks fall due at the same instant.

    .venv/bin/python -m bench.storm [--sizes full|quick|tiny|scale] [--cases N] [--cache C]
                                    [--arm-seconds S] [--rounds R] [--json-out PATH]

A mass registration lodged on one day has its clocks fall due together: in the real packs, at
the same midnight months later. Here the clocks count in seconds: each round writes a copy of
the test pack (`tests/packs/tst-2020.yaml`) under a family of its own whose labour-market period
ends a few seconds after the arming (the instant S), and whose decision clock runs a day longer
(so only the labour-market clock falls due during the run, as in a real storm). N cases are
opened through the import's path (one update-with-start of `act_batch`: application made,
registered and lodged, all dated yesterday, so every clock counts from the same midnight) and
their read-model batches written as the import writes them. The worker that opens them keeps no
sticky cache and stops before the first clock falls due (`ARMING_CACHE`). Once the last has
fallen due, a fresh worker starts: `asylumflow worker` in a process of its own, its sticky
cache sized below N (`ASYLUMFLOW_MAX_CACHED_WORKFLOWS`; the SDK default of 1,000 at bench-scale
size), so every case must be replayed and most again after their projection.

Timed from that worker's first poll until every case is settled in its workflow (its search
attributes show the next clock, written after the projection) and in the read model (the
entitled-but-blocked list holds all N), against N no-op workflows
(`bench.noop.TimerNoopWorkflow`) opened the same way, each woken by one timer at the same
instant S', on a worker process with the same cache. Prints cases/s, the ratio (target <= 2)
and the worker's CPU. No figure is asserted here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.noop import TimerNoopWorkflow
from bench.rig import BenchError, ratio_of, show_ratio, timed_loops
from db.engine import make_engine, migrate
from db.projection import write_projection
from db.supervision import Filters, entitled_blocked
from models.enums import Action, IdentifiedAt
from models.messages import ActionBatch, ActionRequest, CaseInput, ProjectionBatch
from workflows.case import CaseWorkflow, workflow_id
from workflows.search import ALL_SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEST_PACK = ROOT / "tests" / "packs" / "tst-2020.yaml"
TARGET = 2.0
"""The storm may take at most this multiple of the no-op storm's time."""
ACTOR = "bench-storm"
ARM_CONCURRENCY = 16
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Sizes:
    """How many cases a storm wakes, and how long the arming may take."""

    cases: int
    arm_seconds: float
    """From writing the pack to the storm instant: opening all N must fit in it."""
    rounds: int = 1

    @property
    def cache(self) -> int:
        """The worker's sticky cache: a tenth of N, at most the SDK default (1,000)."""
        return min(1000, max(2, self.cases // 10))


SIZES = {
    "scale": Sizes(cases=10_000, arm_seconds=1500),
    "full": Sizes(cases=200, arm_seconds=45),
    "quick": Sizes(cases=60, arm_seconds=15),
    "tiny": Sizes(cases=6, arm_seconds=8),
}


# ---------------------------------------------------------------------------------------------
# Measuring tools


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def storm_pack(directory: Path, family: str, seconds: float) -> int:
    """Write the test pack as `family`, its labour-market clock `seconds` long (whole seconds).

    Clocks in seconds count from the instant their trigger was recorded; the decision clock
    runs a day longer and the appeal clock stays as it is (no decision is taken), so only the
    labour-market clock falls due during the run. Returns the period in seconds.
    """
    pack = yaml.safe_load(TEST_PACK.read_text())
    period = max(1, round(seconds))
    pack.update(
        id=f"{family}-2020",
        family=family,
        title=f"Timer storm pack ({family}), from tst-2020",
        source="bench/storm.py, from tests/packs/tst-2020.yaml",
    )
    for clock in pack["clocks"]:
        if clock["name"] == "labour_market_access":
            clock["period"] = f"{period} seconds"
        elif clock["name"] == "decision":
            clock["period"] = f"{period + 86_400} seconds"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{family}-2020.yaml").write_text(yaml.safe_dump(pack, sort_keys=False))
    return period


@contextlib.contextmanager
def _process(command: list[str], env: dict[str, str], cwd: Path) -> Any:
    """A worker process for the storm; terminated (and waited for) on the way out."""
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


async def _ready(client: Client, queue: str, pid: int) -> None:
    """Wait until process `pid` polls `queue` for workflow tasks (the server lists its poller)."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = await client.workflow_service.describe_task_queue(request)
        if any(p.identity.startswith(f"{pid}@") for p in found.pollers):
            return
        await asyncio.sleep(0.05)
    raise BenchError(f"worker {pid} never polled {queue}")


async def _storm(
    client: Client,
    queue: str,
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    settled: Callable[[], Awaitable[tuple[int, ...]]],
    n: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Start a fresh worker on `queue`; from its first poll, poll `settled` until all are `n`."""
    with _process(command, env, cwd) as worker:
        await _ready(client, queue, worker.pid)
        started = time.perf_counter()
        cpu_before = cpu_seconds(worker.pid)
        first: list[float | None] = []
        progress: list[tuple[float, tuple[int, ...]]] = []
        while True:
            counts = await settled()
            elapsed = time.perf_counter() - started
            progress.append((round(elapsed, 2), counts))
            if not first:
                first = [None] * len(counts)
            for i, count in enumerate(counts):
                if count >= n and first[i] is None:
                    first[i] = elapsed
            if all(t is not None for t in first):
                break
            if elapsed > 3600:
                raise BenchError(f"storm not settled after an hour: {counts} of {n}")
            await asyncio.sleep(POLL_SECONDS)
        cpu = cpu_seconds(worker.pid) - cpu_before
    seconds = max(t for t in first if t is not None)
    per_s = n / seconds if seconds > 0 else None
    share = cpu / seconds if seconds > 0 else None
    out: dict[str, Any] = {
        "seconds": seconds,
        "per_s": per_s,
        "worker_cpu_s": cpu,
        "worker_cpu_share": share,
        "settled_at_s": first,
        # (seconds, counts) at every poll: where a storm starts slowly or tails off.
        "progress": progress,
    }
    log(
        f"  {n} settled in {seconds:.2f} s ({show_ratio(per_s)}/s), worker CPU "
        f"{cpu:.1f} s ({show_ratio(share)} of a core)"
    )
    return out


async def _arm(
    client: Client,
    queue: str,
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    n: int,
    arm: Callable[[int], Awaitable[None]],
    period: float,
) -> tuple[float, float]:
    """Open `n` workflows on a worker of their own, stopped before the first clock falls due.

    `command` and `env` must run that worker without a sticky cache (`ARMING_CACHE`). The first
    clock falls due `period` seconds after the arming begins (once the worker polls). Returns
    (the epoch second the arming began, the seconds it took). The timers then fire with no
    worker polling; the storm's worker finds every one of them due when it starts.
    """
    with _process(command, env, cwd) as worker:
        await _ready(client, queue, worker.pid)
        began = time.time()
        armed_s, _ = await timed_loops(n, ARM_CONCURRENCY, arm)
    if time.time() > began + period - 0.5:
        raise BenchError(f"arming took {armed_s:.1f} s, past the first timer: raise --arm-seconds")
    return began, armed_s


async def _after(instant: float) -> None:
    """Sleep until the epoch second `instant` (already past: return at once)."""
    await asyncio.sleep(max(0.0, instant - time.time()))


# ---------------------------------------------------------------------------------------------
# The two sides


ARMING_CACHE = 0
"""The arming workers keep no sticky cache, so the server never ties a workflow to them.

Had they one, every timer firing after they stopped would be put on the stopped worker's
sticky queue (the server does so even after the SDK's ShutdownWorker call when no worker
polls: temporalio/temporal#7566) and wait there for the sticky schedule-to-start timeout
(10 s, the SDK's default) before moving to the normal queue. Earlier storms measured that
wait on both sides, and a task the fresh worker took from a stopped worker's sticky queue at
that moment was sometimes never answered until its 10-s start-to-close timeout (the "stall"
of session 11; bench/RESULTS.md)."""

FIRED_MARGIN_S = 1.0
"""The storm's worker starts this long after the last timer fired."""


async def case_storm(
    client: Client,
    *,
    db_url: str,
    work: Path,
    family: str,
    sizes: Sizes,
    cache: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """N lodged cases whose labour-market clocks fell due while no worker ran; then one starts."""
    n = sizes.cases
    migrate(db_url)
    engine = make_engine(db_url)
    packs = work / f"packs-{family}"
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    period = storm_pack(packs, family, sizes.arm_seconds)
    # Queue and case ids of this run alone: a second storm on the same server (another round,
    # or `bench.caseload` and this bench in one test session) must neither reach this run's
    # workflows nor be counted with them.
    run = uuid.uuid4().hex[:8]
    queue = f"storm-{family}-{run}"
    env = {
        "DATABASE_URL": db_url,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "ASYLUMFLOW_TASK_QUEUE": queue,
        "ASYLUMFLOW_SEARCH_ATTRIBUTES": "true",
        "ASYLUMFLOW_EXTRA_PACKS": str(packs),
        "ASYLUMFLOW_MAX_CACHED_WORKFLOWS": str(cache),
    }
    command = [str(BIN / "asylumflow"), "worker"]
    acts = ActionBatch(
        actions=[
            ActionRequest(action=a, body={"on": yesterday.isoformat()}, actor=ACTOR)
            for a in (Action.MAKE_APPLICATION, Action.REGISTER, Action.LODGE)
        ],
        project=True,
    )

    def store(raw: Any) -> None:
        with Session(engine) as session:
            write_projection(session, ProjectionBatch.model_validate(raw))
            session.commit()

    async def arm(i: int) -> None:
        case_id = f"{family}-{run}-{i}"
        view = await client.execute_update_with_start_workflow(
            CaseWorkflow.act_batch,
            acts,
            start_workflow_operation=WithStartWorkflowOperation(
                CaseWorkflow.run,
                CaseInput.opening(
                    case_id,
                    family,
                    yesterday,
                    identified_at=IdentifiedAt.BORDER,
                    actor=ACTOR,
                    caller_projects=True,
                    search_attributes=True,
                ),
                id=workflow_id(case_id),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                task_queue=queue,
            ),
        )
        await asyncio.to_thread(store, view["projection"])

    async def settled() -> tuple[int, int]:
        woken = await client.count_workflows(
            f"TaskQueue = '{queue}' AND NextDeadlineClock = 'decision'"
        )
        listed = await asyncio.to_thread(
            lambda: entitled_blocked(engine, Filters(jurisdiction=family), today=today, limit=1)
        )
        return woken.count, listed.total

    try:
        # The clocks count from each lodging's recorded instant (seconds packs): the first
        # falls due `period` after the arming starts, the last `period` after it ends.
        arming_env = {**env, "ASYLUMFLOW_MAX_CACHED_WORKFLOWS": str(ARMING_CACHE)}
        began, armed_s = await _arm(client, queue, command, arming_env, work, n, arm, period)
        log(f"cases: {n} armed in {armed_s:.1f} s, worker cache {cache}")
        await _after(began + armed_s + period + FIRED_MARGIN_S)
        out = await _storm(client, queue, command, env, work, settled, n, log)
    finally:
        engine.dispose()
    out["armed_per_s"] = n / armed_s
    return out


async def noop_storm(
    client: Client, *, work: Path, tag: str, sizes: Sizes, cache: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """N no-op workflows, opened the same way, their timers fired while no worker ran."""
    n = sizes.cases
    # Fixed by the first opening (once the arming worker polls): every no-op's timer falls
    # due at that instant + the arm window.
    wake: list[datetime] = []
    run = uuid.uuid4().hex[:8]  # as in `case_storm`: this run's queue and ids alone
    queue = f"storm-noop-{tag}-{run}"
    env = {"TEMPORAL_ADDRESS": client.service_client.config.target_host}

    def worker(sticky_cache: int) -> list[str]:
        """The no-op worker process's command line, with this sticky cache."""
        return [
            *(sys.executable, "-m", "bench.storm", "--noop-worker", queue),
            *("--cache", str(sticky_cache)),
        ]

    async def arm(i: int) -> None:
        if not wake:
            wake.append(datetime.now(UTC) + timedelta(seconds=sizes.arm_seconds))
        await client.execute_update_with_start_workflow(
            TimerNoopWorkflow.touch,
            {},
            start_workflow_operation=WithStartWorkflowOperation(
                TimerNoopWorkflow.run,
                wake[0].isoformat(),
                id=f"storm-noop-{tag}-{run}-{i}",
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                task_queue=queue,
            ),
        )

    async def settled() -> tuple[int]:
        done = await client.count_workflows(
            f"TaskQueue = '{queue}' AND ExecutionStatus = 'Completed'"
        )
        return (done.count,)

    _, armed_s = await _arm(
        client, queue, worker(ARMING_CACHE), env, ROOT, n, arm, sizes.arm_seconds
    )
    log(f"no-op: {n} armed in {armed_s:.1f} s, worker cache {cache}")
    await _after(wake[0].timestamp() + FIRED_MARGIN_S)
    out = await _storm(client, queue, worker(cache), env, ROOT, settled, n, log)
    out["armed_per_s"] = n / armed_s
    return out


async def run(
    client: Client,
    *,
    db_url: str,
    work: Path,
    sizes: Sizes,
    cache: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`sizes.rounds` storms of each side, alternating which goes first; the figures."""
    cache = cache or sizes.cache
    load_before = os.getloadavg()[0]
    rounds: list[dict[str, Any]] = []
    for r in range(sizes.rounds):
        family = "storm" + "abcdefghij"[r % 10]
        sides: dict[str, dict[str, Any]] = {}
        for side in ("case", "noop") if r % 2 == 0 else ("noop", "case"):
            if side == "case":
                sides[side] = await case_storm(
                    client,
                    db_url=db_url,
                    work=work,
                    family=family,
                    sizes=sizes,
                    cache=cache,
                    log=log,
                )
            else:
                sides[side] = await noop_storm(
                    client, work=work, tag=family, sizes=sizes, cache=cache, log=log
                )
        sides["ratio"] = {"seconds": ratio_of(sides["case"]["seconds"], sides["noop"]["seconds"])}
        rounds.append(sides)
    ratios = sorted(r["ratio"]["seconds"] for r in rounds if r["ratio"]["seconds"] is not None)
    median = ratios[len(ratios) // 2] if ratios else None
    return {
        "cases": sizes.cases,
        "cache": cache,
        "rounds": rounds,
        "ratio": median,
        "target": TARGET,
        "loadavg_1min": [load_before, os.getloadavg()[0]],
    }


def format_result(result: dict[str, Any]) -> str:
    """The figures as a few fixed-width lines."""
    ratio = result["ratio"]
    verdict = "ok" if ratio is not None and ratio <= result["target"] else "MISS"
    lines = [
        f"timer storm: {result['cases']} cases, worker cache {result['cache']}, "
        f"{len(result['rounds'])} round(s), load {result['loadavg_1min'][0]:.1f} -> "
        f"{result['loadavg_1min'][1]:.1f}",
        "  side                  seconds   cases/s  worker CPU s  CPU/wall",
    ]
    for r in result["rounds"]:
        for side, name in (("case", "labour-market clocks"), ("noop", "no-op timers")):
            s = r[side]
            lines.append(
                f"  {name:<20} {s['seconds']:8.2f} {show_ratio(s['per_s']):>9} "
                f"{s['worker_cpu_s']:13.1f} {show_ratio(s['worker_cpu_share']):>9}"
            )
    lines.append(f"  ratio {show_ratio(ratio)} (target <= {result['target']:.0f}) {verdict}")
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def fresh_server(db_file: Path | None = None) -> AsyncIterator[Client]:
    """A local dev server with the case search attributes; stopped on the way out.

    In memory, or persisting to `db_file` (`--db-filename`, as `make run` deploys it).
    """
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
        dev_server_extra_args=["--db-filename", str(db_file)] if db_file else [],
    )
    try:
        yield env.client
    finally:
        await env.shutdown()


async def run_on_fresh_server(
    sizes: Sizes, cache: int | None, log: Callable[[str], None]
) -> dict[str, Any]:
    """Start a dev server in memory and a temp read model, run, stop."""
    with tempfile.TemporaryDirectory(prefix="asylumflow-bench-storm-") as tmp:
        async with fresh_server() as client:
            return await run(
                client,
                db_url=f"sqlite:///{Path(tmp) / 'readmodel.db'}",
                work=Path(tmp),
                sizes=sizes,
                cache=cache,
                log=log,
            )


async def _noop_worker(queue: str, cache: int) -> None:
    """The no-op side's worker process: the SDK's worker with the same cache as the case one."""
    client = await Client.connect(
        os.environ["TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter
    )
    async with Worker(
        client, task_queue=queue, workflows=[TimerNoopWorkflow], max_cached_workflows=cache
    ):
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Run on a fresh dev server, print the figures, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="bench.storm", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", choices=sorted(SIZES), default="full")
    parser.add_argument("--cases", type=int, default=None, help="N (overrides the size's)")
    parser.add_argument("--cache", type=int, default=None, help="the workers' sticky cache")
    parser.add_argument("--arm-seconds", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--json-out", type=Path, default=None, help="write the figures here")
    parser.add_argument("--noop-worker", metavar="QUEUE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.noop_worker:
        with contextlib.suppress(KeyboardInterrupt):
            cache = 1000 if args.cache is None else args.cache
            asyncio.run(_noop_worker(args.noop_worker, cache))
        return 0
    base = SIZES[args.sizes]
    sizes = Sizes(
        cases=args.cases or base.cases,
        arm_seconds=args.arm_seconds or base.arm_seconds,
        rounds=args.rounds or base.rounds,
    )

    def log(line: str) -> None:
        print(f"[storm] {line}", file=sys.stderr, flush=True)

    result = asyncio.run(run_on_fresh_server(sizes, args.cache, log))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2))
    print(format_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
