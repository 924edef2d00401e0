"""`make run`: a persistent local Temporal dev server, the worker and the API, supervised.

Reads its settings from the environment like every other process (core/settings: API_PORT,
TEMPORAL_PORT, TEMPORAL_UI_PORT, ASYLUMFLOW_DATA_DIR, DATABASE_URL...) and ASYLUMFLOW_DEMO (seed
the demo caseload on the first start unless `0`).

Cases survive a restart: the Temporal server keeps its state in a SQLite file under the data
directory, and the read model lives beside it. A process that dies is started again with a
backoff (the Temporal server on the same file and ports; the worker and the API reconnect by
themselves); only Ctrl-C or SIGTERM stops the stack, in order: the API first (it finishes the
requests it has), then the worker (it finishes its tasks), the Temporal server last.
The children's process ids are in `<data dir>/stack.json` (operators and the fault test read it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

from core.codec import new_key
from core.private_files import restrict_tree, write_private
from workflows.search import cli_flags

BIN = Path(sys.executable).parent

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0
"""A process that ran this long before it died is restarted at once, not with more backoff."""

STOP_TIMEOUTS = {"api": 20.0, "worker": 30.0, "temporal": 15.0}
"""Seconds each process gets to drain on SIGTERM before it is killed."""

DEMO_ATTEMPTS = 3


def log(message: str) -> None:
    """One launcher line, with the time, on stdout."""
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    print(f"[stack {stamp}] {message}", flush=True)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Child:
    """One supervised process: started again with backoff whenever it exits."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_crashes: int = 0
    restart_at: float | None = None
    on_start: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        """Start the process in a process group of its own.

        A terminal's Ctrl-C then reaches only the launcher, which stops the children in order.
        """
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        for hook in self.on_start:
            hook()

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    def check(self, now: float) -> None:
        """Notice an exit (schedule the restart with backoff) or restart when it is due."""
        if self.process is None:
            return
        if self.restart_at is None and self.process.poll() is not None:
            ran = now - self.started_at
            self.quick_crashes = 0 if ran >= STABLE_AFTER else self.quick_crashes + 1
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, self.quick_crashes - 1))
            if ran >= STABLE_AFTER:
                delay = 0.0
            self.restart_at = now + delay
            log(
                f"{self.name} (pid {self.process.pid}) exited with code "
                f"{self.process.returncode} after {ran:.0f} s; restarting in {delay:.0f} s"
            )
        if self.restart_at is not None and now >= self.restart_at:
            if self.port is not None and _port_open(self.port):
                self.restart_at = now + 1  # the port is still held: try again in a second
                return
            self.restarts += 1
            self.start()
            assert self.process is not None
            log(f"{self.name} restarted (pid {self.process.pid}, restart {self.restarts})")

    def stop(self, timeout: float) -> None:
        """SIGTERM, wait up to `timeout` s for it to drain, then SIGKILL."""
        if not self.alive():
            return
        assert self.process is not None
        log(f"stopping {self.name} (pid {self.process.pid})")
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"{self.name} did not stop within {timeout:.0f} s; killing it")
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL at once (a second Ctrl-C)."""
        if self.alive():
            assert self.process is not None
            self.process.kill()


class Stack:
    """The launcher: the processes, the stop flag and the demo seeding job."""

    def __init__(self) -> None:
        from core.settings import Settings

        settings = Settings()
        self.api_port = settings.api_port
        self.temporal_port = settings.temporal_port
        self.ui_port = settings.temporal_ui_port
        self.data_dir = settings.data_dir.resolve()
        self.stopping = threading.Event()
        # Everything this stack and its children create (the read model, Temporal's database,
        # keys) is the owner's alone; files from before this rule are tightened too.
        os.umask(0o077)
        restrict_tree(self.data_dir)
        self.env = {
            **os.environ,
            **local_keys(self.data_dir),
            "ASYLUMFLOW_DATA_DIR": str(self.data_dir),
            # The embedded server: every child talks to it, whatever TEMPORAL_ADDRESS said.
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "API_PORT": str(self.api_port),
            "PYTHONUNBUFFERED": "1",
        }
        # A cluster's connection options do not apply to the embedded, plaintext server.
        for name in (
            "TEMPORAL_TLS",
            "TEMPORAL_TLS_CA",
            "TEMPORAL_TLS_CERT",
            "TEMPORAL_TLS_KEY",
            "TEMPORAL_TLS_SERVER_NAME",
            "TEMPORAL_API_KEY",
            "TEMPORAL_NAMESPACE",
        ):
            self.env.pop(name, None)
        self.db_url = settings.database_url or f"sqlite:///{self.data_dir / 'asylumflow.db'}"
        self.temporal = Child(
            "temporal",
            [
                str(BIN / "temporal"),
                "server",
                "start-dev",
                "--db-filename",
                str(self.data_dir / "temporal.db"),
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.temporal_port),
                "--ui-port",
                str(self.ui_port),
                "--log-level",
                "warn",
                *cli_flags(),
            ],
            self.env,
            port=self.temporal_port,
        )
        self.worker = Child("worker", [str(BIN / "asylumflow"), "worker"], self.env)
        self.api = Child("api", [str(BIN / "asylumflow"), "api"], self.env, port=self.api_port)
        self.children = [self.temporal, self.worker, self.api]
        for child in self.children:
            child.on_start.append(self._write_pids)
        self.demo: subprocess.Popen[bytes] | None = None
        self.demo_out: IO[bytes] | None = None
        self.demo_attempts = 0
        self.demo_retry_at: float | None = None

    def _write_pids(self) -> None:
        pids = {c.name: c.process.pid for c in self.children if c.process is not None}
        pids["launcher"] = os.getpid()
        target = self.data_dir / "stack.json"
        scratch = target.with_suffix(".tmp")
        scratch.write_text(json.dumps(pids))
        scratch.replace(target)

    def _wait_port(self, child: Child, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            if child.process is not None and child.process.poll() is not None:
                raise SystemExit(f"{child.name} exited with code {child.process.returncode}")
            assert child.port is not None
            if _port_open(child.port):
                return
            self.stopping.wait(0.2)
        if not self.stopping.is_set():
            raise SystemExit(f"{child.name} did not open port {child.port} within {timeout:.0f} s")

    def _run_tool(self, *args: str) -> bool:
        done = subprocess.run(
            [str(BIN / "asylumflow"), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            log(done.stdout.strip())
            return True
        log(f"`asylumflow {' '.join(args)}` failed (the stack runs on): {done.stderr.strip()}")
        return False

    def start(self) -> None:
        """Start everything in order; seeding the demo goes on in the background."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for port, name in (
            (self.api_port, "API_PORT"),
            (self.temporal_port, "TEMPORAL_PORT"),
            (self.ui_port, "TEMPORAL_UI_PORT"),
        ):
            if _port_open(port):
                raise SystemExit(f"port {port} ({name}) is in use; set {name} to another port")
        self.temporal.start()
        self._wait_port(self.temporal, 60)
        if self.stopping.is_set():
            return
        from db.engine import migrate

        migrate(self.db_url)
        self.worker.start()
        # The nightly reconciliation of the read model with the workflows, and the retention.
        self._run_tool("schedules", "apply")
        marker = self.data_dir / "rebuild-needed"
        if marker.exists():
            log("restored data: rebuilding the read model from the workflows…")
            if self._run_tool("readmodel", "rebuild", "--drop-missing"):
                marker.unlink()
        self.api.start()
        self._wait_port(self.api, 60)
        if self.stopping.is_set():
            return
        print(
            "\nasylumflow is running\n"
            f"  API          http://127.0.0.1:{self.api_port}   "
            "(docs: /docs, health: /health/ready)\n"
            f"  Temporal UI  http://127.0.0.1:{self.ui_port}\n"
            f"  Temporal     127.0.0.1:{self.temporal_port}\n"
            f"  data         {self.data_dir}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        if os.environ.get("ASYLUMFLOW_DEMO", "1") != "0" and not self._demo_marker.exists():
            self._start_demo()

    @property
    def _demo_marker(self) -> Path:
        return self.data_dir / "demo-seeded"

    def _start_demo(self) -> None:
        self.demo_attempts += 1
        log("seeding the demo caseload in the background (ASYLUMFLOW_DEMO=0 skips this)…")
        self.demo_out = (self.data_dir / "demo.out").open("wb")
        self.demo = subprocess.Popen(
            [str(BIN / "asylumflow"), "demo"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.demo_out,
            start_new_session=True,
        )
        self.demo_retry_at = None

    def _check_demo(self, now: float) -> None:
        if self.demo_retry_at is not None and now >= self.demo_retry_at:
            self._start_demo()
        if self.demo is None or self.demo.poll() is None:
            return
        code = self.demo.returncode
        self.demo = None
        assert self.demo_out is not None
        self.demo_out.close()
        out_path = self.data_dir / "demo.out"
        tokens = out_path.read_text().strip()
        out_path.unlink(missing_ok=True)  # bearer tokens do not stay on disk
        if code == 0:
            self._demo_marker.touch()
            log("demo caseload ready")
        elif self.demo_attempts < DEMO_ATTEMPTS:
            self.demo_retry_at = now + 10
            log(f"demo seeding stopped with code {code}; it resumes in 10 s")
        else:
            log(
                f"demo seeding stopped with code {code}; the stack runs on. "
                "`.venv/bin/asylumflow demo` resumes it."
            )
        if tokens:
            print(
                "demo users (bearer tokens; `asylumflow demo --tokens` issues new ones):\n"
                + tokens,
                flush=True,
            )

    def supervise(self) -> None:
        """Restart what dies until asked to stop."""
        while not self.stopping.is_set():
            now = time.monotonic()
            for child in self.children:
                child.check(now)
            self._check_demo(now)
            self.stopping.wait(0.5)

    def shutdown(self) -> None:
        """In order: the demo job, the API, the worker, the Temporal server last."""
        if self.demo is not None and self.demo.poll() is None:
            self.demo.terminate()
            self.demo.wait(timeout=15)
        for child in (self.api, self.worker, self.temporal):
            child.stop(STOP_TIMEOUTS[child.name])
        log("stopped")

    def kill_all(self) -> None:
        """Everything at once (a second Ctrl-C)."""
        if self.demo is not None:
            self.demo.kill()
        for child in self.children:
            child.kill()


CODEC_KEY_FILE = "codec.key"
ACTION_KEY_FILE = "action.key"


def local_keys(data_dir: Path) -> dict[str, str]:
    """Encryption by default: the payload and action-signing keys, made on the first start.

    Both live in the data directory (0600) beside each other and reach the worker and the API
    as `ASYLUMFLOW_ENCRYPTION_KEY_FILE` / `ASYLUMFLOW_ACTION_KEY_FILE`. A key set in the
    environment wins (nothing is created for it). Histories written before the key existed stay
    readable: the codec passes unencrypted payloads through.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {}
    for name, variable in (
        (CODEC_KEY_FILE, "ASYLUMFLOW_ENCRYPTION_KEY"),
        (ACTION_KEY_FILE, "ASYLUMFLOW_ACTION_KEY"),
    ):
        if os.environ.get(variable) or os.environ.get(f"{variable}_FILE"):
            continue
        path = data_dir / name
        if not path.exists():
            write_private(path, new_key() + "\n")
        env[f"{variable}_FILE"] = str(path)
    return env


def main() -> None:
    """Start everything, print the URLs, supervise, and stop in order on Ctrl-C or SIGTERM."""
    stack = Stack()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stack.stopping.is_set():
            log("second signal: killing everything")
            stack.kill_all()
            os._exit(1)
        log(f"{signal.Signals(signum).name}: stopping (API, then worker, then Temporal)…")
        stack.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        stack.supervise()
    finally:
        stack.shutdown()


if __name__ == "__main__":
    main()
