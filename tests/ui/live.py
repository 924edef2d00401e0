"""The dashboard served for real: Debian's Chromium, uvicorn on a free port, a worker, links.

Shared by the browser tests (`test_browser.py` drives Chromium from its command line, the
Playwright tests drive the same binary over the DevTools protocol: one browser per test session,
a fresh context, so fresh cookies, per test); `tests/ui/conftest.py` makes the fixtures visible
to every module of this folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import (
    Browser,
    BrowserContext,
    Playwright,
    ViewportSize,
    async_playwright,
    expect,
)
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from worker import build_worker


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt when missing (root only), else the test skips."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is missing and cannot be installed (needs root and apt-get)")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            pytest.skip(f"could not install chromium: {done.stderr[-500:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed no chromium binary")
    return found


PLAYWRIGHT_FLAGS = [
    "--no-sandbox",  # as root (CI) Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # No traffic but to the app on 127.0.0.1: no updates, no field trials, no first-run calls.
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
"""The two viewports the dashboard is checked at (a laptop; a phone held upright)."""


@pytest_asyncio.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    """The Playwright driver (its own Node process), once per test session."""
    # `expect` waits up to 15 s, not 5: a reassignment or a sign-in waits on Temporal, and the
    # machine may be busy; a condition met sooner ends the wait at once.
    expect.set_options(timeout=15_000)
    async with async_playwright() as driver:
        yield driver


@pytest_asyncio.fixture(scope="session")
async def browser(playwright: Playwright, chromium: str) -> AsyncIterator[Browser]:
    """Debian's chromium under Playwright, once per test session (never a downloaded browser)."""
    launched = await playwright.chromium.launch(
        executable_path=chromium, args=PLAYWRIGHT_FLAGS, headless=True
    )
    try:
        yield launched
    finally:
        await launched.close()


@pytest_asyncio.fixture
async def context(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserContext]:
    """A fresh browser context (no cookies) per test, at `DESKTOP` or an indirect param's size.

    The app's Content-Security-Policy stays in force: the tests see what a user's browser does.
    """
    viewport: ViewportSize = getattr(request, "param", DESKTOP)
    made = await browser.new_context(viewport=viewport, accept_downloads=True)
    # Fail fast on a missing element instead of waiting out the 30 s default per step.
    made.set_default_timeout(15_000)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def server(
    dev_env: WorkflowEnvironment, task_queue: str, engine: Engine, db_url: str
) -> Iterator[str]:
    """The app under uvicorn in a thread on 127.0.0.1 (a free port), as `make run` serves it."""
    if not db_url.startswith("sqlite"):
        pytest.skip("one database is enough for the browser test")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db_url,
        ASYLUMFLOW_TASK_QUEUE=task_queue,
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        # The links the app hands out (the calendar feed's) point at this server, not API_PORT.
        ASYLUMFLOW_PUBLIC_URL=base,
    )
    app = create_app(settings)
    # The engine is thread-safe and shared; the Temporal client is made in the server's own
    # event loop by the lifespan (a client belongs to the loop that created it).
    app.state.engine = engine
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(300):
        if uv.started:
            break
        threading.Event().wait(0.05)
    else:
        raise AssertionError("uvicorn did not start")
    try:
        yield base
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest_asyncio.fixture
async def live(
    server: str, dev_env: WorkflowEnvironment, task_queue: str, engine: Engine
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the live server, with a worker running for its task queue."""
    async with (
        build_worker(dev_env.client, task_queue, engine),
        httpx.AsyncClient(base_url=server, timeout=30) as http,
    ):
        yield http


async def signed_url(http: httpx.AsyncClient, token: str, path: str) -> str:
    """A one-time sign-in link that lands on `path`."""
    made = await http.post("/ui/tickets", headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 200, made.text
    url: str = made.json()["url"]
    assert url.startswith(str(http.base_url).rstrip("/"))  # absolute, on the caller's address
    return f"{url}&next={quote(path, safe='/')}"
