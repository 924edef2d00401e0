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
This module starts the servers and runs the measurements in turn; the rig and the measuring tools
are in `bench.rig`, the measurements in `bench.measures`, the table in `bench.engine_table`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from bench.engine_table import format_table
from bench.floor import create_floor_app
from bench.measures import measure_actions, measure_creation, measure_lifecycles, measure_memory
from bench.noop import NoopWorkflow
from bench.rig import SIZES, USER, BenchError, Rig, Sizes
from core.settings import Settings
from db.engine import make_engine, migrate
from db.users import Role, create_user
from worker import build_worker
from workflows.search import ALL_SEARCH_ATTRIBUTES

BIN = Path(sys.executable).parent


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
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    async with open_rig(client, db_url, api_process) as rig:
        memory = await measure_memory(rig, sizes, log)
        async with (
            build_worker(client, rig.settings.task_queue, rig.engine),
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
async def open_rig(client: Client, db_url: str, api_process: bool) -> AsyncIterator[Rig]:
    """A rig on `client`'s server: a fresh read model at `db_url`, the API, a caseworker.

    With `api_process`, the API runs as `asylumflow api` in a process of its own; otherwise in
    this process over ASGI. The read model's engine is disposed of on the way out.
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
    try:
        async with _api_client(app, client, settings, api_process) as (http, floor_http):
            yield Rig(
                client=client,
                engine=engine,
                settings=settings,
                http=http,
                floor_http=floor_http,
                headers={"Authorization": f"Bearer {token}"},
                noop_queue=f"bench-noop-{tag}",
                tag=tag,
            )
    finally:
        engine.dispose()


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
    async with _served_process(command, client, settings) as (http, _):
        yield http


@contextlib.asynccontextmanager
async def _served_process(
    command: list[str], client: Client, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """As `_served`, with the server's process id (for its CPU time)."""
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
            yield http, process.pid
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
