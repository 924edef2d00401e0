"""The dashboard in a real headless Chromium, against a real uvicorn server on a free port.

Chromium comes from Debian (installed if missing and we are root; never downloaded otherwise);
it, the live server with its worker and the one-time sign-in links are `tests/ui/live.py`'s.
It is driven from the command line: `--dump-dom` for the rendered DOM and `--screenshot` for
the pictures in docs/screenshots (`make screenshots`). It gets past sign-in with the one-time
links of `POST /ui/tickets`, since a command-line browser cannot post a form.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from db import desk
from db.users import Role, create_user
from tests.ui.helpers import Dom, assert_accessible, build_caseload, today
from tests.ui.live import signed_url

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


async def test_dashboard_in_chromium(
    chromium: str, live: httpx.AsyncClient, engine: Engine, tmp_path: Path
) -> None:
    sup = create_user(engine, "sup", Role.SUPERVISOR)
    cw = create_user(engine, "cw", Role.CASEWORKER)
    north = create_user(engine, "north", Role.LEGAL_AID, "la-north")
    load = await build_caseload(live, {"Authorization": f"Bearer {cw}"}, engine)
    case = await live.get(f"/cases/{load.overdue}", headers={"Authorization": f"Bearer {sup}"})
    lodging = next(d for d in case.json()["deadlines"] if d["clock"] == "lodging")
    # Two cases on the caseworker's desk, so its picture shows one at work.
    for case_id in (load.overdue, load.running):
        assigned = await live.post(
            f"/cases/{case_id}/actions/assign_caseworker",
            json={"on": today().isoformat(), "user": "cw"},
            headers={"Authorization": f"Bearer {sup}"},
        )
        assert assigned.status_code == 200, assigned.text
    for _ in range(200):
        if len(await asyncio.to_thread(desk.assigned_cases, engine, "cw")) == 2:
            break
        await asyncio.sleep(0.1)

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
        (cw, "/ui/desk", "desk.png", "My cases", ["Dashboard1 Person001", "Dashboard2 Person002"]),
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
