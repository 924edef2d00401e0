"""`asylumflow import FILE`: the command around `tools.importer` (progress, report, exit code)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tools.cli_common import _err, fail
from tools.importer import DEFAULT_ACTOR, ImportReport, write_report


def import_cases(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSON Lines or CSV, a case a row.")
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="jsonl or csv (default: from the file's extension)."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Rows in flight.")] = 16,
    report: Annotated[
        Path | None,
        typer.Option(help="Refused rows go here (.csv or .jsonl); default FILE.rejected.csv."),
    ] = None,
    actor: Annotated[
        str, typer.Option(help="Recorded as the acts' actor; the import's keys are per actor.")
    ] = DEFAULT_ACTOR,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Handle at most this many new rows this run.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="A progress bar on stderr.")] = True,
) -> None:
    """Import an existing caseload: each row a case with its acts, all or nothing.

    Rows already imported (by `external_id`) are skipped, so running it again resumes an
    import cut short. Exit code 1 if a row was refused or not answered (listed in the report).
    """
    import asyncio
    import signal

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from temporalio.client import RPCTimeoutOrCancelledError

    from core.settings import get_settings
    from core.temporal import connect
    from db.engine import make_engine, migrate
    from tools.import_rows import FileError, format_of
    from tools.importer import run_import

    try:
        chosen = format_of(file, fmt)
    except FileError as exc:
        fail(str(exc))
    settings = get_settings()
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_err,
        disable=not progress,
    )
    task_id = bar.add_task("importing", total=None)

    async def run() -> ImportReport | None:
        task = asyncio.ensure_future(
            run_import(
                await connect(settings),
                engine,
                settings,
                file,
                chosen,
                actor=actor,
                concurrency=concurrency,
                limit=limit,
                on_row=lambda: bar.advance(task_id),
                on_total=lambda n: bar.update(task_id, total=n),
            )
        )
        # Ctrl-C or SIGTERM cancels the import where it is: every row is either in or not
        # (or between its person and its case, which the next run finishes).
        loop = asyncio.get_running_loop()
        interrupted: list[int] = []

        def interrupt(sig: int) -> None:
            interrupted.append(sig)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt, sig)

        def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            # An update cut short by the interruption ends in these errors, which nobody awaits
            # any more: expected, and no traceback for the operator. Judged by the signal, not
            # by the task's state: the report can come when the future is collected, after the
            # task has ended one way or the other.
            # The SDK's update-with-start also leaves its operation futures holding the
            # cancellation itself.
            cut = isinstance(
                context.get("exception"), RPCTimeoutOrCancelledError | asyncio.CancelledError
            )
            if not (cut and interrupted):
                loop.default_exception_handler(context)

        loop.set_exception_handler(quiet)
        try:
            return await task
        except asyncio.CancelledError:
            return None

    try:
        with bar:
            result = asyncio.run(run())
    except FileError as exc:
        fail(f"{file.name}: {exc}")
    except RuntimeError as exc:  # no Temporal server to talk to
        fail(f"import: {exc}")
    if result is None:
        _err.print("interrupted: run the same command again to resume", highlight=False)
        raise typer.Exit(130)
    _summarise(result, report or file.with_name(file.name + ".rejected.csv"))


def _summarise(result: ImportReport, report: Path) -> None:
    refused = [*result.rejected, *result.failed]
    _err.print(
        f"imported {result.imported}, skipped as already imported {result.skipped}, "
        f"rejected {len(result.rejected)}, not answered {len(result.failed)}"
        + (f", left for a later run {result.not_reached}" if result.not_reached else ""),
        highlight=False,
    )
    # Written every run, empty if nothing was refused: an earlier run's report never lingers.
    write_report(report, sorted(refused, key=lambda r: r.row))
    if refused:
        # Rows and fields only here: reasons may quote personal data, the report keeps them.
        for r in refused[:10]:
            _err.print(f"  row {r.row}: {r.field or 'service'}", markup=False, highlight=False)
        _err.print(f"every refused row, with the reason: {report}", markup=False)
    if not result.ok:
        raise typer.Exit(1)
