"""API tests: the real app over ASGI, a real worker, the session's dev server, a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.api.helpers import Api
from worker import build_worker


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
