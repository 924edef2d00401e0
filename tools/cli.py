"""The `asylumflow` command line (shared/api.md): rules, deadlines, and the processes to run."""

from __future__ import annotations

import json
import sys
from collections.abc import Coroutine
from datetime import date
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.table import Table

from models.deadlines import Deadline, Occurrence, Pause, compute_deadlines
from models.enums import PUBLIC_EVENTS, ClockStatus, LegalEvent, Outcome, Procedure
from models.rules import (
    Fact,
    PackError,
    Situation,
    families,
    governing_pack,
    resolve_pack,
)
from tools.cli_common import _err, _out, _parse_date, fail
from tools.cli_import import import_cases
from tools.cli_rules import rules_app
from tools.cli_store import backup, readmodel_app, restore

app = typer.Typer(
    help="asylumflow: asylum procedure lifecycles with legal deadlines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _load_extra_packs() -> None:
    """Every command sees the extra pack directory (ASYLUMFLOW_EXTRA_PACKS) the workers see."""
    from core.settings import get_settings
    from models.rules import add_pack_directory

    extra = get_settings().extra_packs_dir
    if extra is not None:
        add_pack_directory(extra)


app.add_typer(rules_app, name="rules")
app.command()(backup)
app.command()(restore)
app.add_typer(readmodel_app, name="readmodel")
app.command("import")(import_cases)


def _parse_events(values: list[str]) -> list[Occurrence]:
    allowed = ", ".join(e.value for e in PUBLIC_EVENTS)
    parsed: list[tuple[LegalEvent, date]] = []
    for value in values:
        name, sep, day = value.partition("=")
        if not sep:
            fail(f"--event {value!r}: use NAME=DATE with NAME one of {allowed}")
        try:
            event = LegalEvent(name.strip())
        except ValueError:
            event = None
        if event not in PUBLIC_EVENTS:
            fail(f"--event: unknown event {name!r}; use one of {allowed}")
        assert event is not None
        parsed.append((event, _parse_date(day.strip(), f"--event {name}")))
    # Events are ordered by their dates; on the same day, in the order given.
    ordered = sorted(enumerate(parsed), key=lambda item: (item[1][1], item[0]))
    return [Occurrence(event=e, on=d, seq=i + 1) for i, (_, (e, d)) in enumerate(ordered)]


def _parse_pauses(values: list[str]) -> list[Pause]:
    pauses = []
    for value in values:
        start, sep, end = value.partition(":")
        if not sep:
            fail(f"--pause {value!r}: use START:END (start inclusive, end exclusive)")
        first = _parse_date(start, "--pause start")
        last = _parse_date(end, "--pause end") if end else None
        if last is not None and last < first:
            fail(f"--pause {value!r}: the end is before the start")
        pauses.append(Pause(start=first, end=last))
    return pauses


def _table(deadlines: list[Deadline]) -> Table:
    table = Table(
        "clock",
        "due",
        "status",
        "actor",
        "period",
        "trigger",
        "rolled",
        "paused",
        "rule",
        "citation",
    )
    style = {ClockStatus.EXPIRED: "red", ClockStatus.REACHED: "green", ClockStatus.MET: "dim"}
    for d in deadlines:
        table.add_row(
            d.clock.value,
            d.due.isoformat(),
            f"[{style.get(d.status, '')}]{d.status.value}" if d.status in style else d.status.value,
            d.actor.value,
            d.period,
            f"{d.trigger.value} {d.trigger_date.isoformat()}",
            "yes" if d.rolled else "no",
            f"{d.pause_days}d" if d.pause_days else "",
            d.rule,
            d.citation,
        )
    return table


@app.command()
def deadlines(
    pack: Annotated[str, typer.Option(help="A family (rs, eu...) or an exact pack id.")],
    event: Annotated[
        list[str], typer.Option(help="NAME=DATE, once per event (made, registered, lodged...).")
    ],
    procedure: Annotated[
        str, typer.Option(help="regular, accelerated, border or admissibility.")
    ] = Procedure.REGULAR.value,
    outcome: Annotated[str | None, typer.Option(help="Decision outcome (appeal variants).")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Statuses as of this date (default today).")
    ] = None,
    pause: Annotated[
        list[str] | None, typer.Option(help="START:END applicant pause, end exclusive.")
    ] = None,
    fact: Annotated[
        list[str] | None, typer.Option(help="Case fact, e.g. mass_influx, subsequent.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Print the deadlines that the given events start, with their provenance."""
    try:
        proc = Procedure(procedure)
    except ValueError:
        fail(f"--procedure {procedure!r}: use one of {', '.join(p.value for p in Procedure)}")
    out: Outcome | None = None
    if outcome is not None:
        try:
            out = Outcome(outcome)
        except ValueError:
            fail(f"--outcome {outcome!r}: use one of {', '.join(o.value for o in Outcome)}")
    day = _parse_date(as_of, "--as-of") if as_of else date.today()
    occurrences = _parse_events(event)
    by_event = {o.event: o.on for o in occurrences}
    try:
        chosen = resolve_pack(
            pack,
            made=by_event.get(LegalEvent.MADE),
            lodged=by_event.get(LegalEvent.LODGED),
            fallback=min((o.on for o in occurrences), default=day),
        )
    except PackError as exc:
        fail(str(exc))
    allowed_facts = get_args(Fact)
    for f in fact or []:
        if f not in allowed_facts:
            fail(f"--fact {f!r}: use one of {', '.join(allowed_facts)}")
    situation = Situation(procedure=proc, outcome=out, facts=frozenset(fact or []))
    # A family's case is pinned by lodging; the version made provisionally before it may differ
    # (domain.md "At pinning"): clocks it had are recomputed, those new in the pinned one are
    # not created for triggers before it applied.
    provisional = None
    if pack in families() and LegalEvent.LODGED in by_event:
        made_pack = governing_pack(
            pack,
            made=by_event.get(LegalEvent.MADE),
            lodged=None,
            fallback=min((o.on for o in occurrences), default=day),
        )[0]
        provisional = made_pack if made_pack.id != chosen.id else None
    result = compute_deadlines(
        chosen,
        occurrences,
        situation,
        as_of=day,
        pauses=_parse_pauses(pause or []),
        provisional=provisional,
    )
    if as_json:
        print(json.dumps([d.model_dump(mode="json") for d in result], indent=2))
    else:
        _out.print(f"pack {chosen.id} (version {chosen.version}), statuses as of {day}")
        if provisional is not None:
            again = ", ".join(d.clock.value for d in result if d.recomputed_at_lodging) or "none"
            _out.print(
                f"pinned at lodging over the provisional {provisional.id}; "
                f"recomputed_at_lodging: {again}"
            )
        _out.print(_table(result))


@app.command()
def worker() -> None:
    """Run one worker process against the configured Temporal server and database."""
    import logging

    from core.logs import configure_logging
    from worker import run_worker

    configure_logging(logging.INFO)
    _run_until_signalled(run_worker())


@app.command()
def api() -> None:
    """Serve the HTTP API (host and port from API_HOST / API_PORT)."""
    serve("api.app:create_app")


def serve(factory: str, *, loop: str = "auto", http: str = "auto") -> None:
    """Serve the app `factory` ("module:function") with uvicorn, as the API is deployed.

    Also how `bench/floor.py` and `bench/front_door.py` serve their apps, so the benchmark's
    floor runs as the API does. `loop` and `http` are uvicorn's: "auto" picks uvloop and
    httptools (dependencies of the project: the floor as deployed is ~15 % cheaper with them,
    bench/RESULTS.md) and falls back to asyncio and h11 where they are missing;
    `bench.front_door` compares them.
    """
    import gc
    import importlib

    import uvicorn

    from core.logs import configure_logging
    from core.settings import get_settings

    settings = get_settings()
    configure_logging()
    module, _, name = factory.partition(":")
    app = getattr(importlib.import_module(module), name)()
    # What is built by now (modules, models' schemas, routes) lives as long as the process:
    # frozen, the collector's full passes no longer walk its ~200,000 objects. A big answer
    # (thousands of deadlines) sets off such passes as it allocates; they were most of its p95
    # above its p50 (bench/RESULTS.md, issue 18, session 13).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        loop=loop,
        http=http,
        log_config=None,  # keep the JSON logging configured above
    )


users_app = typer.Typer(help="Users and their bearer tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Option(help="Login name (not an applicant's data).")],
    role: Annotated[
        str, typer.Option(help="border_officer, caseworker, supervisor, legal_aid or admin.")
    ],
    org: Annotated[str | None, typer.Option(help="Organisation (legal_aid only).")] = None,
) -> None:
    """Create a user; the last line printed is its bearer token (shown only this once)."""
    from core.settings import get_settings
    from db.engine import make_engine, migrate
    from db.users import Role, UserError, create_user

    try:
        chosen = Role(role)
    except ValueError:
        fail(f"--role {role!r}: use one of {', '.join(r.value for r in Role)}")
    url = get_settings().db_url
    migrate(url)
    try:
        token = create_user(make_engine(url), name, chosen, org)
    except UserError as exc:
        fail(str(exc))
    print(f"created {chosen.value} {name}" + (f" of {org}" if org else ""))
    print(token)


@users_app.command("revoke")
def users_revoke(
    name: Annotated[str, typer.Argument(help="The user whose tokens to revoke.")],
) -> None:
    """Revoke a user's tokens."""
    from core.settings import get_settings
    from db.engine import make_engine
    from db.users import UserError, revoke_user

    try:
        revoke_user(make_engine(get_settings().db_url), name)
    except UserError as exc:
        fail(str(exc))
    print(f"revoked {name}")


schedules_app = typer.Typer(
    help="Temporal Schedules (nightly reconciliation).", no_args_is_help=True
)
app.add_typer(schedules_app, name="schedules")


@schedules_app.command("apply")
def schedules_apply() -> None:
    """Install the nightly reconciliation schedule (or update it) and the namespace retention."""
    import asyncio

    from core.settings import get_settings
    from core.temporal import connect
    from tools.schedules import apply_retention, apply_schedules

    async def run() -> list[str]:
        settings = get_settings()
        client = await connect(settings)
        return [
            await apply_schedules(client, settings.task_queue),
            await apply_retention(client, settings.retention_days),
        ]

    try:
        done = asyncio.run(run())
    except RuntimeError as exc:  # no Temporal server to talk to
        fail(f"schedules: {exc}")
    print("\n".join(done))


db_app = typer.Typer(help="The read-model database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (DATABASE_URL, or SQLite under the data dir) to the newest schema."""
    from core.settings import get_settings
    from db.engine import migrate

    migrate(get_settings().db_url)


DERIVED = ("temporal_address", "api_url", "db_url")
"""Settings computed from others (TEMPORAL_ADDRESS or TEMPORAL_PORT; API_HOST and API_PORT...)."""


@app.command("settings")
def show_settings(
    get: Annotated[
        str | None,
        typer.Option(help="Print one value: a variable (API_PORT) or api_url, db_url..."),
    ] = None,
) -> None:
    """Print the settings every process reads (environment, then `.env`); secrets masked.

    `API=$(.venv/bin/asylumflow settings --get api_url)` gives the README's `$API`.
    """
    from pydantic import SecretStr

    from core.settings import Settings, get_settings

    settings = get_settings()

    def shown(value: object) -> str:
        if isinstance(value, SecretStr):
            return "(set)"
        if isinstance(value, list) and value and isinstance(value[0], SecretStr):
            return f"({len(value)} set)"
        if value is None:
            return ""
        if isinstance(value, dict | list):
            return json.dumps(value, default=str)
        return str(value)

    values: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        values[str(info.validation_alias or name)] = shown(getattr(settings, name))
    for name in DERIVED:
        values[name] = shown(getattr(settings, name))
    if get is not None:
        if get not in values:
            fail(f"--get {get!r}: use one of {', '.join(values)}")
        print(values[get])
        return
    width = max(map(len, values))
    for name, value in values.items():
        print(f"{name:<{width}}  {value}")


@app.command()
def demo(
    cases: Annotated[
        int,
        typer.Option(
            envvar="ASYLUMFLOW_DEMO_CASES",
            help="How many demo cases to create (`make run` seeds this many too).",
        ),
    ] = 300,
    tokens_only: Annotated[
        bool,
        typer.Option(
            "--tokens", help="Only issue fresh tokens for the demo users (earlier ones stop)."
        ),
    ] = False,
) -> None:
    """Seed the demo caseload and one user per role, or finish an interrupted seeding.

    Prints `role: token` per line at the end (for users made by an earlier run, fresh tokens,
    only when there was work to do). Exit code 1 if some cases could not be seeded: run it
    again, it resumes.
    """
    import asyncio

    from core.settings import get_settings
    from core.temporal import connect
    from db.engine import make_engine, migrate
    from tools.demo import DemoReport, fresh_tokens, role_of, seed_demo

    settings = get_settings()
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    if tokens_only:
        for name, token in fresh_tokens(engine).items():
            print(f"{role_of(name)}: {token}")
        return

    async def run() -> DemoReport:
        return await seed_demo(await connect(settings), engine, settings, cases)

    try:
        report = asyncio.run(run())
    except RuntimeError as exc:  # e.g. no Temporal server to talk to
        fail(f"demo: {exc}")
    summary = ", ".join(f"{n} {o.value}" for o, n in sorted(report.outcomes.items()))
    _err.print(f"demo cases: {summary}", highlight=False)
    for error in report.errors[:5]:
        _err.print(f"  {error}", markup=False, highlight=False)
    if not report.tokens:
        _err.print(
            "demo data already present; `asylumflow demo --tokens` issues fresh tokens",
            highlight=False,
        )
    for name, token in report.tokens.items():
        print(f"{role_of(name)}: {token}")
    if not report.complete:
        _err.print("some demo cases could not be seeded; run it again to resume")
        raise typer.Exit(1)


@app.command()
def simulate(
    pack: Annotated[str, typer.Option(help="A family (rs, me, pl, eu) or an exact pack id.")],
    out: Annotated[Path, typer.Option(help="Directory for weekly.csv, cases.csv and charts.")],
    arrivals_per_week: Annotated[int, typer.Option(min=0, help="New applications a week.")] = 40,
    weeks: Annotated[int, typer.Option(min=1, max=520, help="Weeks to simulate.")] = 52,
    caseworkers: Annotated[int, typer.Option(min=0, help="Caseworkers deciding cases.")] = 6,
    abscond_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of applicants who abscond.")
    ] = 0.1,
    appeal_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of negative decisions appealed.")
    ] = 0.6,
    recognition_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of decisions that grant protection.")
    ] = 0.3,
    decisions_per_caseworker_week: Annotated[
        int, typer.Option(min=0, help="Decisions one caseworker takes a week.")
    ] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same run).")] = 1,
) -> None:
    """What if: run the real case workflow on simulated weeks and chart the backlog."""
    import asyncio
    import time

    from tools.simulate import SimulationConfig, SimulationError, run_simulation

    config = SimulationConfig(
        pack=pack,
        arrivals_per_week=arrivals_per_week,
        weeks=weeks,
        caseworkers=caseworkers,
        abscond_rate=abscond_rate,
        appeal_rate=appeal_rate,
        recognition_rate=recognition_rate,
        decisions_per_caseworker_week=decisions_per_caseworker_week,
        seed=seed,
    )
    began = time.monotonic()
    try:
        files = asyncio.run(run_simulation(config, out, progress=True))
    except SimulationError as exc:
        fail(str(exc))
    for path in files:
        print(path)
    print(f"simulated {weeks} weeks in {time.monotonic() - began:.1f} s")


def _run_until_signalled(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine until it ends or SIGINT/SIGTERM arrives, then cancel it cleanly."""
    import asyncio
    import contextlib
    import signal

    async def runner() -> None:
        task = asyncio.ensure_future(coro)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(runner())


def main() -> None:
    """Console-script entry point.

    Exits through `os._exit` after flushing: a Temporal client can make the interpreter crash at
    shutdown (sdk-python#300), which would turn a success into a failure.
    """
    import os

    try:
        app()
        code = 0
    except SystemExit as exc:  # click ends every command this way, usage errors with code 2
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
