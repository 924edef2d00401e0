"""Benchmark: the API's front door, served three ways, against the same no-op Update.

    .venv/bin/python -m bench.front_door [--sizes full|quick|tiny] [--json-out PATH]

Starts a local dev server in memory, the case worker and the no-op worker in this process, and
serves both the API (`api.app:create_app`) and the floor app (`bench.floor`: the same app, auth
and audit around one no-op Update) as `asylumflow api` serves them, in processes of their own
on loopback, once per variant:

- `asyncio + h11`: uvicorn's pure-Python event loop and HTTP parser;
- `uvloop + httptools`: libuv's event loop and the C HTTP parser;
- `uvloop + httptools + orjson`: the same, with `OrjsonResponse` (below) as the default
  response class: every JSON answer validated by its response model, dumped to Python by
  pydantic and encoded by orjson, instead of FastAPI's own path (pydantic-core's `dump_json`,
  one pass in Rust, taken by every JSON route of the API since each declares its model).

Then, in interleaved rounds, one request at a time: the raw no-op Update from this process,
and per variant the floor (`POST /cases/{id}/floor`) and an action (`record_contact`). Prints
p50s, floor ÷ no-op (target <= 1.3) and action ÷ floor (target <= 1.25) per variant.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol
from unittest import mock

import httpx
import orjson
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from temporalio.client import Client
from temporalio.worker import Worker

from bench.engine import _served
from bench.noop import NoopWorkflow
from bench.rig import (
    JURISDICTION,
    USER,
    BenchError,
    interleaved,
    json_poster,
    latency_ms,
    ratio_of,
    run_and_report,
    serve_then_exit,
    show_ratio,
)
from bench.storm import fresh_server
from core.settings import Settings
from db.engine import make_engine, migrate
from db.users import Role, create_user
from worker import build_worker

FLOOR_TARGET = 1.3
"""The floor as deployed may cost at most this multiple of the raw no-op Update."""
ACTION_TARGET = 1.25
"""An action may cost at most this multiple of the floor."""


@dataclass(frozen=True)
class Variant:
    """One way of serving the app."""

    name: str
    loop: str
    http: str
    orjson: bool = False


VARIANTS = (
    Variant("asyncio + h11", "asyncio", "h11"),
    Variant("uvloop + httptools", "uvloop", "httptools"),
    Variant("uvloop + httptools + orjson", "uvloop", "httptools", orjson=True),
)


@dataclass(frozen=True)
class Sizes:
    """Timed requests per side, in how many interleaved rounds."""

    requests: int
    rounds: int
    warmup: int = 10


SIZES = {
    "full": Sizes(requests=300, rounds=3),
    "quick": Sizes(requests=60, rounds=2),
    "tiny": Sizes(requests=4, rounds=1, warmup=1),
}


class OrjsonResponse(JSONResponse):
    """A JSON answer encoded by orjson (FastAPI's own `ORJSONResponse` is deprecated).

    What FastAPI hands a route's response class is already JSON-ready (its response model's
    `mode="json"` dump: dates and datetimes as ISO strings, enums as values), so the bytes are
    those of FastAPI's default path (tests/bench/test_orjson_response.py). Non-string keys
    are written as strings, and NaN and infinities as null, as pydantic writes them.
    """

    def render(self, content: Any) -> bytes:
        """`content` as compact UTF-8 JSON."""
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _orjson(factory: Callable[[], FastAPI]) -> FastAPI:
    """`factory()` with `OrjsonResponse` as every route's default response class."""
    import api.app

    orjson_app = functools.partial(FastAPI, default_response_class=OrjsonResponse)
    with mock.patch.object(api.app, "FastAPI", orjson_app):
        return factory()


def create_orjson_api() -> FastAPI:
    """The API with orjson responses (served by `serve --app api --orjson`)."""
    from api.app import create_app

    return _orjson(create_app)


def create_orjson_floor() -> FastAPI:
    """The floor app with orjson responses."""
    from bench.floor import create_floor_app

    return _orjson(create_floor_app)


FACTORIES = {
    ("api", False): "api.app:create_app",
    ("api", True): "bench.front_door:create_orjson_api",
    ("floor", False): "bench.floor:create_floor_app",
    ("floor", True): "bench.front_door:create_orjson_floor",
}


def _serve_command(app: str, variant: Variant) -> list[str]:
    command = [sys.executable, "-m", "bench.front_door", "--serve", app]
    command += ["--loop", variant.loop, "--http", variant.http]
    return [*command, "--orjson"] if variant.orjson else command


