"""The API's side of the projection: intents, writes of update results, repairs of lost ones.

The API sends each change with `project=True`; the workflow hands the read model's batch back
in the update's result and runs no projection activity, and the API writes the batch before it
answers (`api.casework.write_update_result`). What makes that safe is the intent: a row inserted
before the update is sent and deleted in the transaction that writes its batch. If the API dies
in between, or its write fails, the intent stays, and `repair_pending` (run by every worker
process, see `repair_loop`) projects the case from its workflow's state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, delete, func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from db.engine import inserted_id
from db.projection import full_batch, write_projection
from db.tables import ProjectionIntentRecord
from models.messages import ProjectionBatch

log = logging.getLogger(__name__)

T = TypeVar("T")

_INTENTS = SQLModel.metadata.tables[ProjectionIntentRecord.__tablename__]


# Built once, their values passed as parameters: every action inserts an intent and drops it,
# and building the statement per call (with the values inside) cost more than running it.
_INSERT = sa.insert(_INTENTS)
_DELETE = sa.delete(_INTENTS).where(_INTENTS.c.id == sa.bindparam("intent_id"))


def _values(case_id: str) -> dict[str, object]:
    return {"case_id": case_id, "created_at": datetime.now(UTC)}


def intend(session: Session, case_id: str) -> int:
    """Add an intent for a change about to be sent (the caller commits); its id."""
    return inserted_id(session.execute(_INSERT, _values(case_id)))


def record_intent(engine: Engine, case_id: str) -> int:
    """Insert and commit an intent; its id.

    On a plain connection, not a `Session`: one statement needs none of the ORM's bookkeeping.
    """
    with engine.begin() as connection:
        return inserted_id(connection.execute(_INSERT, _values(case_id)))


def _drop(session: Session, intent_id: int) -> None:
    session.execute(_DELETE, {"intent_id": intent_id})


def forget_intent(engine: Engine, intent_id: int) -> None:
    """Drop an intent whose change never happened (the update was rejected or failed)."""
    with engine.begin() as connection:
        connection.execute(_DELETE, {"intent_id": intent_id})


def write_returned_batch(
    engine: Engine,
    batch: ProjectionBatch,
    intent_id: int | None,
    also: Callable[[Session], T] | None = None,
) -> T | None:
    """Write the batch an update returned to the API and drop its intent, in one transaction.

    `also` adds its own statements to that transaction (the API's audit record: one commit per
    action instead of two) and its result is returned.
    """
    with Session(engine) as session:
        write_projection(session, batch)
        if intent_id is not None:
            _drop(session, intent_id)
        extra = also(session) if also is not None else None
        session.commit()
    return extra


def pending(engine: Engine, older_than: timedelta) -> dict[str, int]:
    """Cases with an intent older than `older_than` → the newest such intent's id."""
    cutoff = datetime.now(UTC) - older_than
    with Session(engine) as session:
        rows = session.exec(
            select(ProjectionIntentRecord.case_id, func.max(ProjectionIntentRecord.id))
            .where(col(ProjectionIntentRecord.created_at) <= cutoff)
            .group_by(col(ProjectionIntentRecord.case_id))
        ).all()
    return {case_id: int(top or 0) for case_id, top in rows}


def _repair(engine: Engine, case_id: str, top: int, batch: ProjectionBatch | None) -> None:
    with Session(engine) as session:
        if batch is not None:
            # The whole case: only missing events are added, and a row the API wrote after
            # the state was read (a higher seq) is left as it is.
            write_projection(session, batch)
        session.exec(
            delete(ProjectionIntentRecord).where(
                col(ProjectionIntentRecord.case_id) == case_id,
                col(ProjectionIntentRecord.id) <= top,
            )
        )
        session.commit()


async def repair_pending(engine: Engine, client: Client, older_than: timedelta) -> list[str]:
    """Project every case with an intent left behind from its workflow; the ids repaired.

    Safe beside a live API: writes are idempotent by (case, seq) and never move a row back.
    """
    from workflows.case import CaseWorkflow, workflow_id

    repaired: list[str] = []
    for case_id, top in (await asyncio.to_thread(pending, engine, older_than)).items():
        handle = client.get_workflow_handle(workflow_id(case_id))
        batch: ProjectionBatch | None
        try:
            state = await handle.query(CaseWorkflow.case_state)
            batch = full_batch(state, datetime.now(UTC))
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                log.warning("case %s not reachable for its projection repair", case_id)
                continue
            batch = None  # never started (the creation failed): nothing to project
        await asyncio.to_thread(_repair, engine, case_id, top, batch)
        repaired.append(case_id)
    if repaired:
        log.info("projected %d cases whose update result was not written", len(repaired))
    return repaired


async def repair_loop(engine: Engine, client: Client, every: timedelta) -> None:
    """Repair intents older than `every`, every `every`, until cancelled."""
    while True:
        await asyncio.sleep(every.total_seconds())
        try:
            await repair_pending(engine, client, every)
        except Exception:
            # The database or the cluster is down: the intents wait for the next round.
            log.exception("projection repair failed; retrying in %s", every)
