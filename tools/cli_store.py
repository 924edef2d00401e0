"""`asylumflow backup`, `restore` and `readmodel rebuild|tallies`: the embedded stack's data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tools.cli_common import fail


def backup(
    target: Annotated[Path, typer.Argument(help="A new (or empty) directory for the copy.")],
) -> None:
    """Copy the embedded stack's data (read model, then Temporal's file) while it runs."""
    from core.settings import get_settings
    from tools.backup import BackupError
    from tools.backup import backup as take

    settings = get_settings()
    try:
        manifest = take(settings.data_dir.resolve(), settings.db_url, target)
    except (BackupError, OSError) as exc:
        fail(f"backup: {exc}")
    print(f"backed up {', '.join(map(str, manifest['files']))} to {target}")  # type: ignore[call-overload]


def restore(
    source: Annotated[Path, typer.Argument(help="A directory made by `asylumflow backup`.")],
    force: Annotated[bool, typer.Option(help="Replace the data directory's files.")] = False,
) -> None:
    """Put a backup in place (stack stopped); `make run` then rebuilds the read model."""
    from core.settings import get_settings
    from tools.backup import BackupError
    from tools.backup import restore as put_back

    settings = get_settings()
    try:
        files = put_back(source, settings.data_dir.resolve(), settings.db_url, force=force)
    except (BackupError, OSError) as exc:
        fail(f"restore: {exc}")
    print(
        f"restored {', '.join(files)} into {settings.data_dir}; the next `make run` rebuilds "
        "the read model from the workflows (or run `asylumflow readmodel rebuild` with a "
        "worker running)"
    )


readmodel_app = typer.Typer(help="The read model's projected tables.", no_args_is_help=True)


@readmodel_app.command("rebuild")
def readmodel_rebuild(
    drop_missing: Annotated[
        bool,
        typer.Option(help="Also drop the rows of cases whose workflows are gone (retention)."),
    ] = False,
) -> None:
    """Rebuild cases, events, deadlines and statistics from the workflows (a worker must run).

    Persons, users, audit, webhooks and everything else only SQL holds are never touched.
    """
    import asyncio

    from core.settings import get_settings
    from core.temporal import connect
    from db.engine import make_engine, migrate
    from tools.readmodel import RebuildError, RebuildReport, rebuild_read_model

    settings = get_settings()
    migrate(settings.db_url)

    async def run() -> RebuildReport:
        return await rebuild_read_model(
            await connect(settings),
            make_engine(settings.db_url),
            settings.task_queue,
            drop_missing=drop_missing,
        )

    try:
        report = asyncio.run(run())
    except RebuildError as exc:
        fail(f"rebuild: {exc}")
    except RuntimeError as exc:  # no Temporal server to talk to
        fail(f"rebuild: {exc}")
    dropped = f", dropped {len(report.missing)} without a workflow" if report.missing else ""
    print(
        f"rebuilt {report.cases} cases ({report.events} events, {report.deadlines} deadlines)"
        f"{dropped} in {report.seconds:.1f} s"
    )


@readmodel_app.command("tallies")
def readmodel_tallies(
    repair: Annotated[
        bool, typer.Option(help="Count every case again into the tallies (one transaction).")
    ] = False,
) -> None:
    """Check the case tallies behind `/stats`' backlog and the stuck list's totals.

    Triggers keep them in step with `cases` inside every write; this compares them with a fresh
    count of the cases (after a restore of a partial dump, or a hand edit with the triggers
    off) and exits 1 where they differ, naming the combinations. `--repair` counts them again.
    """
    from core.settings import get_settings
    from db.engine import make_engine, migrate
    from db.tallies import counted_anew, rebuild_tallies, stored

    settings = get_settings()
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    with engine.begin() as conn:
        now, kept = counted_anew(conn), stored(conn)
        wrong = sorted(
            (key for key in now.keys() | kept.keys() if now.get(key, 0) != kept.get(key, 0)),
            key=repr,
        )
        if wrong and repair:
            rows = rebuild_tallies(conn)
    cases = sum(now.values())
    if not wrong:
        print(f"tallies agree with the cases: {len(now)} combinations, {cases} cases")
        return
    for key in wrong[:20]:
        print(f"  {key}: tallied {kept.get(key, 0)}, counted {now.get(key, 0)}")
    more = " (first 20 shown)" if len(wrong) > 20 else ""
    if repair:
        print(f"repaired {len(wrong)} combinations{more}: {rows} tally rows, {cases} cases")
        return
    print(f"tallies differ from the cases in {len(wrong)} combinations{more}; run with --repair")
    raise typer.Exit(1)
