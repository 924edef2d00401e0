"""`asylumflow import`: bring an existing caseload in, each case with its acts in one step.

Each row goes the way `POST /cases` goes (`api.routes.cases._remember` stores the person, the
reference, the read-model intent and the idempotency key; `api.casework.start_case` starts the
workflow by update-with-start; registration runs the duplicate check), except that the update
is the case's `act_batch` carrying every act of the row: the case and its acts arrive together,
all or nothing. Rows are checked completely first (`tools.import_rows.prepare`), so a row the
workflow would refuse is refused before anything of it is stored.

The row's `external_id` is the case's idempotency key (user: the import's actor), so the case
id derives from it: importing a file again creates nothing, and an import cut short resumes
(the rows whose case is in the read model are skipped after one query; a row caught in between
goes through again and reaches the same case and the same update).

SQL is done for groups of rows, not row by row: checked rows are stored a group at a time
(`tools.import_store.store_group`) and opened cases written a group at a time
(`db.import_writes.write_opened`: read model, audit record, duplicate check), each group in one
transaction with one multi-row statement per table. Both leave what the row-by-row functions
(`store_row`, `write_row`) leave, which remain for a group that fails (written one by one) or
races another import (stored one by one). The importer's CPU per case is what limits it on a
small machine, where it shares the cores with the Temporal server and the workers.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.casework import open_with_acts, start_case, write_update_result
from api.errors import ApiError, Conflict, Unavailable, Unprocessable
from api.routes.actions import after_actions
from api.routes.cases import _remember
from core.csv_safety import SafeWriter
from core.private_files import private_file
from core.settings import Settings
from db.engine import refresh_planner_statistics
from db.import_writes import Opened, write_opened
from db.imports import (
    audit_imported,
    audit_unaudited,
    discard_unopened,
    import_key,
    imported_external_ids,
)
from db.intents import record_intent
from db.tables import UserRecord
from db.users import Role
from models.enums import Action
from models.messages import ProjectionBatch
from tools.import_rows import (
    Format,
    PreparedRow,
    Rejection,
    RowError,
    SourceRow,
    prepare,
    read_rows,
)
from tools.import_store import REUSED_KEY, Stored, store_group
from workflows.case import CaseWorkflow, workflow_id

log = logging.getLogger("asylumflow.import")

DEFAULT_ACTOR = "system:import"
"""Who the imported acts are recorded by (and who "created" the persons), unless told."""

ATTEMPTS = 4
"""Tries per row while Temporal or the database does not answer, before it counts as failed."""

STORE_GROUP = 16
"""At most this many checked rows are stored in one transaction (`store_group`)."""

CHECKERS = 2
"""Tasks checking and storing rows: one checks a group while the other's is stored."""

WRITE_GROUP = 64
"""At most this many opened cases are written in one transaction."""

WRITE_WAIT = 1.0
"""Seconds the writer gathers opened cases before it writes the group it has.

Off the critical path (the openers do not wait for it while the queue has room), so the longer
the fewer statements per case: at 20 cases/s a quarter of a second made groups of about five.
"""

WRITE_POLL = 0.02
"""Seconds between looks at the queue while a group gathers."""


@dataclass
class ImportReport:
    """What one import run did."""

    imported: int = 0
    skipped: int = 0
    """Rows already imported by an earlier run (or earlier in this one)."""
    rejected: list[Rejection] = field(default_factory=list)
    failed: list[Rejection] = field(default_factory=list)
    """Rows not imported because a service did not answer: a later run retries them."""
    not_reached: int = 0
    """Rows left for a later run by `limit`."""

    @property
    def ok(self) -> bool:
        """Every row is in (imported now or before)."""
        return not self.rejected and not self.failed and not self.not_reached


def _actor(name: str) -> UserRecord:
    # `_remember` reads only the user's name (who created the person, whose keys).
    return UserRecord(name=name, role=Role.SUPERVISOR.value, token_hash="", created_at=_now())


def _now() -> datetime:
    return datetime.now(UTC)


