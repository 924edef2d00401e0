"""What the import tests share: a worker on a migrated SQLite read model, and a dying writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from temporalio.client import Client

import tools.importer
from core.settings import Settings
from db.engine import make_engine, migrate
from worker import build_worker


@dataclass
class ImportWorker:
    """A case worker running on `task_queue`, projecting into the SQLite read model at `url`."""

    client: Client
    engine: Engine
    settings: Settings
    url: str


@asynccontextmanager
async def import_worker(client: Client, task_queue: str, db: Path) -> AsyncIterator[ImportWorker]:
    """Migrate a SQLite read model at `db` and run a worker on it while the block runs."""
    url = f"sqlite:///{db}"
    migrate(url)
    engine = make_engine(url)
    settings = Settings(
        _env_file=None,
        DATABASE_URL=url,
        ASYLUMFLOW_TASK_QUEUE=task_queue,
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
    )
    try:
        async with build_worker(client, task_queue, engine):
            yield ImportWorker(client, engine, settings, url)
    finally:
        engine.dispose()


class WriterDied(Exception):
    """The import's writer failing with something that is not a database error."""


def kill_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the import's writer raise `WriterDied` on its first group.

    `monkeypatch.undo()` revives it, as a resumed import would find it.
    """

    def died(*args: Any) -> None:
        raise WriterDied("the import's writer died")

    monkeypatch.setattr(tools.importer, "write_opened", died)
