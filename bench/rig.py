"""The benchmark's rig: the app, the workers' queues and the database, and small measuring tools.

`Rig` drives both sides of every comparison: asylumflow (through the API, or its workflow's
Update raw) and the baseline (`bench.noop.NoopWorkflow`) on the same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import math
import os
import resource
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn

import httpx
from sqlalchemy.engine import Engine
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy

from bench.noop import NoopWorkflow
from core.settings import Settings
from models.enums import Action, IdentifiedAt
from models.messages import ActionRequest, CaseInput, Refresh
from workflows.case import CaseWorkflow, workflow_id

USER = "bench-caseworker"
JURISDICTION = "rs"


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    cases: dict[int, int]
    """Cases created per concurrency level, per variant."""
    actions: int
    """Timed actions (and no-op Updates) on one case."""
    memory_cases: int
    """Cases (and no-op workflows) held in a worker's cache for the memory figure."""
    replays: int
    """Timed replays of each history (the median is reported)."""
    rounds: int = 1
    """Each variant's work is split into this many rounds, interleaved with the other variants',
    so a machine that gets busier or quieter during the run shifts both sides of a ratio."""
    warmup: int = 5


SIZES = {
    # At most ~920 cases stay running on the measuring worker: under its default cache of 1,000
    # workflows, so no eviction is measured by accident.
    "full": Sizes(
        cases={1: 30, 8: 120, 32: 300}, actions=200, memory_cases=600, replays=5, rounds=3
    ),
    "quick": Sizes(cases={1: 6, 8: 16, 32: 64}, actions=20, memory_cases=60, replays=2, rounds=2),
    "tiny": Sizes(cases={1: 2, 8: 8, 32: 32}, actions=4, memory_cases=16, replays=1, warmup=1),
}


class BenchError(RuntimeError):
    """The system under test answered something other than success."""


# ---------------------------------------------------------------------------------------------
# Small measuring tools


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q from 0 to 100) of a non-empty sample."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def memory_bytes(pid: int | str) -> tuple[int, int]:
    """Resident and peak resident bytes of process `pid` ("self": this one).

    From Linux's `VmRSS` and `VmHWM`; (0, 0) where /proc has no such process.
    """
    found = {"VmRSS:": 0, "VmHWM:": 0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            fields = line.split()
            if fields and fields[0] in found:
                found[fields[0]] = int(fields[1]) * 1024
    return found["VmRSS:"], found["VmHWM:"]


def rss_bytes() -> int:
    """The process's resident set size now (Linux `VmRSS`; peak RSS elsewhere)."""
    if resident := memory_bytes("self")[0]:
        return resident
    # Not Linux: peak RSS is the best the standard library offers (KiB on Linux, bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def settled_rss() -> int:
    """RSS after collecting garbage and handing freed heap back to the OS.

    Without the trim, memory freed by an earlier phase stays resident and hides (or inflates)
    what the cached workflows really hold.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_bytes()


Op = Callable[[int], Awaitable[None]]


async def timed_loops(n: int, concurrency: int, op: Op) -> tuple[float, list[float]]:
    """Run `op(0..n-1)` on `concurrency` concurrent loops; returns (seconds, latencies)."""
    counter = itertools.count()
    latencies: list[float] = []

    async def loop() -> None:
        while (i := next(counter)) < n:
            started = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(min(concurrency, n))))
    return time.perf_counter() - started, latencies


async def interleaved(
    ops: dict[str, Op], n: int, concurrency: int, rounds: int
) -> dict[str, tuple[float, list[float]]]:
    """Each op `n` times, in `rounds` interleaved rounds; (ops per second, latencies) per op."""
    elapsed = dict.fromkeys(ops, 0.0)
    latencies: dict[str, list[float]] = {name: [] for name in ops}
    names = list(ops)
    for r in range(rounds):
        chunk = n // rounds + (1 if r < n % rounds else 0)
        # Rotated each round, so no op always runs right after the same other one.
        for name in names[r % len(names) :] + names[: r % len(names)]:
            seconds, lat = await timed_loops(chunk, concurrency, ops[name])
            elapsed[name] += seconds
            latencies[name] += lat
    return {name: (n / elapsed[name], latencies[name]) for name in ops}


def json_poster(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], body: dict[str, Any]
) -> Op:
    """An op that POSTs `body` to `path` and fails the benchmark on any answer but 200."""

    async def post(_: int) -> None:
        response = await http.post(path, json=body, headers=headers)
        if response.status_code != 200:
            raise BenchError(f"{path}: {response.status_code} {response.text}")

    return post


def serve_then_exit(factory: str, *, loop: str = "auto", http: str = "auto") -> NoReturn:
    """Serve the app `factory` as `asylumflow api` does, then end the process as the CLI does."""
    from tools.cli import serve

    serve(factory, loop=loop, http=http)
    # A Temporal client can crash the interpreter at exit (sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_and_report(
    work: Coroutine[Any, Any, dict[str, Any]],
    json_out: Path | None,
    table: Callable[[dict[str, Any]], str],
) -> int:
    """Run a benchmark's `work`, add its seconds, write its JSON if asked, print its table."""
    started = time.perf_counter()
    result = asyncio.run(work)
    result["seconds"] = time.perf_counter() - started
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2))
    print(table(result))
    return 0


