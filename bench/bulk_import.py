"""Benchmark: `asylumflow import` against a raw update-with-start carrying the same acts.

    .venv/bin/python -m bench.bulk_import [--sizes full|quick|tiny] [--concurrency N]
                                          [--json-out PATH]

Starts a local dev server in memory, a real worker and a SQLite read model, and imports N cases
(each made, registered, lodged and decided, with a distinct person) two ways at the same
concurrency, in interleaved rounds on the same server and worker:

- **import**: `tools.importer.run_import` on a JSON Lines file: reading and checking every row
  (its dry run of the transition table included), the person, reference, intent and key in
  SQL, the update-with-start of `act_batch`, the read-model write and the duplicate check;
- **baseline**: the same update-with-start of `CaseWorkflow` with the same `act_batch` straight
  from the client (asking for the read-model batch back, as the import does, and not writing it).

Prints cases/s for both and import ÷ baseline (target ≥ 0.9). No figure is asserted here.
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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.rig import BenchError, ratio_of, show_ratio, timed_loops
from core.settings import Settings
from db.engine import make_engine, migrate
from models.enums import Action, IdentifiedAt
from models.messages import ActionBatch, ActionRequest, CaseInput
from tools.importer import run_import
from worker import build_worker
from workflows.case import CaseWorkflow, workflow_id
from workflows.search import ALL_SEARCH_ATTRIBUTES

BIN = Path(sys.executable).parent
TARGET = 0.9
"""The import must reach this share of the raw update-with-start's cases per second."""

ACTOR = "bench-import"


@dataclass(frozen=True)
class Sizes:
    """How many cases each side imports, in how many interleaved rounds."""

    cases: int
    rounds: int
    warmup: int = 4


SIZES = {
    "full": Sizes(cases=600, rounds=3),
    "quick": Sizes(cases=80, rounds=2),
    "tiny": Sizes(cases=6, rounds=1, warmup=1),
}


def _acts(today: date) -> list[dict[str, Any]]:
    """A case made, registered, lodged and decided, long enough ago to settle some clocks."""
    return [
        {"action": "make_application", "on": (today - timedelta(days=120)).isoformat()},
        {"action": "register", "on": (today - timedelta(days=119)).isoformat()},
        {"action": "lodge", "on": (today - timedelta(days=110)).isoformat()},
        {
            "action": "decide",
            "on": (today - timedelta(days=20)).isoformat(),
            "outcome": "subsidiary_protection",
        },
    ]


_SYLLABLES = ("ka", "lo", "mi", "ra", "te", "zu", "no", "vi", "sa", "de", "bo", "ju", "fe", "ha")


def _name(n: int, length: int) -> str:
    """A made-up name of its own per `n`.

    A caseload has few likely duplicates: the registration's duplicate check should find as
    many as in a real one, not every earlier row (as `Bulk1`, `Bulk2`... would give).
    """
    parts = []
    for _ in range(length):
        n, digit = divmod(n, len(_SYLLABLES))
        parts.append(_SYLLABLES[digit])
    return "".join(parts).capitalize()


def import_row(tag: str, n: int, today: date) -> dict[str, Any]:
    """Import row `n`: a made-up person of its own, made, registered, lodged and decided."""
    return {
        "external_id": f"{tag}-{n}",
        "case": {
            "jurisdiction": "rs",
            "person": {
                "given_name": _name(n * 7919 + 13, 3),
                "family_name": _name(n * 104729 + 7, 4),
                "date_of_birth": (date(1960, 1, 1) + timedelta(days=37 * n % 20000)).isoformat(),
                "nationality": "SYR",
                "sex": "unknown",
            },
            "identified_on": (today - timedelta(days=121)).isoformat(),
            "identified_at": "border",
        },
        "actions": _acts(today),
    }


