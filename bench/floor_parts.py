"""Benchmark: what the floor costs above the raw no-op Update, part by part.

    .venv/bin/python -m bench.floor_parts [--sizes full|quick|tiny] [--json-out PATH]

Serves four apps as `asylumflow api` serves the API (uvicorn with uvloop and httptools, each in
a process of its own on loopback, with its own Temporal client), each answering
`POST /cases/{id}/floor` with one no-op Update (`bench.noop.NoopWorkflow`):

- `floor`: the floor as `bench.front_door` times it (`bench.floor.create_floor_app`: the
  product's app with the route matched where the action routes are);
- `floor, route included last`: the same app with that route moved behind all of the product's
  own, so the difference is what FastAPI's matching costs a route that comes last;
- `floor, no audit`: the floor without the audit record and the request's log line (the
  middleware's `_record` and `audit.begin` made no-ops), so the difference is what auditing
  costs;
- `bare FastAPI`: one route and nothing else (no middleware, no token, no audit), so what is left
  above the raw Update is the HTTP hop and a second process's Temporal client.

Then, in interleaved rounds, one request at a time: the raw no-op Update from this process and
each app; prints p50s, each ÷ the no-op, and each server process's CPU per request (Linux's
`/proc`: all of the process's CPU over the timed rounds, its idle time while the others are
timed included, which is small). It explains
`bench.front_door`'s floor ÷ no-op (target <= 1.3) rather than setting a target of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from temporalio.client import Client
from temporalio.worker import Worker

from bench.engine import _served_process
from bench.floor import FLOOR_PATH, create_floor_app, included_at, router
from bench.front_door import Sizes, on_fresh_server
from bench.noop import NoopWorkflow
from bench.rig import (
    USER,
    interleaved,
    json_poster,
    latency_ms,
    ratio_of,
    run_and_report,
    serve_then_exit,
    show_ratio,
)
from bench.storm import cpu_seconds
from core.settings import Settings
from db.engine import make_engine, migrate
from db.users import Role, create_user

SIZES = {
    "full": Sizes(requests=300, rounds=6, warmup=20),
    "quick": Sizes(requests=60, rounds=2, warmup=20),
    "tiny": Sizes(requests=4, rounds=1, warmup=1),
}


def create_route_last() -> FastAPI:
    """The floor app with its route matched after every other."""
    app = create_floor_app()
    routes = app.router.routes
    routes.append(routes.pop(included_at(app, router)))
    return app


def create_unaudited() -> FastAPI:
    """The floor app without the audit record and the request's log line."""
    import api.audit

    async def unrecorded(*_: Any) -> None:
        return None

    # This process serves this app only: nothing else sees the change.
    api.audit._record = unrecorded  # type: ignore[assignment]
    api.audit.begin = lambda: None
    return create_floor_app()


def create_bare() -> FastAPI:
    """One FastAPI route forwarding its body to the no-op Update; nothing else."""
    from core.settings import get_settings
    from core.temporal import connect

    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.temporal = await connect(settings)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post(FLOOR_PATH)
    async def floor(workflow_id: str, body: dict[str, Any]) -> dict[str, Any]:
        handle = app.state.temporal.get_workflow_handle(workflow_id)
        result: dict[str, Any] = await handle.execute_update(NoopWorkflow.touch, body)
        return {"id": workflow_id, **result}

    return app


APPS = {
    "floor": "bench.floor:create_floor_app",
    "floor, route included last": "bench.floor_parts:create_route_last",
    "floor, no audit": "bench.floor_parts:create_unaudited",
    "bare FastAPI": "bench.floor_parts:create_bare",
}