async def run_import(
    client: Client,
    engine: Engine,
    settings: Settings,
    path: Path,
    fmt: Format,
    *,
    actor: str = DEFAULT_ACTOR,
    concurrency: int = 16,
    limit: int | None = None,
    on_row: Callable[[], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import every row of `path` not imported yet; what happened to each.

    Args:
        client: Temporal, connected as the API connects (actions signed).
        engine: The read model (persons, keys, cases).
        settings: The deployment (task queue, workflow options).
        path: The file.
        fmt: Its format (`tools.import_rows.format_of`).
        actor: Recorded as the acts' actor and the persons' creator; keys are per actor.
        concurrency: Rows in flight at once.
        limit: Import at most this many new cases in this run (the rest: `not_reached`).
        on_row: Progress: called once per row done.
        on_total: Progress: called once with the number of rows.

    Raises:
        tools.import_rows.FileError: the file cannot be imported at all.
    """
    report = ImportReport()
    done = await asyncio.to_thread(imported_external_ids, engine, actor)
    # What an earlier run that died left without its audit record gets it before anything.
    await asyncio.to_thread(audit_unaudited, engine, actor)
    rows = list(read_rows(path, fmt))
    if on_total is not None:
        on_total(len(rows))
    first_seen: dict[str, int] = {}
    todo: list[SourceRow] = []
    for row in rows:
        external = row.external_id if isinstance(row, SourceRow) else None
        if isinstance(row, Rejection):
            report.rejected.append(row)
        elif not isinstance(external, str):
            todo.append(row)  # refused by `prepare`, with the reason
            continue
        elif external in first_seen:
            why = f"repeats line {first_seen[external]}"
            report.rejected.append(Rejection(row.row, external, "external_id", why))
        else:
            first_seen[external] = row.row
            if external not in done:
                todo.append(row)
                continue
            report.skipped += 1
        if on_row is not None:
            on_row()
    user = _actor(actor)
    budget = len(todo) if limit is None else limit
    rows_left: Iterator[SourceRow] = iter(todo)
    # Stages, so SQL never holds a Temporal slot: checkers check rows and store a group's
    # persons, references, intents and keys; openers keep `concurrency` cases in flight to
    # Temporal. The queues between stages are bounded.
    stored: asyncio.Queue[tuple[SourceRow, PreparedRow, Stored] | None]
    stored = asyncio.Queue(maxsize=max(1, concurrency))
    # And a third: a writer writes what the opened cases handed back, several cases at once
    # (`write_opened`), so that the read-model write and the duplicate check do not hold a
    # Temporal slot either. Room for a whole group beside the cases in flight.
    opened: asyncio.Queue[_Opened | None]
    opened = asyncio.Queue(maxsize=max(1, concurrency) + WRITE_GROUP)

    def count(outcome: Rejection | None, failed: bool = False) -> None:
        if outcome is None:
            report.imported += 1
        else:
            (report.failed if failed else report.rejected).append(outcome)
        if on_row is not None:
            on_row()

    async def checker() -> None:
        nonlocal budget
        while True:
            group: list[tuple[SourceRow, PreparedRow]] = []
            for source in rows_left:  # shared by the checkers: each takes the next rows
                if budget <= 0:
                    report.not_reached += 1
                    if on_row is not None:
                        on_row()
                    continue
                budget -= 1
                try:
                    group.append((source, prepare(source, settings, user.name, _now())))
                except RowError as exc:
                    count(_rejection(source, exc))
                await asyncio.sleep(0)  # a group's checks must not hold up the openers
                if len(group) >= STORE_GROUP:
                    break
            if not group:
                return
            for source, prepared, kept in await _store(group):
                if isinstance(kept, Stored):
                    await stored.put((source, prepared, kept))
                elif isinstance(kept, RowError):
                    count(_rejection(source, kept))
                else:
                    count(kept.rejection, failed=True)

    async def _store(
        group: list[tuple[SourceRow, PreparedRow]],
    ) -> list[tuple[SourceRow, PreparedRow, Stored | RowError | _Unanswered]]:
        try:
            kept = await asyncio.to_thread(
                store_group, engine, settings.task_queue, user.name, [p for _, p in group]
            )
            return [(s, p, k) for (s, p), k in zip(group, kept, strict=True)]
        except IntegrityError:
            # Another import stored one of these keys meanwhile: row by row, as `POST /cases`
            # answers such a race (the earlier case back).
            pass
        out: list[tuple[SourceRow, PreparedRow, Stored | RowError | _Unanswered]] = []
        for source, prepared in group:
            try:
                one: Stored | RowError | _Unanswered = await _retrying(
                    source, store_row, engine, settings, user, prepared
                )
            except (RowError, _Unanswered) as exc:
                one = exc
            out.append((source, prepared, one))
        return out

    async def opener() -> None:
        while (item := await stored.get()) is not None:
            source, prepared, kept = item
            try:
                view, intent = await _retrying(
                    source, open_row, client, engine, settings, user, prepared, kept
                )
            except RowError as exc:
                count(_rejection(source, exc))
            except _Unanswered as exc:
                count(exc.rejection, failed=True)
            else:
                await opened.put((source, prepared, kept, view, intent))

    async def write_one(item: _Opened) -> None:
        source, prepared, kept, view, intent = item
        try:
            await _retrying(source, write_row, engine, user, prepared, kept, view, intent)
        except _Unanswered as exc:
            count(exc.rejection, failed=True)
        else:
            count(None)

    async def writer() -> None:
        loop = asyncio.get_running_loop()
        more = True
        while more and (item := await opened.get()) is not None:
            group = [item]
            # Gather what the openers hand over for a moment: one transaction for the group.
            until = loop.time() + WRITE_WAIT
            while len(group) < WRITE_GROUP and loop.time() < until:
                try:
                    nxt = opened.get_nowait()
                except asyncio.QueueEmpty:
                    await asyncio.sleep(WRITE_POLL)
                    continue
                if nxt is None:
                    more = False
                    break
                group.append(nxt)
            if await _write_group(engine, user, group):
                for _ in group:
                    count(None)
            else:
                # Nothing of the group was committed: each case the way a single one goes.
                for one in group:
                    await write_one(one)

    width = max(1, concurrency)

    async def feed(openers: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*(checker() for _ in range(CHECKERS)))
        for _ in openers:
            await stored.put(None)
        await asyncio.gather(*openers)
        await opened.put(None)

    # One task group: a stage that fails cancels the others, so a dead writer cannot leave
    # the openers blocked on a full queue (and the import hanging) instead of failing.
    try:
        async with asyncio.TaskGroup() as stages:
            openers = [stages.create_task(opener()) for _ in range(width)]
            stages.create_task(writer())
            stages.create_task(feed(openers))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    if report.imported:
        # A migration grows the read model in one step: the lists' plans are taken from fresh
        # statistics at once, not at the worker's next refresh (SQLite; `db.engine`).
        await asyncio.to_thread(refresh_planner_statistics, engine)
    report.rejected.sort(key=lambda r: r.row)
    report.failed.sort(key=lambda r: r.row)
    return report


_Opened = tuple[SourceRow, PreparedRow, Stored, dict[str, Any], int]
"""A case opened, as the writer gets it: row, check, what was stored, the view, its intent."""


async def _write_group(engine: Engine, user: UserRecord, group: list[_Opened]) -> bool:
    """Write a group of opened cases in one transaction (`write_opened`); whether it was.

    On a failure nothing of the group is committed, and False says to write them one by one.
    """
    cases = []
    for _, prepared, kept, view, intent in group:
        raw = view.get("projection")
        batch = None if raw is None else ProjectionBatch.model_validate(raw)
        registered = any(r.action is Action.REGISTER for r in prepared.acts)
        cases.append(Opened(kept.case_id, batch, intent, registered))
    try:
        await asyncio.to_thread(write_opened, engine, user.name, cases)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("import: a group of %d cases written one by one (%s)", len(group), type(exc))
        return False
    return True


def _rejection(source: SourceRow, exc: RowError) -> Rejection:
    external = source.external_id if isinstance(source.external_id, str) else None
    return Rejection(source.row, external, exc.field, exc.reason)


class _Unanswered(Exception):
    """A row given up on after `ATTEMPTS` tries: Temporal or the database did not answer."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.reason)
        self.rejection = rejection


T = TypeVar("T")


async def _retrying(source: SourceRow, step: Callable[..., Awaitable[T]], *args: Any) -> T:
    """`step(*args)`, tried again with backoff while a service does not answer.

    Every step is idempotent: the key gives the same case, the update id the same update.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await step(*args)
        except (Unavailable, RPCError, RPCTimeoutOrCancelledError, TimeoutError, OSError) as exc:
            if attempt == ATTEMPTS:
                # The row number only: the error may quote the request.
                log.warning("import row %s failed: %s", source.row, type(exc).__name__)
                external = source.external_id if isinstance(source.external_id, str) else None
                why = f"not answered: {exc}"
                raise _Unanswered(Rejection(source.row, external, "", why)) from None
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


async def store_row(
    engine: Engine, settings: Settings, user: UserRecord, row: PreparedRow
) -> Stored:
    """Store a checked row's person, reference, intent and key, as `POST /cases` does first.

    The key (`import:<external_id>`) decides the case id; a row stored before gets its case.

    Raises:
        RowError: the key was used with another case body.
    """
    try:
        case_id, _, intent, reference = await asyncio.to_thread(
            _remember, engine, user, import_key(row.external_id), row.body, settings.task_queue
        )
    except Unprocessable:
        raise RowError("external_id", REUSED_KEY) from None
    return Stored(case_id, intent, reference)


async def open_row(
    client: Client,
    engine: Engine,
    settings: Settings,
    user: UserRecord,
    row: PreparedRow,
    kept: Stored,
) -> tuple[dict[str, Any], int]:
    """Open a stored row's case with all its acts in one update-with-start.

    Returns the view with its read-model batch, and the intent that batch's write drops
    (`write_row`).

    Raises:
        RowError: the workflow refused the acts (the case is then removed: nothing of the
            row is left).
    """
    intent = kept.intent_id
    if intent is None:  # a row stored by an earlier run: its intent was written or repaired
        intent = await asyncio.to_thread(record_intent, engine, kept.case_id)
    batch = row.batch()
    try:
        if batch is None:
            # No act: the case opens as `POST /cases` opens one (and writes its row).
            view = await start_case(
                client,
                engine,
                settings,
                kept.case_id,
                row.body,
                user.name,
                intent,
                reference=kept.reference,
            )
            return view, intent
        view = await open_with_acts(
            client,
            engine,
            settings,
            kept.case_id,
            row.body,
            user.name,
            intent,
            batch,
            # Fixed per case: a resumed import reaches the first attempt's update and result.
            f"import-{kept.case_id}",
            kept.reference,
        )
    except (Conflict, Unprocessable) as exc:
        await _discard(client, engine, kept.case_id)
        raise RowError(_field_of(exc), str(exc.body["detail"])) from None
    return view, intent


async def write_row(
    engine: Engine,
    user: UserRecord,
    row: PreparedRow,
    kept: Stored,
    view: dict[str, Any],
    intent: int,
) -> dict[str, Any]:
    """Write what opening the case handed back, then run the registration's duplicate check.

    As the API does after an update (`write_update_result`, `after_actions`); the case row
    written here is what marks the row imported.
    """
    view = await write_update_result(engine, kept.case_id, view, intent)
    await asyncio.to_thread(audit_imported, engine, user.name, kept.case_id)
    if row.acts:
        view = await after_actions(engine, kept.case_id, row.acts, view)
    return view


async def import_row(
    client: Client, engine: Engine, settings: Settings, user: UserRecord, row: PreparedRow
) -> dict[str, Any]:
    """Store, open and write one checked row (`store_row`, `open_row`, `write_row`)."""
    kept = await store_row(engine, settings, user, row)
    view, intent = await open_row(client, engine, settings, user, row, kept)
    return await write_row(engine, user, row, kept, view, intent)


def _field_of(exc: ApiError) -> str:
    return str(exc.body.get("field") or f"actions.{exc.body.get('index', 0)}.action")


async def _discard(client: Client, engine: Engine, case_id: str) -> None:
    """Remove a case whose opening batch the workflow refused (it holds no act).

    Only if it holds none: a case someone acted on since is left as it is.
    """
    handle = client.get_workflow_handle(workflow_id(case_id))
    try:
        history = await handle.query(CaseWorkflow.history)
        if any(not e.get("derived") for e in history[1:]):
            return
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id(case_id)),
            )
        )
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
    await asyncio.to_thread(discard_unopened, engine, case_id)


REPORT_FIELDS = ("row", "external_id", "field", "reason")


def write_report(path: Path, rows: list[Rejection]) -> None:
    """The refused (and failed) rows: CSV, or JSON Lines for a `.jsonl` path; the owner's only.

    Reasons may quote a value of the row (a nationality code that is no code), so the file is
    kept private like the data it reports on.
    """
    private_file(path)
    with path.open("w", newline="", encoding="utf-8") as out:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            for r in rows:
                item = {"row": r.row, "external_id": r.external_id, "field": r.field}
                out.write(json.dumps({**item, "reason": r.reason}) + "\n")
            return
        writer = SafeWriter(out)
        writer.writerow(REPORT_FIELDS)
        for r in rows:
            writer.writerow([r.row, r.external_id or "", r.field, r.reason])


def read_report(path: Path) -> list[dict[str, str]]:
    """A report written by `write_report` (CSV), as dicts (for tests and scripts)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
