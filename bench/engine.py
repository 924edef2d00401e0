"""Benchmark: the case engine against a no-op workflow on the same Temporal server, in one run.

    .venv/bin/python -m bench.engine [--sizes full|quick|tiny] [--db-file] [--json-out PATH]

Starts a local dev server (in memory, or persisting to a temp SQLite file with `--db-file`), a
real worker and the FastAPI app over ASGI, and measures, each beside a baseline from the same
server and process (`bench/RESULTS.md` explains the figures):

1. case creation throughput, `POST /cases` vs a raw update-with-start of `bench.noop.NoopWorkflow`,
   at several concurrencies (plus raw `start_workflow` and a raw update-with-start of
   `CaseWorkflow` without the API, to split the cost);
2. action latency, `POST /cases/{id}/actions/record_contact` on one case vs a raw no-op Update;
3. cost per case: history events of a whole lifecycle, worker RSS per 1,000 cached cases, and the
   replay time of one case history.

No figure is asserted here; `bench.__main__` runs this once per server mode and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from api.app import create_app
from bench.floor import create_floor_app
from bench.noop import NoopWorkflow
from core.settings import Settings
from db.engine import make_engine, migrate
from db.users import Role, create_user
from models.enums import Action, IdentifiedAt
from models.messages import ActionRequest, CaseInput, Refresh
from worker import ALL_WORKFLOWS, PASSTHROUGH, build_worker
from workflows.case import CaseWorkflow, workflow_id
from workflows.search import ALL_SEARCH_ATTRIBUTES

BIN = Path(sys.executable).parent

CREATION_TARGET = 0.7
"""Case creation through the API must reach this share of the no-op throughput."""

ACTION_TARGET = 1.5
"""An action's p50 through the API may take at most this multiple of a no-op Update's."""

EVENTS_TARGET = 500
"""A whole lifecycle must stay under this many history events (all runs together)."""

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


def rss_bytes() -> int:
    """The process's resident set size now (Linux `VmRSS`; peak RSS elsewhere)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    # Not Linux: peak RSS is the best the standard library offers (KiB on Linux, bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _settled_rss() -> int:
    """RSS after collecting garbage and handing freed heap back to the OS.

    Without the trim, memory freed by an earlier phase stays resident and hides (or inflates)
    what the cached workflows really hold.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_bytes()


Op = Callable[[int], Awaitable[None]]


async def _timed_loops(n: int, concurrency: int, op: Op) -> tuple[float, list[float]]:
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


async def _interleaved(
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
            seconds, lat = await _timed_loops(chunk, concurrency, ops[name])
            elapsed[name] += seconds
            latencies[name] += lat
    return {name: (n / elapsed[name], latencies[name]) for name in ops}


def _latency_ms(samples: Sequence[float]) -> dict[str, float]:
    return {f"p{q}": percentile(samples, q) * 1000 for q in (50, 95, 99)}


def _ratio(value: float, baseline: float) -> float | None:
    """The ratio; None where the baseline is not positive (a memory delta within noise)."""
    return value / baseline if baseline > 0 else None


def _r(ratio: float | None) -> str:
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
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
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


# ---------------------------------------------------------------------------------------------
# 1. Creation throughput


async def measure_creation(rig: Rig, sizes: Sizes, log: Callable[[str], None]) -> list[Any]:
    """Cases per second at each concurrency, four ways, on the same server and worker."""

    async def noop_start(_: int) -> None:
        await rig.noop_start(rig.new_id("s"))

    async def noop_uws(_: int) -> None:
        await rig.noop_create(rig.new_id("n"))

    async def case_uws(_: int) -> None:
        await rig.raw_case_create(rig.new_id("r"))

    async def api(_: int) -> None:
        await rig.api_create()

    ops: dict[str, Op] = {"start": noop_start, "noop": noop_uws, "raw": case_uws, "api": api}
    rows: list[dict[str, Any]] = []
    for concurrency, n in sizes.cases.items():
        got = await _interleaved(ops, n, concurrency, sizes.rounds)
        (api_rate, api_lat), (noop_rate, noop_lat) = got["api"], got["noop"]
        raw_rate, raw_lat = got["raw"]
        row = {
            "concurrency": concurrency,
            "cases": n,
            "api_per_s": api_rate,
            "noop_update_with_start_per_s": noop_rate,
            "noop_start_workflow_per_s": got["start"][0],
            "case_update_with_start_per_s": raw_rate,
            "api_p50_ms": percentile(api_lat, 50) * 1000,
            "noop_p50_ms": percentile(noop_lat, 50) * 1000,
            "case_update_with_start_p50_ms": percentile(raw_lat, 50) * 1000,
            "ratio": _ratio(api_rate, noop_rate),
            "case_ratio": _ratio(raw_rate, noop_rate),
            "target": CREATION_TARGET,
        }
        rows.append(row)
        log(
            f"create c={concurrency} n={n}: api {api_rate:.1f}/s, raw case {raw_rate:.1f}/s, "
            f"noop update-with-start {noop_rate:.1f}/s, noop start {got['start'][0]:.1f}/s "
            f"-> ratio {_r(row['ratio'])}"
        )
    return rows


# ---------------------------------------------------------------------------------------------
# 2. Action latency


async def measure_actions(rig: Rig, sizes: Sizes, log: Callable[[str], None]) -> dict[str, Any]:
    """p50/p95/p99 of `record_contact` on one case: through the API, raw, and a no-op Update."""
    # The same date every time: never in the future in the jurisdiction, never before the case.
    on = rig.ago(1)
    noop_id = rig.new_id("latency-noop")
    await rig.noop_create(noop_id)
    api_case = (await rig.api_create())["id"]
    raw_case = rig.new_id("latency-raw")
    await rig.raw_case_create(raw_case)

    async def noop(_: int) -> None:
        await rig.noop_touch(noop_id, {"on": on})

    async def raw(_: int) -> None:
        await rig.raw_act(raw_case, Action.RECORD_CONTACT, {"on": on})

    async def api(_: int) -> None:
        await rig.api_act(api_case, "record_contact", on=on)

    async def floor(_: int) -> None:
        await rig.floor_touch(noop_id, {"on": on})

    ops: dict[str, Op] = {"noop_update": noop, "case_update": raw, "api": api, "api_floor": floor}
    await _interleaved(ops, sizes.warmup, 1, 1)
    got = await _interleaved(ops, sizes.actions, 1, sizes.rounds)
    out: dict[str, Any] = {"actions": sizes.actions, "action": "record_contact"}
    out.update({name: _latency_ms(samples) for name, (_, samples) in got.items()})
    for q in ("p50", "p95", "p99"):
        out[f"ratio_{q}"] = _ratio(out["api"][q], out["noop_update"][q])
    out["target"] = ACTION_TARGET
    # What an authenticated, audited route around the same no-op Update costs (bench/floor.py).
    out["ratio_floor_p50"] = _ratio(out["api_floor"]["p50"], out["noop_update"]["p50"])
    # The case's history grows with every action, and so does the work per action.
    api_samples = got["api"][1]
    quarter = max(1, len(api_samples) // 4)
    out["api_p50_first_quarter_ms"] = percentile(api_samples[:quarter], 50) * 1000
    out["api_p50_last_quarter_ms"] = percentile(api_samples[-quarter:], 50) * 1000
    runs = await rig.histories(workflow_id(api_case))
    out["api_case_runs"] = len(runs)
    out["api_case_events"] = sum(len(r.events) for r in runs)
    log(
        f"action record_contact x{sizes.actions}: api p50 {out['api']['p50']:.1f} ms, "
        f"raw p50 {out['case_update']['p50']:.1f} ms, floor p50 {out['api_floor']['p50']:.1f} ms, "
        f"noop p50 {out['noop_update']['p50']:.1f} ms -> ratio {_r(out['ratio_p50'])}"
    )
    return out


# ---------------------------------------------------------------------------------------------
# 3. Cost per case


def _integration_steps(rig: Rig) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("complete_screening", {"on": rig.ago(400)}),
        ("make_application", {"on": rig.ago(399)}),
        ("register", {"on": rig.ago(398)}),
        ("lodge", {"on": rig.ago(395)}),
        ("schedule_interview", {"on": rig.ago(380), "interview_on": rig.ago(370)}),
        ("record_interview", {"on": rig.ago(370), "attended": True}),
        ("decide", {"on": rig.ago(300), "outcome": "refugee_status"}),
        # The appeal window ended long ago: the decision becomes final at once (integration).
        ("notify_decision", {"on": rig.ago(299)}),
        ("issue_permit", {"on": rig.ago(250)}),
        ("issue_personal_id", {"on": rig.ago(249)}),
        ("close", {"on": rig.ago(200)}),
    ]


def _return_steps(rig: Rig) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("complete_screening", {"on": rig.ago(400)}),
        ("make_application", {"on": rig.ago(399)}),
        ("register", {"on": rig.ago(398)}),
        ("lodge", {"on": rig.ago(395)}),
        ("decide", {"on": rig.ago(300), "outcome": "rejected"}),
        # Notified recently, so the appeal window is still open when the appeal is lodged.
        ("notify_decision", {"on": rig.ago(5)}),
        ("lodge_appeal", {"on": rig.ago(4)}),
        # Dismissed: the rejection is final, the case in return.
        ("decide_appeal", {"on": rig.ago(3), "result": "dismissed"}),
        ("start_return", {"on": rig.ago(3)}),
        ("record_return_consent", {"on": rig.ago(2)}),
        ("record_risk_assessment", {"on": rig.ago(2), "at_risk": False}),
        ("record_departure", {"on": rig.ago(1)}),
        ("close", {"on": rig.ago(1)}),
    ]


async def _lifecycle(
    rig: Rig, steps: list[tuple[str, dict[str, Any]]]
) -> tuple[list[WorkflowHistory], int]:
    """One case from identification to closure through the API; its runs and the calls made."""
    case_id = (await rig.api_create(identified_days_ago=400))["id"]
    view: dict[str, Any] = {}
    for action, body in steps:
        view = await rig.api_act(case_id, action, **body)
    if view.get("stage") != "closed":
        raise BenchError(f"lifecycle ended in stage {view.get('stage')}, not closed")
    handle = rig.client.get_workflow_handle(workflow_id(case_id))
    await asyncio.wait_for(handle.result(), 60)
    return await rig.histories(workflow_id(case_id)), 1 + len(steps)


async def _noop_lifecycle(rig: Rig, calls: int) -> list[WorkflowHistory]:
    """The no-op workflow driven by the same number of calls, then finished."""
    wf_id = rig.new_id("lifecycle-noop")
    await rig.noop_create(wf_id)
    for _ in range(calls - 1):
        await rig.noop_touch(wf_id, {})
    handle = rig.client.get_workflow_handle(wf_id)
    await handle.signal(NoopWorkflow.finish)
    await asyncio.wait_for(handle.result(), 60)
    return await rig.histories(wf_id)


async def _replay_ms(replayer: Replayer, runs: list[WorkflowHistory], repeats: int) -> float:
    """Median wall time to replay every run of a workflow once (after one untimed replay)."""

    async def once() -> float:
        started = time.perf_counter()
        for history in runs:
            await replayer.replay_workflow(history, raise_on_replay_failure=True)
        return (time.perf_counter() - started) * 1000

    await once()  # the sandbox imports its modules on the first replay
    return statistics.median([await once() for _ in range(repeats)])


async def measure_lifecycles(rig: Rig, sizes: Sizes, log: Callable[[str], None]) -> dict[str, Any]:
    """History events of whole lifecycles and the replay time of one of them."""
    out: dict[str, Any] = {"target": EVENTS_TARGET}
    replay_runs: list[WorkflowHistory] = []
    noop_runs: list[WorkflowHistory] = []
    for name, steps in (("integration", _integration_steps(rig)), ("return", _return_steps(rig))):
        runs, calls = await _lifecycle(rig, steps)
        noop = await _noop_lifecycle(rig, calls)
        events = sum(len(r.events) for r in runs)
        noop_events = sum(len(r.events) for r in noop)
        out[name] = {
            "api_calls": calls,
            "runs": len(runs),
            "events": events,
            "noop_events": noop_events,
            "ratio": _ratio(events, noop_events),
            "events_per_call": events / calls,
        }
        if name == "integration":
            replay_runs, noop_runs = runs, noop
        log(f"lifecycle {name}: {events} events in {len(runs)} run(s), noop {noop_events}")
    case_replayer = Replayer(
        workflows=list(ALL_WORKFLOWS),
        data_converter=pydantic_data_converter,
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
        ),
    )
    noop_replayer = Replayer(workflows=[NoopWorkflow], data_converter=pydantic_data_converter)
    case_ms = await _replay_ms(case_replayer, replay_runs, sizes.replays)
    noop_ms = await _replay_ms(noop_replayer, noop_runs, sizes.replays)
    out["replay"] = {
        "history": "integration",
        "events": sum(len(r.events) for r in replay_runs),
        "case_ms": case_ms,
        "noop_ms": noop_ms,
        "ratio": _ratio(case_ms, noop_ms),
    }
    log(f"replay integration: {case_ms:.1f} ms, noop {noop_ms:.1f} ms")
    return out


async def measure_memory(rig: Rig, sizes: Sizes, log: Callable[[str], None]) -> dict[str, Any]:
    """RSS growth of this process while fresh workers cache N no-op workflows, then N cases.

    Runs first, on workers of its own, so the caches hold exactly these workflows and no earlier
    phase has left freed memory behind to be reused.
    """
    n, concurrency = sizes.memory_cases, 16
    case_queue, noop_queue = f"mem-cases-{rig.tag}", f"mem-noop-{rig.tag}"
    case_worker = build_worker(rig.client, case_queue, rig.engine)
    noop_worker = Worker(rig.client, task_queue=noop_queue, workflows=[NoopWorkflow])
    prefix = f"bench-{rig.tag}-mem"
    async with case_worker, noop_worker:
        # One-off costs (sandbox imports, pool connections, first gRPC streams) before measuring.
        for i in range(4):
            await rig.raw_case_create(f"{prefix}w{i}", case_queue)
            await rig.noop_create(f"{prefix}-noop-w{i}", noop_queue)
        before = _settled_rss()

        async def noop(i: int) -> None:
            await rig.noop_create(f"{prefix}-noop-{i}", noop_queue)

        async def case(i: int) -> None:
            await rig.raw_case_create(f"{prefix}c{i}", case_queue)

        await _timed_loops(n, concurrency, noop)
        # Let the last workflow tasks finish before reading the RSS.
        await asyncio.sleep(0.5)
        after_noop = _settled_rss()
        await _timed_loops(n, concurrency, case)
        # Cached means settled: the update's answer comes with the first workflow task's
        # completion (the batch is handed back, no projection activity), so each run now
        # waits on its clocks.
        await asyncio.sleep(0.5)
        after_cases = _settled_rss()
    scale = 1000 / n / 2**20
    case_mib = (after_cases - after_noop) * scale
    noop_mib = (after_noop - before) * scale
    out = {
        "cached": n,
        "case_mib_per_1000": case_mib,
        "noop_mib_per_1000": noop_mib,
        "ratio": _ratio(case_mib, noop_mib),
        "rss_mib_before": before / 2**20,
        "rss_mib_after": after_cases / 2**20,
    }
    log(f"memory: {case_mib:.1f} MiB per 1,000 cached cases, noop {noop_mib:.1f} MiB")
    return out


# ---------------------------------------------------------------------------------------------
# Running it


async def run(
    client: Client,
    *,
    db_url: str,
    sizes: Sizes,
    server: str,
    log: Callable[[str], None] = print,
    api_process: bool = False,
) -> dict[str, Any]:
    """Every measurement against `client`'s server, with a fresh read model at `db_url`.

    With `api_process`, the API runs as `asylumflow api` (uvicorn, real HTTP on loopback) in a
    process of its own, as `make run` deploys it; otherwise in this process over ASGI.
    """
    migrate(db_url)
    engine = make_engine(db_url)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db_url,
        ASYLUMFLOW_TASK_QUEUE=f"bench-cases-{tag}",
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
    )
    app = create_app(settings)
    # ASGITransport runs no lifespan: wire what it would have, as tests/api/conftest.py does.
    app.state.settings = settings
    app.state.engine = engine
    app.state.temporal = client
    token = create_user(engine, USER, Role.CASEWORKER)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    try:
        async with _api_client(app, client, settings, api_process) as (http, floor_http):
            rig = Rig(
                client=client,
                engine=engine,
                settings=settings,
                http=http,
                floor_http=floor_http,
                headers={"Authorization": f"Bearer {token}"},
                noop_queue=f"bench-noop-{tag}",
                tag=tag,
            )
            memory = await measure_memory(rig, sizes, log)
            async with (
                build_worker(client, settings.task_queue, engine),
                Worker(client, task_queue=rig.noop_queue, workflows=[NoopWorkflow]),
            ):
                # Warm both paths (sandbox imports, SQL connections) before timing anything.
                for _ in range(sizes.warmup):
                    await rig.api_create()
                    await rig.raw_case_create(rig.new_id("w"))
                    await rig.noop_create(rig.new_id("w"))
                creation = await measure_creation(rig, sizes, log)
                actions = await measure_actions(rig, sizes, log)
                lifecycles = await measure_lifecycles(rig, sizes, log)
    finally:
        engine.dispose()
    return {
        "server": server,
        "sizes": {
            "cases": {str(k): v for k, v in sizes.cases.items()},
            "actions": sizes.actions,
            "memory_cases": sizes.memory_cases,
            "replays": sizes.replays,
        },
        "creation": creation,
        "actions": actions,
        "lifecycles": lifecycles,
        "memory": memory,
        "seconds": time.perf_counter() - started,
        "api": "separate process (uvicorn, HTTP on loopback)"
        if api_process
        else "in process (ASGI)",
        # Other processes on the machine move every figure; ratios move much less.
        "loadavg_1min": [load_before, os.getloadavg()[0]],
    }


@contextlib.asynccontextmanager
async def _api_client(
    app: Any, client: Client, settings: Settings, api_process: bool
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """HTTP clients on the app and on the floor app (`bench.floor`).

    In this process over ASGI, or each served as `asylumflow api` serves the API, in a process
    of its own.
    """
    if not api_process:
        floor_app = create_floor_app(app.state.settings)
        for name in ("settings", "engine", "temporal"):
            setattr(floor_app.state, name, getattr(app.state, name))
        async with (
            _asgi_client(app) as http,
            _asgi_client(floor_app) as floor_http,
        ):
            yield http, floor_http
        return
    async with (
        _served([str(BIN / "asylumflow"), "api"], client, settings) as http,
        _served([sys.executable, "-m", "bench.floor"], client, settings) as floor_http,
    ):
        yield http, floor_http


@contextlib.asynccontextmanager
async def _asgi_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
    ) as http:
        yield http


@contextlib.asynccontextmanager
async def _served(
    command: list[str], client: Client, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """Run `command` (an API server) on a free loopback port; a client once it is ready."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": settings.db_url,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "ASYLUMFLOW_TASK_QUEUE": settings.task_queue,
        "ASYLUMFLOW_SEARCH_ATTRIBUTES": "true",
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
    }
    process = subprocess.Popen(
        command,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,  # `bench` importable for the floor app
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # one JSON log line per request, as in production
    )
    try:
        # uvicorn closes connections idle for 5 s; the client must drop them first, or it may
        # send on one the server is closing (ReadError) between the benchmark's rounds.
        limits = httpx.Limits(max_connections=64, keepalive_expiry=2.0)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
        ) as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"{' '.join(command[-2:])} did not become ready")
                await asyncio.sleep(0.2)
            yield http
    finally:
        process.terminate()
        process.wait(timeout=30)