def latency_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of latencies in seconds, in milliseconds."""
    return {f"p{q}": percentile(samples, q) * 1000 for q in (50, 95, 99)}


def ratio_of(value: float, baseline: float) -> float | None:
    """The ratio; None where the baseline is not positive (a memory delta within noise)."""
    return value / baseline if baseline > 0 else None


def show_ratio(ratio: float | None) -> str:
    """A ratio as the table and the log show it (`n/a` where there is none)."""
    return "n/a" if ratio is None else f"{ratio:.2f}"


# ---------------------------------------------------------------------------------------------
# The system under test


@dataclass
class Rig:
    """The app, the workers' task queues and the database of one benchmark run."""

    client: Client
    engine: Engine
    settings: Settings
    http: httpx.AsyncClient
    floor_http: httpx.AsyncClient
    headers: dict[str, str]
    noop_queue: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    today: date = field(default_factory=date.today)
    serial: Iterator[int] = field(default_factory=itertools.count)

    def ago(self, days: int) -> str:
        """An ISO date `days` before today."""
        return (self.today - timedelta(days=days)).isoformat()

    def new_id(self, kind: str) -> str:
        """A fresh id, unique across runs on the same server."""
        return f"bench-{self.tag}-{kind}{next(self.serial)}"

    # The asylumflow side ------------------------------------------------------------------

    async def api_create(self, identified_days_ago: int = 3) -> dict[str, Any]:
        """`POST /cases` as a caseworker; a distinct person each time."""
        n = next(self.serial)
        body = {
            "jurisdiction": JURISDICTION,
            "person": {
                "given_name": f"Bench{n}",
                "family_name": f"Person{self.tag}{n}",
                "date_of_birth": (date(1960, 1, 1) + timedelta(days=37 * n % 20000)).isoformat(),
                "nationality": "SYR",
                "sex": "unknown",
            },
            "identified_on": self.ago(identified_days_ago),
            "identified_at": "border",
        }
        response = await self.http.post("/cases", json=body, headers=self.headers)
        if response.status_code != 201:
            raise BenchError(f"POST /cases: {response.status_code} {response.text}")
        view: dict[str, Any] = response.json()
        return view

    async def api_act(self, case_id: str, action: str, **body: Any) -> dict[str, Any]:
        """`POST /cases/{id}/actions/{action}`; anything but 200 is an error."""
        response = await self.http.post(
            f"/cases/{case_id}/actions/{action}", json=body, headers=self.headers
        )
        if response.status_code != 200:
            raise BenchError(f"{action}: {response.status_code} {response.text}")
        view: dict[str, Any] = response.json()
        return view

    def case_input(self, case_id: str, identified_days_ago: int = 3) -> CaseInput:
        """The input `POST /cases` starts a case workflow with."""
        return CaseInput.opening(
            case_id,
            JURISDICTION,
            self.today - timedelta(days=identified_days_ago),
            identified_at=IdentifiedAt.BORDER,
            actor=USER,
            caller_projects=True,
            **self.settings.workflow_options(),
        )

    async def raw_case_create(self, case_id: str, task_queue: str | None = None) -> None:
        """The API's update-with-start of `CaseWorkflow`, without HTTP, auth, SQL or audit.

        As the API, it asks for the read-model batch back (and, unlike it, does not write it).
        """
        await self.client.execute_update_with_start_workflow(
            CaseWorkflow.refresh,
            Refresh(project=True),
            start_workflow_operation=WithStartWorkflowOperation(
                CaseWorkflow.run,
                self.case_input(case_id),
                id=workflow_id(case_id),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                task_queue=task_queue or self.settings.task_queue,
            ),
        )

    async def raw_act(self, case_id: str, action: Action, body: dict[str, Any]) -> None:
        """The API's `act` Update, sent straight from the client (the batch is not written)."""
        handle = self.client.get_workflow_handle(workflow_id(case_id))
        await handle.execute_update(
            CaseWorkflow.act, ActionRequest(action=action, body=body, actor=USER, project=True)
        )

    # The baseline -------------------------------------------------------------------------

    async def noop_create(self, wf_id: str, task_queue: str | None = None) -> None:
        """A raw update-with-start of the no-op workflow (the Temporal work of a creation)."""
        await self.client.execute_update_with_start_workflow(
            NoopWorkflow.touch,
            {},
            start_workflow_operation=WithStartWorkflowOperation(
                NoopWorkflow.run,
                id=wf_id,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                task_queue=task_queue or self.noop_queue,
            ),
        )

    async def floor_touch(self, wf_id: str, body: dict[str, Any]) -> None:
        """The app's fixed cost around a no-op Update (`bench.floor`); only 200 is success."""
        response = await self.floor_http.post(
            f"/cases/{wf_id}/floor", json=body, headers=self.headers
        )
        if response.status_code != 200:
            raise BenchError(f"floor: {response.status_code} {response.text}")

    async def noop_start(self, wf_id: str) -> None:
        """A raw `start_workflow` of the no-op workflow (the server only; no worker round trip)."""
        await self.client.start_workflow(NoopWorkflow.run, id=wf_id, task_queue=self.noop_queue)

    async def noop_touch(self, wf_id: str, body: dict[str, Any]) -> None:
        """A raw no-op Update round trip."""
        await self.client.get_workflow_handle(wf_id).execute_update(NoopWorkflow.touch, body)

    async def histories(self, wf_id: str) -> list[WorkflowHistory]:
        """Every run's history of a workflow, first run first (following continue-as-new)."""
        latest = await self.client.get_workflow_handle(wf_id).fetch_history()
        started = latest.events[0].workflow_execution_started_event_attributes
        run_id: str | None = started.first_execution_run_id
        runs: list[WorkflowHistory] = []
        while run_id:
            history = await self.client.get_workflow_handle(wf_id, run_id=run_id).fetch_history()
            runs.append(history)
            last = history.events[-1]
            run_id = None
            if last.HasField("workflow_execution_continued_as_new_event_attributes"):
                attrs = last.workflow_execution_continued_as_new_event_attributes
                run_id = attrs.new_execution_run_id
        return runs