@contextlib.asynccontextmanager
async def case_worker(
    client: Client, settings: Settings, engine: Engine, work: Path, separate: bool
) -> AsyncIterator[subprocess.Popen[bytes] | None]:
    """The case worker: `asylumflow worker` in a process of its own (yielded), or in this one.

    As deployed, the import runs in a process of its own beside the workers: its checks and
    SQL writes do not queue on the worker's GIL, as the raw baseline's client work does not.
    """
    if not separate:
        async with build_worker(client, settings.task_queue, engine):
            yield None
        return
    env = {
        **os.environ,
        "DATABASE_URL": settings.db_url,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "ASYLUMFLOW_TASK_QUEUE": settings.task_queue,
        "ASYLUMFLOW_SEARCH_ATTRIBUTES": "true",
    }
    process = subprocess.Popen(
        [str(BIN / "asylumflow"), "worker"],
        env=env,
        cwd=work,  # no `.env` of the repository's
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


async def run(
    client: Client,
    *,
    db_url: str,
    work: Path,
    sizes: Sizes,
    concurrency: int = 16,
    worker_process: bool = True,
) -> dict[str, Any]:
    """Both sides against `client`'s server with a fresh read model at `db_url`; the figures.

    With `worker_process` (the default), the worker runs as `asylumflow worker` on its own.
    """
    migrate(db_url)
    engine = make_engine(db_url)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db_url,
        ASYLUMFLOW_TASK_QUEUE=f"bench-import-{tag}",
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
    )
    today = date.today()
    acts = ActionBatch(
        actions=[
            ActionRequest(
                action=Action(a["action"]),
                body={k: v for k, v in a.items() if k != "action"},
                actor=ACTOR,
            )
            for a in _acts(today)
        ],
        project=True,
    )
    serial = iter(range(10**9))
    people = iter(range(10**9))

    async def raw(_: int) -> None:
        case_id = f"bench-{tag}-raw{next(serial)}"
        await client.execute_update_with_start_workflow(
            CaseWorkflow.act_batch,
            acts,
            start_workflow_operation=WithStartWorkflowOperation(
                CaseWorkflow.run,
                CaseInput.opening(
                    case_id,
                    "rs",
                    today - timedelta(days=121),
                    identified_at=IdentifiedAt.BORDER,
                    actor=ACTOR,
                    caller_projects=True,
                    **settings.workflow_options(),
                ),
                id=workflow_id(case_id),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                task_queue=settings.task_queue,
            ),
        )

    files = 0

    async def imported(n: int) -> float:
        """Import `n` fresh rows from a file of their own; the seconds it took."""
        nonlocal files
        files += 1
        path = work / f"import-{files}.jsonl"
        path.write_text(
            "".join(json.dumps(import_row(tag, next(people), today)) + "\n" for _ in range(n))
        )
        started = time.perf_counter()
        report = await run_import(
            client, engine, settings, path, "jsonl", actor=ACTOR, concurrency=concurrency
        )
        seconds = time.perf_counter() - started
        if report.imported != n:
            raise BenchError(f"import: {report.imported} of {n} ({report.rejected[:1]})")
        return seconds

    load_before = os.getloadavg()[0]
    elapsed = {"import": 0.0, "raw": 0.0}
    try:
        async with case_worker(client, settings, engine, work, worker_process):
            # Warm both paths (sandbox imports, SQL connections) before timing anything.
            await imported(sizes.warmup)
            await timed_loops(sizes.warmup, concurrency, raw)
            for r in range(sizes.rounds):
                chunk = sizes.cases // sizes.rounds + (1 if r < sizes.cases % sizes.rounds else 0)
                # Alternating which side goes first, so neither always follows the other.
                for side in ("import", "raw") if r % 2 == 0 else ("raw", "import"):
                    if side == "import":
                        elapsed["import"] += await imported(chunk)
                    else:
                        elapsed["raw"] += (await timed_loops(chunk, concurrency, raw))[0]
    finally:
        engine.dispose()
    import_per_s = sizes.cases / elapsed["import"]
    raw_per_s = sizes.cases / elapsed["raw"]
    return {
        "cases": sizes.cases,
        "acts_per_case": len(acts.actions),
        "concurrency": concurrency,
        "rounds": sizes.rounds,
        "worker": "separate process" if worker_process else "in process",
        "import_per_s": import_per_s,
        "raw_update_with_start_per_s": raw_per_s,
        "ratio": ratio_of(import_per_s, raw_per_s),
        "target": TARGET,
        "loadavg_1min": [load_before, os.getloadavg()[0]],
    }


def format_result(result: dict[str, Any]) -> str:
    """The figures as a few fixed-width lines."""
    ratio = result["ratio"]
    verdict = "ok" if ratio is not None and ratio >= result["target"] else "MISS"
    return "\n".join(
        [
            f"bulk import: {result['cases']} cases of {result['acts_per_case']} acts, "
            f"concurrency {result['concurrency']}, {result['rounds']} rounds, "
            f"worker {result['worker']}, "
            f"load {result['loadavg_1min'][0]:.1f} -> {result['loadavg_1min'][1]:.1f}",
            f"  asylumflow import                {result['import_per_s']:8.1f} cases/s",
            "  raw update-with-start act_batch  "
            f"{result['raw_update_with_start_per_s']:8.1f} cases/s",
            f"  ratio {show_ratio(ratio)} (target >= {result['target']:.1f}) {verdict}",
        ]
    )


async def run_on_fresh_server(
    sizes: Sizes, concurrency: int, worker_process: bool = True
) -> dict[str, Any]:
    """Start a local dev server in memory, run, stop it."""
    with tempfile.TemporaryDirectory(prefix="asylumflow-bench-import-") as tmp:
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=str(BIN / "temporal"),
            search_attributes=ALL_SEARCH_ATTRIBUTES,
            dev_server_log_level="error",
        )
        try:
            return await run(
                env.client,
                db_url=f"sqlite:///{Path(tmp) / 'readmodel.db'}",
                work=Path(tmp),
                sizes=sizes,
                concurrency=concurrency,
                worker_process=worker_process,
            )
        finally:
            await env.shutdown()


def main(argv: list[str] | None = None) -> int:
    """Run once against a fresh dev server, print the figures, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="bench.bulk_import", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", choices=sorted(SIZES), default="full")
    parser.add_argument("--quick", action="store_true", help="the same as --sizes quick")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--worker-in-process",
        action="store_true",
        help="run the worker in the benchmark's process (one GIL with the import)",
    )
    parser.add_argument("--json-out", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else args.sizes]
    result = asyncio.run(
        run_on_fresh_server(sizes, args.concurrency, worker_process=not args.worker_in_process)
    )
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2))
    print(format_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