async def run_on_fresh_server(
    *,
    sizes: Sizes,
    db_file: bool,
    log: Callable[[str], None] = print,
    api_process: bool = False,
) -> dict[str, Any]:
    """Start a local dev server (in memory or on a temp SQLite file), run, stop it."""
    with tempfile.TemporaryDirectory(prefix="asylumflow-bench-") as tmp:
        extra = ["--db-filename", str(Path(tmp) / "temporal.db")] if db_file else []
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=str(BIN / "temporal"),
            search_attributes=ALL_SEARCH_ATTRIBUTES,
            dev_server_log_level="error",
            dev_server_extra_args=extra,
        )
        try:
            return await run(
                env.client,
                db_url=f"sqlite:///{Path(tmp) / 'readmodel.db'}",
                sizes=sizes,
                server=("sqlite file" if db_file else "in memory")
                + (", API process" if api_process else ""),
                log=log,
                api_process=api_process,
            )
        finally:
            await env.shutdown()


# ---------------------------------------------------------------------------------------------
# The table


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def table_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(measurement, asylumflow, baseline, ratio, target, verdict) rows of one server's run."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    for c in result["creation"]:
        rows.append(
            (
                f"create c={c['concurrency']:<2} cases/s  API POST /cases",
                f"{c['api_per_s']:.1f}",
                f"{c['noop_update_with_start_per_s']:.1f}",
                _r(c["ratio"]),
                f">= {c['target']:.1f}",
                _verdict(c["ratio"] >= c["target"]),
            )
        )
        rows.append(
            (
                "  raw update-with-start CaseWorkflow",
                f"{c['case_update_with_start_per_s']:.1f}",
                "",
                _r(c["case_ratio"]),
                "",
                "",
            )
        )
        rows.append(
            ("  raw start_workflow (noop)", "", f"{c['noop_start_workflow_per_s']:.1f}", "", "", "")
        )
    a = result["actions"]
    for q in ("p50", "p95", "p99"):
        target = f"<= {a['target']:.1f}" if q == "p50" else ""
        verdict = _verdict(a["ratio_p50"] <= a["target"]) if q == "p50" else ""
        rows.append(
            (
                f"action {q} ms  API record_contact",
                f"{a['api'][q]:.1f}",
                f"{a['noop_update'][q]:.1f}",
                _r(a[f"ratio_{q}"]),
                target,
                verdict,
            )
        )
    rows.append(
        (
            "  API p50 ms, first / last quarter",
            f"{a['api_p50_first_quarter_ms']:.1f} / {a['api_p50_last_quarter_ms']:.1f}",
            "",
            "",
            "",
            "",
        )
    )
    rows.append(
        (
            "  API floor p50 ms: auth + audit + no-op Update",
            f"{a['api_floor']['p50']:.1f}",
            "",
            _r(a["ratio_floor_p50"]),
            "",
            "",
        )
    )
    rows.append(
        (
            "  raw act Update p50 ms",
            f"{a['case_update']['p50']:.1f}",
            "",
            _r(_ratio(a["case_update"]["p50"], a["noop_update"]["p50"])),
            "",
            "",
        )
    )
    life = result["lifecycles"]
    for name in ("integration", "return"):
        x = life[name]
        rows.append(
            (
                f"events, lifecycle -> {name} ({x['api_calls']} calls)",
                f"{x['events']} ({x['runs']} run{'s' if x['runs'] > 1 else ''})",
                f"{x['noop_events']}",
                _r(x["ratio"]),
                f"< {life['target']}",
                _verdict(x["events"] < life["target"]),
            )
        )
    m = result["memory"]
    rows.append(
        (
            f"worker RSS MiB / 1,000 cached (n={m['cached']})",
            f"{m['case_mib_per_1000']:.1f}",
            f"{m['noop_mib_per_1000']:.1f}",
            _r(m["ratio"]),
            "",
            "",
        )
    )
    r = life["replay"]
    rows.append(
        (
            f"replay ms, integration history ({r['events']} events)",
            f"{r['case_ms']:.1f}",
            f"{r['noop_ms']:.1f}",
            _r(r["ratio"]),
            "",
            "",
        )
    )
    return rows


