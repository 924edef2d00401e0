"""API tests: the real app over ASGI, a real worker, the session's dev server, a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from db.users import Role, create_user
from worker import build_worker


@dataclass
class Api:
    """An HTTP client on the app plus a token per role."""

    http: httpx.AsyncClient
    engine: Engine
    env: WorkflowEnvironment
    task_queue: str
    app: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """Headers for one of the users created by `user`."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def user(self, name: str, role: Role, org: str | None = None) -> dict[str, str]:
        """Create a user and return its auth headers."""
        self.tokens[name] = create_user(self.engine, name, role, org)
        return self.auth(name)

    async def wait_for(
        self, check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20
    ) -> None:
        """Poll a condition (the read model catches up asynchronously)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if await check():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")


@pytest_asyncio.fixture
async def api(
    dev_env: WorkflowEnvironment, task_queue: str, engine: Engine, db_url: str
) -> AsyncIterator[Api]:
    """The app wired to this test's task queue and database, with a worker running."""
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db_url,
        ASYLUMFLOW_TASK_QUEUE=task_queue,
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
        # The tests' webhook receivers listen on 127.0.0.1 (tests/webhooks.py).
        ASYLUMFLOW_WEBHOOK_PRIVATE_HOSTS=True,
    )
    app = create_app(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.temporal = dev_env.client
    transport = httpx.ASGITransport(app=app)
    async with (
        build_worker(dev_env.client, task_queue, engine, private_webhooks=True),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield Api(http=http, engine=engine, env=dev_env, task_queue=task_queue, app=app)


def person(**overrides: Any) -> dict[str, Any]:
    """A test person (the names are searched for in workflow histories)."""
    return {
        "given_name": "Zainab",
        "family_name": "Qarawi-Testperson",
        "date_of_birth": "1991-04-17",
        "nationality": "IRQ",
        "sex": "female",
        **overrides,
    }
