"""Real processes for end-to-end tests: a persistent dev server and worker subprocesses.

Every process started here is ended here, by its own PID (terminate, then kill), whatever the
test did, and then the test's temp directory (server database, read model, logs) is removed;
set ASYLUMFLOW_E2E_KEEP=1 to keep it for a post-mortem. Failure messages carry the log tails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO

import pytest
import pytest_asyncio
from temporalio.client import Client

from tests.e2e.helpers import TEST_PACKS, DevServer, SpawnWorker, WorkerProcess
from tests.helpers import venv_binary


@pytest.fixture
def e2e_dir() -> Iterator[Path]:
    """A temp directory for one test's processes, removed after them (unless kept on request)."""
    directory = Path(tempfile.mkdtemp(prefix="asylumflow-e2e-"))
    try:
        yield directory
    finally:
        if os.environ.get("ASYLUMFLOW_E2E_KEEP"):
            print(f"\nkept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dev_server(e2e_dir: Path) -> Iterator[DevServer]:
    """A persistent dev server of this test's own (started; the test may stop and restart it)."""
    directory = e2e_dir / "temporal"
    directory.mkdir()
    server = DevServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest_asyncio.fixture
async def dev_client(dev_server: DevServer) -> AsyncIterator[Client]:
    """A client of `dev_server` (pydantic data converter)."""
    yield await dev_server.connect()


@pytest.fixture
def spawn_worker(dev_server: DevServer, e2e_dir: Path) -> Iterator[SpawnWorker]:
    """Start `asylumflow worker` subprocesses of `dev_server` sharing one SQLite read model.

    All are stopped after the test, before the server (this fixture depends on it).
    """
    started: list[WorkerProcess] = []
    logs: list[IO[bytes]] = []
    read_model = e2e_dir / "rm.db"

    def spawn(task_queue: str) -> WorkerProcess:
        log_path = e2e_dir / f"worker-{len(started) + 1}.log"
        log = log_path.open("wb")
        logs.append(log)
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": dev_server.address,
            "ASYLUMFLOW_TASK_QUEUE": task_queue,
            "DATABASE_URL": f"sqlite:///{read_model}",
            "ASYLUMFLOW_EXTRA_PACKS": str(TEST_PACKS),
            "ASYLUMFLOW_DATA_DIR": str(e2e_dir / "data"),
            # Changes whose API died before writing them are projected within seconds.
            "ASYLUMFLOW_PROJECTION_REPAIR_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        process = subprocess.Popen(
            [venv_binary("asylumflow"), "worker"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=e2e_dir,
        )
        worker = WorkerProcess(process, log_path, task_queue)
        started.append(worker)
        return worker

    try:
        yield spawn
    finally:
        for worker in started:
            worker.stop()
        for log in logs:
            log.close()


@pytest.fixture
def read_model_path(e2e_dir: Path) -> Path:
    """The SQLite read model the worker subprocesses of `spawn_worker` write."""
    return e2e_dir / "rm.db"
