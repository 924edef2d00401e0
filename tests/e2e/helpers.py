"""Helpers of the end-to-end tests: ports, log tails, polling, and the processes they run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from tests.helpers import venv_binary
from workflows.search import ALL_SEARCH_ATTRIBUTES, cli_flags

TEST_PACKS = Path(__file__).resolve().parents[1] / "packs"
"""The test rule packs (family `tst`, clocks in seconds), for the worker subprocesses."""

T = TypeVar("T")


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 30) -> str:
    """The last lines of a process log, for failure messages."""
    if not path.exists():
        return f"({path.name} missing)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:]) or f"({path.name} empty)"


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
) -> T:
    """Poll `probe` until it returns something other than None (or fail after `timeout` s).

    Exceptions raised by the probe (e.g. the server not answering yet) count as "not yet"; the
    last one is shown if time runs out.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = await probe()
        except Exception as exc:
            last_error = exc
        else:
            if value is not None:
                return value
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{suffix}")
        await asyncio.sleep(interval)


def _stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM one process we started, SIGKILL it if it does not exit in time; its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    return process.returncode


@dataclass
class DevServer:
    """`temporal server start-dev` on a SQLite file: stop it and start it again, state survives."""

    directory: Path
    port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = None

    @property
    def db_file(self) -> Path:
        """The server's persistent store."""
        return self.directory / "temporal.db"

    @property
    def log_path(self) -> Path:
        """Server output (all starts appended)."""
        return self.directory / "server.log"

    @property
    def address(self) -> str:
        """host:port of the frontend."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server process (same file, same ports every time)."""
        assert self.process is None or self.process.poll() is not None, "already running"
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.starts += 1
        self._log.write(f"--- start {self.starts} ---\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            [
                venv_binary("temporal"),
                "server",
                "start-dev",
                "--db-filename",
                str(self.db_file),
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ui-port",
                str(self.ui_port),
                "--headless",
                "--log-level",
                "error",
                *cli_flags(),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )

    async def connect(self, timeout: float = 30.0) -> Client:
        """A client once the server answers and has the case search attributes registered."""
        wanted = {key.name for key in ALL_SEARCH_ATTRIBUTES}

        async def probe() -> Client | None:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(
                    f"dev server exited with {self.process.returncode}:\n{log_tail(self.log_path)}"
                )
            client = await Client.connect(self.address, data_converter=pydantic_data_converter)
            registered = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=client.namespace)
            )
            return client if wanted <= set(registered.custom_attributes) else None

        return await eventually(probe, timeout=timeout, what=f"dev server on {self.address}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait (SIGKILL after `timeout`); the exit code."""
        if self.process is None:
            return 0
        return _stop_process(self.process, timeout)

    def kill_hard(self) -> int:
        """`kill -9` the server by PID: no shutdown, no flush beyond what SQLite committed."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=10)

    def close(self) -> None:
        """Stop the server and close its log."""
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class WorkerProcess:
    """One `asylumflow worker` subprocess."""

    process: subprocess.Popen[bytes]
    log_path: Path
    task_queue: str

    @property
    def pid(self) -> int:
        """The worker's process id (its Temporal identity starts with it)."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def kill_hard(self) -> int:
        """`kill -9` by PID: no cleanup, no graceful shutdown of pollers or activities."""
        os.kill(self.pid, signal.SIGKILL)
        return self.process.wait(timeout=10)

    async def wait_polling(self, client: Client, timeout: float = 45.0) -> None:
        """Wait until this very process (by PID) polls its workflow task queue."""

        async def probe() -> bool | None:
            if not self.alive():
                pytest.fail(
                    f"worker {self.pid} exited with {self.process.returncode}:\n"
                    f"{log_tail(self.log_path)}"
                )
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            mine = [p for p in described.pollers if p.identity.startswith(f"{self.pid}@")]
            return True if mine else None

        await eventually(probe, timeout=timeout, what=f"worker {self.pid} to poll")

    def stop(self) -> int:
        """SIGTERM (the CLI cancels the worker cleanly), SIGKILL if it hangs."""
        return _stop_process(self.process)


SpawnWorker = Callable[[str], WorkerProcess]
"""Starts a worker subprocess on a task queue (the `spawn_worker` fixture)."""
