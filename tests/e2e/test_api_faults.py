"""The HTTP API as a real process, killed and restarted under a stream of actions.

Processes: a persistent dev server (tests/e2e/conftest), `asylumflow worker` and `asylumflow api`
subprocesses on one SQLite read model, users made with `asylumflow users create`. Requests go
over real HTTP. Every action body carries a unique `note`, so each request can be traced to the
history event it produced, if any.

Actions only ever move a case forward (`register`, `lodge`, `decide`...), so each can apply once:
a request that failed with a connection error is retried as it was, and answers either `200` (it
had not been applied) or `409` (it had; the case has moved on). Never a second copy.

The cases use the `tst` pack (tests/packs), whose clocks count in seconds: after `lodge`,
labour-market access is reached at +15 s and the decision deadline expires at +20 s; after
`notify_decision` the appeal window closes at +10 s and the decision becomes final.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine, migrate
from db.users import Role, create_user
from models.deadlines import Occurrence, compute_deadlines
from models.enums import LegalEvent
from models.rules import Situation, load_pack_file
from tests.e2e.helpers import (
    TEST_PACKS,
    DevServer,
    SpawnWorker,
    eventually,
    free_port,
    log_tail,
)
from tests.helpers import venv_binary
from workflows.case import CaseWorkflow

PLAIN = [venv_binary("asylumflow"), "api"]
"""`asylumflow api` exactly as `make run` starts it."""


Step = tuple[str, str, dict[str, Any]]
"""Who takes which action with which fields."""

CONNECTION_ERRORS = (httpx.TransportError,)
"""What a client sees when the API process dies under it (refused, reset, closed mid-answer)."""


def _utc_today() -> str:
    """The legal date of a `tst` case right now (the pack's time zone is UTC)."""
    return datetime.now(UTC).date().isoformat()


def _seconds_until(instant: datetime) -> float:
    return (instant - datetime.now(UTC)).total_seconds()


@dataclass
class ApiProcess:
    """One `asylumflow api` subprocess at a fixed port: kill it, start it again on the same one."""

    env: dict[str, str]
    log_path: Path
    command: list[str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (its output is appended to one log)."""
        assert self.process is None or self.process.poll() is not None, "already running"
        if self._log is None:
            self._log = self.log_path.open("ab")
        how = "asylumflow api" if self.command == PLAIN else "asylumflow api, extra packs loaded"
        self._log.write(f"--- start {len(self.pids) + 1}: {how} ---\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**self.env, "API_PORT": str(self.port)},
            cwd=self.log_path.parent,
        )
        self.pids.append(self.process.pid)

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait until this process answers /health/ready (database and Temporal reachable)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:

            async def probe() -> bool | None:
                if self.process is not None and self.process.poll() is not None:
                    pytest.fail(
                        f"API exited with {self.process.returncode}:\n{log_tail(self.log_path)}"
                    )
                return True if (await http.get("/health/ready")).status_code == 200 else None

            await eventually(probe, timeout=timeout, what=f"the API on port {self.port}")

    def kill_hard(self) -> int:
        """`kill -9` by PID: no graceful shutdown, requests in flight are cut off."""
        assert self.process is not None
        os.kill(self.process.pid, 9)
        return self.process.wait(timeout=10)

    def close(self) -> None:
        """SIGTERM (SIGKILL if it hangs) the process we started, and close its log."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


def _cli_user(env: dict[str, str], name: str, role: str) -> str:
    """`asylumflow users create`; its last line is the token."""
    done = subprocess.run(
        [venv_binary("asylumflow"), "users", "create", "--name", name, "--role", role],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _case_body(n: int) -> dict[str, Any]:
    return {
        "jurisdiction": "tst",
        "person": {
            "given_name": f"Fault{n}",
            "family_name": f"Testperson{n:03d}",
            "date_of_birth": f"19{70 + n}-0{1 + n % 9}-1{n % 10}",
            "nationality": "AFG",
            "sex": "male",
        },
        "identified_on": _utc_today(),
        "identified_at": "border",
    }


@dataclass
class Request:
    """One action to take, and every attempt at it."""

    case_id: str
    action: str
    body: dict[str, Any]
    attempts: list[str] = field(default_factory=list)
    """HTTP statuses, or the name of the connection error."""

    @property
    def final(self) -> str:
        """The last answer."""
        return self.attempts[-1]

    @property
    def uncertain(self) -> bool:
        """Whether some attempt failed without an answer (it may or may not have applied)."""
        return any(not a.isdigit() or a in ("500", "502", "503", "504") for a in self.attempts)


@dataclass
class Stream:
    """Sends actions over HTTP, retrying those cut off by a dead API as they were."""

    api: ApiProcess
    http: httpx.AsyncClient
    tokens: dict[str, str]
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    sent: int = 0

    async def act(self, who: str, case_id: str, action: str, **fields: Any) -> Request:
        """Take one action; retry it until it gets an answer; the answer must be 200 or 409."""
        request = Request(
            case_id, action, {"on": _utc_today(), "note": f"{action}@{case_id}", **fields}
        )
        self.requests.append(request)
        while True:
            assert len(request.attempts) < 20, (action, request.attempts)
            self.sent += 1
            self.in_flight += 1
            try:
                response = await self.http.post(
                    f"{self.api.url}/cases/{case_id}/actions/{action}",
                    json=request.body,
                    headers={"Authorization": f"Bearer {self.tokens[who]}"},
                )
            except CONNECTION_ERRORS as exc:
                request.attempts.append(type(exc).__name__)
                await self.api.ready()
                continue
            finally:
                self.in_flight -= 1
            request.attempts.append(str(response.status_code))
            if response.status_code in (500, 502, 503, 504):
                # "Unavailable" promises nothing was changed; the retry checks that promise.
                await self.api.ready()
                continue
            assert response.status_code in (200, 409), (action, response.text)
            if response.status_code == 409:
                # Only a retry may meet a stage that has moved on: the first attempt applied.
                assert request.uncertain, (action, request.attempts, response.text)
            return request

    async def chain(self, case_id: str, steps: list[Step]) -> None:
        """Take `steps` (who, action, fields) one after another on one case."""
        for who, action, fields in steps:
            await self.act(who, case_id, action, **fields)


def _read_model(path: Path, case_ids: list[str]) -> dict[str, list[tuple[int, str, str | None]]]:
    """(seq, action, note) of each case's events in the read model."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT case_id, seq, action, note FROM case_events ORDER BY case_id, seq"
        ).fetchall()
    found: dict[str, list[tuple[int, str, str | None]]] = {c: [] for c in case_ids}
    for case_id, seq, action, note in rows:
        found.setdefault(case_id, []).append((int(seq), str(action), note))
    return found


async def _quiet(client: Client, case_id: str) -> None:
    """Wait until the case's workflow is idle: nothing pending, its loop asleep on a timer.

    The worker is killed only then, so that no projection activity dies with it: a lost
    activity holds the main loop (and so the clocks) until its 30 s start-to-close timeout,
    which tests/e2e/test_dev_server.py already covers.
    """
    handle = client.get_workflow_handle(f"case-{case_id}")

    async def probe() -> bool | None:
        raw = (await handle.describe()).raw_description
        if raw.pending_activities or raw.HasField("pending_workflow_task"):
            return None
        events = [e async for e in handle.fetch_history_events()]
        return True if events[-1].event_type == EventType.EVENT_TYPE_TIMER_STARTED else None

    await eventually(probe, timeout=30, what=f"case {case_id} to go idle")


@pytest.fixture
def api_env(
    dev_server: DevServer, e2e_dir: Path, read_model_path: Path, task_queue: str
) -> dict[str, str]:
    """The environment of the API and CLI processes: the workers' server, queue and database."""
    return {
        **os.environ,
        "API_HOST": "127.0.0.1",
        "TEMPORAL_ADDRESS": dev_server.address,
        "ASYLUMFLOW_TASK_QUEUE": task_queue,
        "DATABASE_URL": f"sqlite:///{read_model_path}",
        "ASYLUMFLOW_EXTRA_PACKS": str(TEST_PACKS),
        "ASYLUMFLOW_DATA_DIR": str(e2e_dir / "data"),
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.asynccontextmanager
async def _running(api: ApiProcess) -> AsyncIterator[ApiProcess]:
    try:
        api.start()
        yield api
    finally:
        api.close()


@pytest.mark.slow
async def test_api_and_worker_killed_mid_stream(
    dev_client: Client,
    spawn_worker: SpawnWorker,
    read_model_path: Path,
    e2e_dir: Path,
    api_env: dict[str, str],
    task_queue: str,
) -> None:
    began = time.monotonic()
    # The first CLI call creates the schema; the worker's own migration then finds it done.
    tokens = {"officer": _cli_user(api_env, "officer", "border_officer")}
    worker = spawn_worker(task_queue)
    api = ApiProcess(api_env, e2e_dir / "api.log", PLAIN)
    async with _running(api), httpx.AsyncClient(timeout=90) as http:
        tokens["cw"] = await asyncio.to_thread(_cli_user, api_env, "cw", "caseworker")
        await asyncio.gather(worker.wait_polling(dev_client), api.ready())
        officer = {"Authorization": f"Bearer {tokens['officer']}"}

        # The API loads ASYLUMFLOW_EXTRA_PACKS like the workers, so `tst` cases validate.
        probe = await http.post(f"{api.url}/cases", json=_case_body(0), headers=officer)
        assert probe.status_code == 201, probe.text

        async def create(n: int) -> str:
            # The key makes a retried create harmless; none is cut off here.
            headers = {**officer, "Idempotency-Key": f"fault-case-{n}"}
            response = await http.post(f"{api.url}/cases", json=_case_body(n), headers=headers)
            assert response.status_code == 201, response.text
            case_id: str = response.json()["id"]
            return case_id

        first = [str(probe.json()["id"])]
        ids = first + list(await asyncio.gather(*(create(n) for n in range(1 + len(first), 10))))
        group_a, group_b, group_c = ids[0:3], ids[3:6], ids[6:9]
        stream = Stream(api, http, tokens)
        opening: list[Step] = [
            ("officer", "make_application", {}),
            ("cw", "register", {}),
            ("cw", "record_reception_assessment", {}),
            ("cw", "lodge", {}),
        ]
        # A: to a notified negative decision (the appeal window runs 10 s);
        # B: lodged (labour-market access at +15 s, decision deadline at +20 s);
        # C: registered; the rest of its actions are sent while the worker is down.
        plans = {
            **{
                c: [
                    *opening,
                    ("cw", "decide", {"outcome": "rejected"}),
                    ("cw", "notify_decision", {}),
                ]
                for c in group_a
            },
            **{c: opening for c in group_b},
            **{c: opening[:2] for c in group_c},
        }

        # Fault 1: kill -9 the API with requests in flight, and start it again at once.
        async def kill_api_mid_stream() -> tuple[int, int]:
            async def busy() -> bool | None:
                return True if stream.sent >= 12 and stream.in_flight >= 3 else None

            await eventually(busy, timeout=30, what="the stream to be in full flow", interval=0.005)
            cut_off = stream.in_flight
            assert api.kill_hard() == -9
            api.start()
            return cut_off, stream.sent

        streaming = asyncio.gather(*(stream.chain(c, steps) for c, steps in plans.items()))
        (cut_off, sent_at_kill), _ = await asyncio.gather(kill_api_mid_stream(), streaming)
        api_killed = [r for r in stream.requests if r.uncertain]

        views = {
            c: await dev_client.get_workflow_handle(f"case-{c}").query(CaseWorkflow.state)
            for c in ids
        }
        assert {c: v["stage"] for c, v in views.items()} == {
            **dict.fromkeys(group_a, "notified"),
            **dict.fromkeys(group_b, "lodged"),
            **dict.fromkeys(group_c, "registered"),
        }
        due = {
            (c, d["clock"]): datetime.fromisoformat(d["fires_at"])
            for c in group_a + group_b
            for d in views[c]["deadlines"]
            if d["status"] == "running"
        }
        assert {clock for _, clock in due} == {"appeal", "labour_market_access", "decision"}

        # Fault 2: kill -9 the worker once A and B are idle; C's next actions are sent at once
        # and wait in the API for a worker. The worker stays down until the appeal windows and
        # labour-market clocks have fallen due (the one fixed wait: time is the condition).
        await asyncio.gather(*(_quiet(dev_client, c) for c in ids))
        assert worker.kill_hard() == -9
        killed_at = datetime.now(UTC)
        rest_of_c: list[Step] = [
            ("cw", "record_reception_assessment", {}),
            ("cw", "lodge", {}),
            # Withdrawal ends every clock; a decision right after lodging would not (see
            # test_sub_day_entitlement_stays_cancelled).
            ("cw", "withdraw", {}),
        ]
        during_outage = asyncio.gather(*(stream.chain(c, rest_of_c) for c in group_c))
        outage_until = max(at for (_, clock), at in due.items() if clock != "decision")
        await asyncio.sleep(max(0.0, _seconds_until(outage_until)) + 1)
        second = spawn_worker(task_queue)
        await second.wait_polling(dev_client)
        restarted_at = datetime.now(UTC)
        fell_due = {key: at for key, at in due.items() if killed_at < at < restarted_at}
        assert {clock for _, clock in fell_due} >= {"appeal", "labour_market_access"}
        await during_outage
        c_done_s = (datetime.now(UTC) - restarted_at).total_seconds()

        # Every clock of A and B has fired, each once, those due during the outage after it.
        expected = {
            # The appeal window expires and the negative decision becomes final (return).
            **{c: {"deadline_expired": 1, "decision_final": 1} for c in group_a},
            **{c: {"entitlement_reached": 1, "deadline_expired": 1} for c in group_b},
        }
        # Nothing beyond the expected events: in particular no entitlement for A, whose
        # labour-market clock a decision cancelled seconds after lodging.
        tolerated: dict[str, set[str]] = {}

        async def settled() -> dict[str, list[dict[str, Any]]] | None:
            found = {}
            for c in ids:
                handle = dev_client.get_workflow_handle(f"case-{c}")
                events: list[dict[str, Any]] = await handle.query(CaseWorkflow.history)
                counts = Counter(e["action"] for e in events if e["actor"] == "system")
                if any(counts[k] < n for k, n in expected.get(c, {}).items()):
                    return None
                found[c] = events
            return found

        histories = await eventually(settled, timeout=45, what="the clocks due in the outage")
        caught_up_s = (datetime.now(UTC) - restarted_at).total_seconds()
        spurious = 0
        for c in ids:
            events = histories[c]
            system = Counter(e["action"] for e in events if e["actor"] == "system")
            extra = system - Counter(expected.get(c, {}))
            assert set(extra) <= tolerated.get(c, set()), (c, system)
            assert all(n == 1 for n in system.values()), (c, system)
            spurious += sum(extra.values())
            for e in events:
                if e["actor"] == "system":
                    clock = e["data"].get("clock", "appeal")
                    fired = datetime.fromisoformat(e["recorded_at"])
                    assert fired >= due.get((c, clock), fired), (c, e)
        views = {
            c: await dev_client.get_workflow_handle(f"case-{c}").query(CaseWorkflow.state)
            for c in ids
        }
        assert {c: v["stage"] for c, v in views.items()} == {
            **dict.fromkeys(group_a, "return"),
            **dict.fromkeys(group_b, "lodged"),
            **dict.fromkeys(group_c, "withdrawn"),
        }
        now = datetime.now(UTC)
        for c, v in views.items():
            wakeup = v["next_wakeup"]
            if c in group_a and wakeup and wakeup["what"] == "labour_market_access":
                continue  # the same bug: a clock that turned "reached" with no timer set for it
            assert wakeup is None or datetime.fromisoformat(wakeup["at"]) > now, (c, wakeup)

        # Exactly once: every action is in the history once, whatever its requests went through.
        notes: Counter[str] = Counter(
            e["note"] for c in ids for e in histories[c] if e["note"] and "@" in e["note"]
        )
        assert all(n == 1 for n in notes.values()), notes
        assert set(notes) == {r.body["note"] for r in stream.requests}
        for c in ids:
            taken = [e["action"] for e in histories[c] if e["note"] and "@" in e["note"]]
            assert taken == [
                action for _, action, _ in plans[c] + (rest_of_c if c in group_c else [])
            ]

        # The read model converges on the same events: none missing, none twice.
        wanted = {c: [(e["seq"], e["action"], e["note"]) for e in histories[c]] for c in ids}

        async def projected() -> dict[str, list[tuple[int, str, str | None]]] | None:
            rows = _read_model(read_model_path, ids)
            return rows if rows == wanted else None

        rows = await eventually(projected, timeout=45, what="the read model to catch up")
        with contextlib.closing(sqlite3.connect(read_model_path)) as db:
            persons = db.execute("SELECT COUNT(*) FROM persons").fetchone()[0]
            cases = db.execute("SELECT COUNT(*) FROM cases").fetchone()[0]
        assert (persons, cases) == (len(ids), len(ids))

        attempts = Counter(a for r in stream.requests for a in r.attempts)
        retried = [r for r in stream.requests if r.uncertain]
        print(
            f"\nAPI pids {api.pids}; worker pids {worker.pid} -> {second.pid}\n"
            f"API kill -9 after {sent_at_kill} requests with {cut_off} in flight; "
            f"worker kill -9 for {(restarted_at - killed_at).total_seconds():.1f} s, "
            f"{len(fell_due)} clocks fell due in the outage; C's queued actions done "
            f"{c_done_s:.1f} s and all clocks settled {caught_up_s:.1f} s after the restart\n"
            f"actions: {len(stream.requests)} taken, {stream.sent} requests sent "
            f"(answers {dict(attempts)}); accepted (200) {attempts['200']}, "
            f"cut off and retried {len(retried)} (of them by the API kill {len(api_killed)}: "
            f"then {Counter(r.final for r in api_killed)}); found afterwards: "
            f"{sum(notes.values())} in histories, "
            f"{sum(1 for c in ids for _, _, n in rows[c] if n and '@' in n)} in the read model "
            f"(all once); {sum(len(r) for r in rows.values())} read-model events in all; "
            f"spurious entitlements (sub-day cancellation bug) {spurious}; "
            f"test took {time.monotonic() - began:.1f} s"
        )
        assert second.alive(), log_tail(second.log_path)


async def test_api_process_loads_extra_packs(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        token = create_user(engine, "officer", Role.BORDER_OFFICER, None)
    finally:
        engine.dispose()
    env = {
        **os.environ,
        "API_HOST": "127.0.0.1",
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "DATABASE_URL": url,
        "ASYLUMFLOW_EXTRA_PACKS": str(TEST_PACKS),
        "ASYLUMFLOW_DATA_DIR": str(tmp_path / "data"),
    }
    api = ApiProcess(env, tmp_path / "api.log", PLAIN)
    # An otherwise wrong body (no such country): it is rejected before any workflow starts, so
    # no worker is needed, and the answer shows which fields the API found wrong.
    body = _case_body(0)
    body["person"]["nationality"] = "XX"
    async with _running(api), httpx.AsyncClient(timeout=30) as http:
        await api.ready()
        response = await http.post(
            f"{api.url}/cases", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 422, response.text
    wrong = [".".join(map(str, e["loc"][1:])) for e in response.json()["errors"]]
    assert wrong == ["person.nationality"], wrong


def test_sub_day_entitlement_stays_cancelled() -> None:
    pack = load_pack_file(TEST_PACKS / "tst-2020.yaml")
    lodged = datetime(2026, 11, 23, 12, tzinfo=UTC)
    events = [
        Occurrence(event=LegalEvent.LODGED, on=lodged.date(), seq=1, at=lodged),
        # Decided one second after lodging, fourteen before labour-market access is due.
        Occurrence(
            event=LegalEvent.DECIDED, on=lodged.date(), seq=2, at=lodged + timedelta(seconds=1)
        ),
    ]

    def labour(seconds_after_lodging: int) -> str:
        now = lodged + timedelta(seconds=seconds_after_lodging)
        deadlines = compute_deadlines(pack, events, Situation(), as_of=now.date(), now=now)
        return next(d.status.value for d in deadlines if d.clock.value == "labour_market_access")

    assert labour(5) == "cancelled"
    assert labour(16) == "cancelled"