async def run(
    client: Client, *, db_url: str, sizes: Sizes, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Every app against the same no-op Update, in interleaved rounds; the figures."""
    migrate(db_url)
    engine = make_engine(db_url)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(_env_file=None, DATABASE_URL=db_url, ASYLUMFLOW_TASK_QUEUE=f"parts-{tag}")
    headers = {"Authorization": f"Bearer {create_user(engine, USER, Role.CASEWORKER)}"}
    body = {"on": date.today().isoformat()}
    load_before = os.getloadavg()[0]
    try:
        async with contextlib.AsyncExitStack() as stack:
            queue = f"bench-parts-noop-{tag}"
            await stack.enter_async_context(
                Worker(client, task_queue=queue, workflows=[NoopWorkflow])
            )

            async def noop_workflow(name: str) -> str:
                # One per side: a workflow takes at most 2,000 distinct updates.
                workflow_id = f"bench-{tag}-{name}"
                await client.start_workflow(NoopWorkflow.run, id=workflow_id, task_queue=queue)
                return workflow_id

            raw = client.get_workflow_handle(await noop_workflow("raw"))

            async def noop(_: int) -> None:
                await raw.execute_update(NoopWorkflow.touch, body)

            ops: dict[str, Callable[[int], Any]] = {"noop": noop}
            pids: dict[str, int] = {}
            for number, (name, factory) in enumerate(APPS.items()):
                http, pid = await stack.enter_async_context(
                    _served_process(_serve_command(factory), client, settings)
                )
                path = FLOOR_PATH.format(workflow_id=await noop_workflow(f"app{number}"))
                ops[name] = json_poster(http, path, headers, body)
                pids[name] = pid
            await interleaved(ops, sizes.warmup, 1, 1)
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            got = await interleaved(ops, sizes.requests, 1, sizes.rounds)
            cpu = {
                name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / sizes.requests
                for name, pid in pids.items()
            }
    finally:
        engine.dispose()
    p50 = {name: latency_ms(samples)["p50"] for name, (_, samples) in got.items()}
    rows = [
        {
            "app": name,
            "p50_ms": p50[name],
            "ratio": ratio_of(p50[name], p50["noop"]),
            "server_cpu_ms": cpu[name],
        }
        for name in APPS
    ]
    for row in rows:
        log(f"{row['app']}: {row['p50_ms']:.2f} ms, {row['server_cpu_ms']:.2f} ms of CPU")
    return {
        "requests": sizes.requests,
        "rounds": sizes.rounds,
        "noop_p50_ms": p50["noop"],
        "apps": rows,
        "loadavg_1min": [load_before, os.getloadavg()[0]],
    }


def _serve_command(factory: str) -> list[str]:
    return [sys.executable, "-m", "bench.floor_parts", "--serve", factory]


def format_result(result: dict[str, Any]) -> str:
    """The figures as a few fixed-width lines."""
    lines = [
        f"floor parts: {result['requests']} requests per side, {result['rounds']} rounds, "
        f"no-op Update p50 {result['noop_p50_ms']:.2f} ms, load "
        f"{result['loadavg_1min'][0]:.1f} -> {result['loadavg_1min'][1]:.1f}",
        "  app                             p50 ms  / no-op  server CPU ms per request",
    ]
    for row in result["apps"]:
        lines.append(
            f"  {row['app']:<30} {row['p50_ms']:7.2f} {show_ratio(row['ratio']):>8}"
            f" {row['server_cpu_ms']:10.2f}"
        )
    return "\n".join(lines)


async def run_on_fresh_server(sizes: Sizes, log: Callable[[str], None]) -> dict[str, Any]:
    """Start a dev server in memory and a temp read model, run, stop."""
    return await on_fresh_server(run, sizes, log, name="parts")


def main(argv: list[str] | None = None) -> int:
    """Run on a fresh dev server and print the figures (or, with --serve, serve one app)."""
    parser = argparse.ArgumentParser(prog="bench.floor_parts", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", choices=sorted(SIZES), default="full")
    parser.add_argument("--json-out", type=Path, default=None, help="write the figures here")
    parser.add_argument("--serve", choices=sorted(APPS.values()), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_then_exit(args.serve, loop="uvloop", http="httptools")

    def log(line: str) -> None:
        print(f"[floor parts] {line}", file=sys.stderr, flush=True)

    return run_and_report(run_on_fresh_server(SIZES[args.sizes], log), args.json_out, format_result)


if __name__ == "__main__":
    sys.exit(main())