def format_table(result: dict[str, Any]) -> str:
    """One server's results as a fixed-width table (baseline = the no-op workflow)."""
    header = ("measurement", "asylumflow", "noop", "ratio", "target", "")
    rows = [header, *table_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    load = result["loadavg_1min"]
    lines = [
        f"server: {result['server']} (ratio = asylumflow / noop baseline; "
        f"{result['seconds']:.0f} s; load average {load[0]:.1f} -> {load[1]:.1f})"
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, 6)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run once against a fresh dev server, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="bench.engine", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", choices=sorted(SIZES), default="full")
    parser.add_argument(
        "--db-file", action="store_true", help="the dev server persists to a temp SQLite file"
    )
    parser.add_argument(
        "--api-process",
        action="store_true",
        help="run the API as `asylumflow api` in a process of its own (as deployed)",
    )
    parser.add_argument("--json-out", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    prefix = "[sqlite file" if args.db_file else "[in memory"
    prefix += ", API process]" if args.api_process else "]"

    def log(line: str) -> None:
        print(f"{prefix} {line}", file=sys.stderr, flush=True)

    sizes = SIZES[args.sizes]
    result = asyncio.run(
        run_on_fresh_server(
            sizes=sizes, db_file=args.db_file, log=log, api_process=args.api_process
        )
    )
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2))
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