async def run(
    client: Client, *, db_url: str, sizes: Sizes, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Every variant against the same no-op Update, in interleaved rounds; the figures."""
    migrate(db_url)
    engine = make_engine(db_url)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db_url,
        ASYLUMFLOW_TASK_QUEUE=f"bench-door-{tag}",
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
    )
    headers = {"Authorization": f"Bearer {create_user(engine, USER, Role.CASEWORKER)}"}
    on = (date.today() - timedelta(days=1)).isoformat()
    noop_id = f"bench-{tag}-door-noop"
    load_before = os.getloadavg()[0]
    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(build_worker(client, settings.task_queue, engine))
            noop_queue = f"bench-door-noop-{tag}"
            await stack.enter_async_context(
                Worker(client, task_queue=noop_queue, workflows=[NoopWorkflow])
            )
            await client.start_workflow(NoopWorkflow.run, id=noop_id, task_queue=noop_queue)
            served: dict[str, tuple[httpx.AsyncClient, httpx.AsyncClient, str]] = {}
            for v in VARIANTS:
                api_http = await stack.enter_async_context(
                    _served(_serve_command("api", v), client, settings)
                )
                floor_http = await stack.enter_async_context(
                    _served(_serve_command("floor", v), client, settings)
                )
                case_id = await _new_case(api_http, headers, on)
                served[v.name] = (api_http, floor_http, case_id)

            async def noop(_: int) -> None:
                await client.get_workflow_handle(noop_id).execute_update(
                    NoopWorkflow.touch, {"on": on}
                )

            ops: dict[str, Any] = {"noop": noop}
            for name, (api_http, floor_http, case_id) in served.items():
                ops[f"{name}|floor"] = json_poster(
                    floor_http, f"/cases/{noop_id}/floor", headers, {"on": on}
                )
                ops[f"{name}|action"] = json_poster(
                    api_http, f"/cases/{case_id}/actions/record_contact", headers, {"on": on}
                )
            await interleaved(ops, sizes.warmup, 1, 1)
            got = await interleaved(ops, sizes.requests, 1, sizes.rounds)
    finally:
        engine.dispose()
    p50 = {name: latency_ms(samples)["p50"] for name, (_, samples) in got.items()}
    rows = []
    for v in VARIANTS:
        floor, action = p50[f"{v.name}|floor"], p50[f"{v.name}|action"]
        rows.append(
            {
                "variant": v.name,
                "floor_p50_ms": floor,
                "action_p50_ms": action,
                "floor_ratio": ratio_of(floor, p50["noop"]),
                "action_ratio": ratio_of(action, floor),
                "action_noop_ratio": ratio_of(action, p50["noop"]),
            }
        )
        log(f"{v.name}: floor {floor:.2f} ms, action {action:.2f} ms, noop {p50['noop']:.2f} ms")
    return {
        "requests": sizes.requests,
        "rounds": sizes.rounds,
        "noop_p50_ms": p50["noop"],
        "variants": rows,
        "floor_target": FLOOR_TARGET,
        "action_target": ACTION_TARGET,
        "loadavg_1min": [load_before, os.getloadavg()[0]],
    }


async def _new_case(http: httpx.AsyncClient, headers: dict[str, str], on: str) -> str:
    body = {
        "jurisdiction": JURISDICTION,
        "person": {
            "given_name": "Door",
            "family_name": f"Bench{uuid.uuid4().hex[:6]}",
            "date_of_birth": "1990-01-01",
            "nationality": "SYR",
            "sex": "unknown",
        },
        "identified_on": on,
        "identified_at": "border",
    }
    response = await http.post("/cases", json=body, headers=headers)
    if response.status_code != 201:
        raise BenchError(f"POST /cases: {response.status_code} {response.text}")
    case_id: str = response.json()["id"]
    return case_id


def format_result(result: dict[str, Any]) -> str:
    """The figures as a few fixed-width lines."""
    lines = [
        f"front door: {result['requests']} requests per side, {result['rounds']} rounds, "
        f"no-op Update p50 {result['noop_p50_ms']:.2f} ms, load "
        f"{result['loadavg_1min'][0]:.1f} -> {result['loadavg_1min'][1]:.1f}",
        "  variant                       floor ms  action ms  floor/noop  action/floor",
    ]
    for row in result["variants"]:
        floor_ok = (row["floor_ratio"] or 99) <= result["floor_target"]
        action_ok = (row["action_ratio"] or 99) <= result["action_target"]
        lines.append(
            f"  {row['variant']:<29} {row['floor_p50_ms']:8.2f} {row['action_p50_ms']:10.2f} "
            f"{show_ratio(row['floor_ratio']):>11} {show_ratio(row['action_ratio']):>13}"
            f"  {'ok' if floor_ok and action_ok else 'MISS'}"
        )
    lines.append(
        f"  targets: floor/noop <= {result['floor_target']}, action/floor <= "
        f"{result['action_target']}"
    )
    return "\n".join(lines)


class Run(Protocol):
    """A served-app benchmark's `run`, given a client and a read model."""

    def __call__(
        self, client: Client, *, db_url: str, sizes: Sizes, log: Callable[[str], None]
    ) -> Awaitable[dict[str, Any]]:
        """The figures."""
        ...


async def on_fresh_server(
    bench: Run, sizes: Sizes, log: Callable[[str], None], *, name: str
) -> dict[str, Any]:
    """`bench` on a dev server started in memory and a temp read model, both gone after."""
    with tempfile.TemporaryDirectory(prefix=f"asylumflow-bench-{name}-") as tmp:
        async with fresh_server() as client:
            return await bench(
                client, db_url=f"sqlite:///{Path(tmp) / 'readmodel.db'}", sizes=sizes, log=log
            )


async def run_on_fresh_server(sizes: Sizes, log: Callable[[str], None]) -> dict[str, Any]:
    """Start a dev server in memory and a temp read model, run, stop."""
    return await on_fresh_server(run, sizes, log, name="door")


def main(argv: list[str] | None = None) -> int:
    """Run on a fresh dev server and print the figures (or, with --serve, serve one app)."""
    parser = argparse.ArgumentParser(prog="bench.front_door", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", choices=sorted(SIZES), default="full")
    parser.add_argument("--json-out", type=Path, default=None, help="write the figures here")
    parser.add_argument("--serve", choices=["api", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--http", default="h11", help=argparse.SUPPRESS)
    parser.add_argument("--orjson", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_then_exit(FACTORIES[(args.serve, args.orjson)], loop=args.loop, http=args.http)

    def log(line: str) -> None:
        print(f"[front door] {line}", file=sys.stderr, flush=True)

    return run_and_report(run_on_fresh_server(SIZES[args.sizes], log), args.json_out, format_result)


if __name__ == "__main__":
    sys.exit(main())
