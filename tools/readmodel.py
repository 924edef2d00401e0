"""`asylumflow readmodel rebuild`: the projected tables again, from the workflows.

The workflows are the truth; the read model's projected tables (`cases`, `case_events`,
`deadlines` and the statistics' facts and rollup) are derived from them and can be made again:
every case workflow the namespace still has (visibility lists open ones and closed ones within
the namespace's retention) is queried for its state (`case_state`), and the whole case is
written as one batch (`db.projection.full_batch` / `write_projection`), as the repairs do.

What lives only in SQL is never touched: persons, users, the audit log, idempotency keys,
duplicates, webhooks and deliveries, projection intents, feed secrets.

A closed case whose workflow is gone (older than the retention) cannot be rebuilt: when the
read model has such cases, nothing is dropped unless `drop_missing` says so.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from temporalio.client import Client

from db.projection import full_batch, write_projection
from db.stat_facts import backfill
from db.tables import (
    CaseEventRecord,
    CaseRecord,
    CaseStatCountRecord,
    CaseStatDaysRecord,
    CaseStatFactRecord,
    DeadlineRecord,
)
from models.case_state import CaseState
from workflows.case import CaseWorkflow

PROJECTED = tuple(
    SQLModel.metadata.tables[t.__tablename__]
    for t in (
        CaseEventRecord,
        DeadlineRecord,
        CaseStatFactRecord,
        CaseStatCountRecord,
        CaseStatDaysRecord,
        CaseRecord,
    )
)
"""The tables a rebuild empties and writes again (everything else in the database stays)."""


class RebuildError(RuntimeError):
    """The rebuild would lose data, or could not read every workflow; nothing was changed."""


@dataclass
class RebuildReport:
    """What a rebuild found and wrote."""

    cases: int = 0
    events: int = 0
    deadlines: int = 0
    missing: list[str] = field(default_factory=list)
    """Cases in the read model that the namespace no longer has (dropped with drop_missing)."""
    unreachable: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def case_states(
    client: Client, task_queue: str, *, concurrency: int = 16, attempts: int = 3
) -> tuple[list[CaseState], list[str]]:
    """Every case workflow's state on `task_queue`, and the ids of those that did not answer."""
    query = f'WorkflowType = "CaseWorkflow" AND TaskQueue = "{task_queue}"'
    # One entry per workflow id (a case continued as new has several runs; the last answers).
    ids = sorted({execution.id async for execution in client.list_workflows(query)})
    gate = asyncio.Semaphore(concurrency)
    states: list[CaseState] = []
    unreachable: list[str] = []

    async def one(workflow_id: str) -> None:
        handle = client.get_workflow_handle(workflow_id)
        async with gate:
            for attempt in range(1, attempts + 1):
                try:
                    states.append(await handle.query(CaseWorkflow.case_state))
                    return
                except Exception:  # reported below, after the retries
                    if attempt == attempts:
                        unreachable.append(workflow_id.removeprefix("case-"))
                    else:
                        await asyncio.sleep(attempt)

    await asyncio.gather(*(one(i) for i in ids))
    return sorted(states, key=lambda s: s.case_id), sorted(unreachable)


def _write(engine: Engine, states: list[CaseState], *, empty_first: bool) -> tuple[int, int]:
    now = datetime.now(UTC)
    events = deadlines = 0
    with Session(engine) as session:
        if empty_first:
            for table in PROJECTED:
                session.execute(sa.delete(table))
        for state in states:
            batch = full_batch(state, now)
            write_projection(session, batch)
            events += len(batch.events)
            deadlines += len(batch.deadlines)
        if empty_first:
            # Facts and rollup exactly from the events just written.
            backfill(session.connection())
        session.commit()
    return events, deadlines


async def rebuild_read_model(
    client: Client, engine: Engine, task_queue: str, *, drop_missing: bool = False
) -> RebuildReport:
    """Empty the projected tables and write them again from every case workflow's state.

    Reads every state before dropping anything: a workflow that does not answer (no worker
    running, the server down) stops the rebuild with nothing changed. Actions taken while it
    runs are caught by a second pass (the projection is idempotent and never goes back in
    time); stopping the API first is simpler still.
    """
    began = time.monotonic()
    report = RebuildReport()
    states, report.unreachable = await case_states(client, task_queue)
    if report.unreachable:
        raise RebuildError(
            f"{len(report.unreachable)} case workflows did not answer (is a worker running?); "
            "nothing was changed"
        )
    found = {s.case_id for s in states}
    with Session(engine) as session:
        stored = set(session.exec(select(CaseRecord.id)).all())
    report.missing = sorted(stored - found)
    if report.missing and not drop_missing:
        raise RebuildError(
            f"{len(report.missing)} cases of the read model have no workflow any more (closed "
            "longer ago than the namespace's retention); nothing was changed. "
            "Rebuild anyway, dropping their rows, with --drop-missing"
        )
    report.events, report.deadlines = await asyncio.to_thread(
        _write, engine, states, empty_first=True
    )
    report.cases = len(states)
    # Second pass: what changed while the first one ran.
    again, _ = await case_states(client, task_queue)
    await asyncio.to_thread(_write, engine, again, empty_first=False)
    report.seconds = time.monotonic() - began
    return report
