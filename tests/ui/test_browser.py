"""The dashboard in a real headless Chromium, against a real uvicorn server on a free port.

Chromium comes from Debian (installed here if missing and we are root; never downloaded
otherwise). It is driven from the command line: `--dump-dom` for the rendered DOM and
`--screenshot` for the pictures in docs/screenshots (`make screenshots`). It gets past sign-in
with the one-time links of `POST /ui/tickets`, since a command-line browser cannot post a form.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from db.users import Role, create_user
from tests.ui.helpers import Dom, assert_accessible, build_caseload
from worker import build_worker

SCREENSHOTS_ENV = "ASYLUMFLOW_SCREENSHOTS_DIR"
"""Where the screenshots go: `make screenshots` points it at docs/screenshots; tests default
to a temporary directory, so `make test` leaves the working tree as it found it."""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
    # Console messages (Content-Security-Policy violations among them) go to stderr.
    "--enable-logging=stderr",
]


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


@pytest.fixture
def server(
    dev_env: WorkflowEnvironment, task_queue: str, engine: Engine, db_url: str
) -> Iterator[str]:
    """The app under uvicorn in a thread on 127.0.0.1 (a free port), as `make run` serves it."""
    if not db_url.startswith("sqlite"):
        pytest.skip("one database is enough for the browser test")
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db_url,
        ASYLUMFLOW_TASK_QUEUE=task_queue,
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
    )
    app = create_app(settings)
    # The engine is thread-safe and shared; the Temporal client is made in the server's own
    # event loop by the lifespan (a client belongs to the loop that created it).
    app.state.engine = engine
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
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
        yield f"http://127.0.0.1:{port}"
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


async def run_chromium(
    binary: str, profile: Path, *args: str, blocked_on_purpose: tuple[str, ...] = ()
) -> str:
    """Run chromium once (without blocking the worker's event loop); its stdout.

    `blocked_on_purpose`: URLs the policy is expected to block (a bundled asset's reference to
    another origin, which must stay unloaded); any other violation fails.
    """
    process = await asyncio.create_subprocess_exec(
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        raise
    assert process.returncode == 0, err.decode()[-2000:]
    # The pages satisfy the security headers' policy (api/security_headers.py): nothing blocked.
    violations = [
        line
        for line in err.decode().splitlines()
        if "Content Security Policy" in line and not any(u in line for u in blocked_on_purpose)
    ]
    assert not violations, violations
    assert out or "--dump-dom" not in args, err.decode()[-3000:]
    return out.decode()


async def signed_url(http: httpx.AsyncClient, token: str, path: str) -> str:
    """A one-time sign-in link that lands on `path`."""
    made = await http.post("/ui/tickets", headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 200, made.text
    url: str = made.json()["url"]
    assert url.startswith(str(http.base_url).rstrip("/"))  # absolute, on the caller's address
    return f"{url}&next={quote(path, safe='/')}"


async def test_dashboard_in_chromium(
    chromium: str, live: httpx.AsyncClient, engine: Engine, tmp_path: Path
) -> None:
    sup = create_user(engine, "sup", Role.SUPERVISOR)
    cw = create_user(engine, "cw", Role.CASEWORKER)
    north = create_user(engine, "north", Role.LEGAL_AID, "la-north")
    load = await build_caseload(live, {"Authorization": f"Bearer {cw}"}, engine)
    case = await live.get(f"/cases/{load.overdue}", headers={"Authorization": f"Bearer {sup}"})
    lodging = next(d for d in case.json()["deadlines"] if d["clock"] == "lodging")

    pages = [
        (sup, "/ui/supervision/overdue", "overdue.png", "Overdue cases", [load.overdue]),
        (
            sup,
            f"/ui/cases/{load.overdue}",
            "case.png",
            f"Case {load.overdue}",
            [lodging["citation"], lodging["rule"], lodging["trigger_date"], "Timeline"],
        ),
        (
            north,
            "/ui/legal-aid?within_days=365",
            "legal-aid.png",
            "Deadlines of your clients",
            [load.running, "Dashboard2 Person002", "Lapsed in the last 30 days"],
        ),
        (sup, "/ui/stats", "stats.png", "Statistics", ["Open cases by stage, now"]),
        (cw, "/ui/desk", "desk.png", "My cases", ["No open case is assigned to you."]),
    ]
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    for token, path, shot, heading, expected in pages:
        html = await run_chromium(
            chromium, tmp_path / "profile", "--dump-dom", await signed_url(live, token, path)
        )
        dom = Dom(html)
        assert dom.all("html"), html[:2000]
        assert_accessible(dom)
        assert dom.texts("h1") == [heading], html[:1000]
        for text in expected:
            assert text in dom.body, (path, text)
        target = shots / shot
        target.unlink(missing_ok=True)
        await run_chromium(
            chromium,
            tmp_path / "profile",
            f"--screenshot={target}",
            "--window-size=1280,900",
            await signed_url(live, token, path),
        )
        assert target.stat().st_size > 10_000
    assert load.other_org not in Dom(html).body

    # /docs renders Swagger UI offline: every other host unresolvable, assets from the app.
    docs = await run_chromium(
        chromium,
        tmp_path / "profile",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        "--dump-dom",
        f"{str(live.base_url).rstrip('/')}/docs",
    )
    rendered = Dom(docs)
    classes = " ".join(e.attrs.get("class", "") for e in rendered.elements)
    assert "swagger-ui" in classes and "opblock" in classes, docs[:2000]
    assert "/cases/{case_id}" in rendered.body, rendered.body[:2000]

    # /redoc too: ReDoc renders the schema from the app's own assets, within the policy.
    redoc = await run_chromium(
        chromium,
        tmp_path / "profile",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        "--dump-dom",
        f"{str(live.base_url).rstrip('/')}/redoc",
        # ReDoc's bundle links its "powered by" logo on its makers' site: blocked, never loaded.
        blocked_on_purpose=("https://cdn.redoc.ly/",),
    )
    assert "redoc-wrap" in redoc and "/cases/{case_id}" in redoc, redoc[:2000]
