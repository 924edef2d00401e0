"""The same code scaled out: a dev server, PostgreSQL, two workers and two API processes.

500 cases are opened and moved on (`make_application`) through both APIs, alternately, every
request with its own `Idempotency-Key`; a request whose API dies under it is retried with the
same key and body on the other one. A quarter of the way in, one worker is killed (kill -9);
halfway, one API. Nothing may be lost or duplicated (each case once in the read model, each
action once in its history), and both workers must have taken work (the identities that
completed the cases' workflow tasks, from the histories). Needs ASYLUMFLOW_TEST_PG_URL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from db.engine import make_engine, migrate
from db.users import Role, create_user
from models.rules import local_today
from tests.conftest import PG_ADMIN_URL
from tests.e2e.helpers import DevServer, eventually, free_port, log_tail
from tests.helpers import venv_binary

CASES = 500
CONCURRENCY = 12
TASK_QUEUE = "scale-out"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (dropped afterwards)."""
    if not PG_ADMIN_URL:
        pytest.skip("no PostgreSQL: set ASYLUMFLOW_TEST_PG_URL (.ci/run does)")
    name = f"af_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Processes:
    """`asylumflow worker` and `asylumflow api` subprocesses, stopped by pid at the end."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.started: list[tuple[subprocess.Popen[bytes], IO[bytes], Path]] = []

    def start(self, what: str, port: int | None = None) -> subprocess.Popen[bytes]:
        """Start one process; its output goes to its own log."""
        log_path = self.directory / f"{what}-{len(self.started) + 1}.log"
        log = log_path.open("wb")
        env = {**self.env, **({"API_PORT": str(port)} if port else {})}
        process = subprocess.Popen(
            [venv_binary("asylumflow"), what],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.directory,
        )
        self.started.append((process, log, log_path))
        return process

    def tails(self) -> str:
        """Every process's last log lines."""
        return "\n".join(f"--- {p.name}\n{log_tail(p, 15)}" for _, _, p in self.started)

    def close(self) -> None:
        """SIGTERM, then SIGKILL what is left; close the logs."""
        for process, _, _ in self.started:
            if process.poll() is None:
                process.terminate()
        for process, log, _ in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_two_workers_two_apis_lose_nothing(
    dev_server: DevServer, e2e_dir: Path, pg_url: str
) -> None:
    client = await dev_server.connect()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "API_"))},
        "TEMPORAL_ADDRESS": dev_server.address,
        "DATABASE_URL": pg_url,
        "ASYLUMFLOW_TASK_QUEUE": TASK_QUEUE,
        "ASYLUMFLOW_DATA_DIR": str(e2e_dir / "data"),
        "ASYLUMFLOW_PROJECTION_REPAIR_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    engine = make_engine(pg_url)
    token = create_user(engine, "cw-scale", Role.CASEWORKER)
    procs = Processes(e2e_dir, env)
    try:
        workers = [procs.start("worker"), procs.start("worker")]
        ports = [free_port(), free_port()]
        apis = [procs.start("api", port) for port in ports]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        https = [
            httpx.AsyncClient(base_url=u, timeout=30, headers={"Authorization": f"Bearer {token}"})
            for u in urls
        ]

        async def both_ready() -> bool | None:
            for http in https:
                body = (await http.get("/health/ready")).json()
                if body.get("workers_polling", 0) < 2:
                    return None
            return True

        await eventually(both_ready, timeout=90, what="two APIs seeing two workers")

        retries = Counter[str]()
        down: set[int] = set()

        async def send(index: int, path: str, body: dict[str, Any], key: str) -> Any:
            """Through API `index % 2`; on a dead API, the same request on the other one."""
            deadline = time.monotonic() + 120
            turn = index
            while True:
                api = turn % 2
                if api in down:
                    turn += 1
                    continue
                try:
                    response = await https[api].post(
                        path, json=body, headers={"Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    retries["transport"] += 1
                    turn += 1
                else:
                    if response.status_code != 503:
                        assert response.status_code in (200, 201), response.text
                        return response.json()
                    retries["503"] += 1
                if time.monotonic() > deadline:
                    pytest.fail(f"{path} not answered:\n{procs.tails()}")
                await asyncio.sleep(0.3)

        today = local_today("rs", datetime.now(UTC))
        gate = asyncio.Semaphore(CONCURRENCY)
        done = 0
        case_ids: list[str] = []

        async def one(i: int) -> None:
            nonlocal done
            async with gate:
                case = await send(
                    i,
                    "/cases",
                    {
                        "jurisdiction": "rs",
                        "person": {
                            "given_name": f"Scale{i}",
                            "family_name": "Testperson",
                            "date_of_birth": "1990-01-01",
                            "nationality": "AFG",
                            "sex": "male",
                        },
                        "identified_on": (today - timedelta(days=10)).isoformat(),
                        "identified_at": "border",
                        "vulnerabilities": [],
                    },
                    f"case-{i}",
                )
                await send(
                    i + 1,
                    f"/cases/{case['id']}/actions/make_application",
                    {"on": (today - timedelta(days=9)).isoformat()},
                    f"apply-{i}",
                )
                case_ids.append(case["id"])
                done += 1

        async def faults() -> None:
            while done < CASES // 4:
                await asyncio.sleep(0.2)
            os.kill(workers[0].pid, signal.SIGKILL)
            while done < CASES // 2:
                await asyncio.sleep(0.2)
            down.add(0)  # the driver learns it from the connection errors; this saves time
            os.kill(apis[0].pid, signal.SIGKILL)

        async def progress() -> None:
            while True:
                await asyncio.sleep(10)
                print(
                    f"scale-out: {done}/{CASES} after {time.monotonic() - began:.0f} s, "
                    f"retries {dict(retries)}",
                    flush=True,
                )

        began = time.monotonic()
        killer = asyncio.create_task(faults())
        reporter = asyncio.create_task(progress())
        try:
            await asyncio.gather(*(one(i) for i in range(CASES)))
        finally:
            reporter.cancel()
        await killer
        elapsed = time.monotonic() - began
        for http in https:
            await http.aclose()
        assert workers[0].poll() is not None and apis[0].poll() is not None

        # Nothing lost or duplicated: one case per key, one application per case.
        assert len(set(case_ids)) == CASES

        async def projected() -> tuple[int, int, int] | None:
            with engine.connect() as conn:
                persons = conn.execute(text("SELECT count(*) FROM persons")).scalar_one()
                cases = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
                applied = conn.execute(
                    text("SELECT count(*) FROM case_events WHERE action = 'make_application'")
                ).scalar_one()
            counts = (persons, cases, applied)
            return counts if counts == (CASES, CASES, CASES) else None

        await eventually(projected, timeout=60, what="the read model to hold every case once")
        identities, applications = await _histories(client, case_ids)
        assert applications == Counter({1: CASES}), applications
        pids = Counter(identity.split("@", 1)[0] for identity in identities.elements())
        took = {w.pid: pids[str(w.pid)] for w in workers}
        assert all(took.values()), (took, pids)
        print(
            f"\nscale-out: {CASES} cases and {CASES} actions through 2 APIs in {elapsed:.1f} s; "
            f"worker {workers[0].pid} killed at {CASES // 4} cases, API on port {ports[0]} at "
            f"{CASES // 2}; retries {dict(retries)}; read model {CASES} cases, {CASES} "
            f"applications, none twice; workflow tasks completed per worker pid {took}"
        )
    finally:
        procs.close()
        engine.dispose()


async def _histories(client: Client, case_ids: list[str]) -> tuple[Counter[str], Counter[int]]:
    """Who completed each case's workflow tasks, and how many applications each case has."""
    identities: Counter[str] = Counter()
    applications: Counter[int] = Counter()
    gate = asyncio.Semaphore(16)

    async def one(case_id: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(f"case-{case_id}").fetch_history()
        accepted = 0
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                identities[event.workflow_task_completed_event_attributes.identity] += 1
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                name = event.workflow_execution_update_accepted_event_attributes
                if name.accepted_request.input.name == "act":
                    accepted += 1
        applications[accepted] += 1

    await asyncio.gather(*(one(c) for c in case_ids))
    return identities, applications
