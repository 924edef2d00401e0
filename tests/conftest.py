"""Shared fixtures: one Temporal server per session, a fresh task queue per test, audit writes."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api import audit
from db.engine import make_engine, migrate
from tests.helpers import venv_binary
from workflows.search import ALL_SEARCH_ATTRIBUTES


@pytest_asyncio.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: months of legal time in seconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=venv_binary("temporal-test-server"),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real local dev server (visibility queries, search attributes), in memory."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue per test, so tests never pick up each other's work."""
    return f"tq-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def case_id() -> str:
    """A fresh case id per test."""
    return f"t{uuid.uuid4().hex[:16]}"


PG_ADMIN_URL = os.environ.get("ASYLUMFLOW_TEST_PG_URL")
"""A PostgreSQL server for the DB-touching tests (`.ci/run` starts a throwaway one)."""

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend: SQLite always, PostgreSQL when available."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'asylumflow.db'}"
        migrate(url)
        yield url
        return
    if not PG_ADMIN_URL:
        pytest.skip("no PostgreSQL: set ASYLUMFLOW_TEST_PG_URL (.ci/run does)")
    from sqlalchemy import create_engine, text

    name = f"af_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the parametrised database."""
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite read model in a temp directory."""
    url = f"sqlite:///{tmp_path / 'readmodel.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def audit_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Each audit write as it happens: ("insert", status) or ("correct", the new status)."""
    inserted, corrected = audit._insert, audit._correct
    calls: list[tuple[str, int]] = []

    def insert(engine: Any, values: dict[str, Any]) -> int:
        calls.append(("insert", values["status"]))
        return inserted(engine, values)

    def correct(engine: Any, record_id: int, status: int) -> None:
        calls.append(("correct", status))
        corrected(engine, record_id, status)

    monkeypatch.setattr(audit, "_insert", insert)
    monkeypatch.setattr(audit, "_correct", correct)
    return calls
