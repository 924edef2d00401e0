"""`asylumflow rules migrate`: the running cases of a pack, read and moved through their workflows.

The read model says which cases are pinned to the pack and not closed; each workflow's
`case_state` query gives the case itself, and `models.migration` computes what would move. The
migration is applied by the `act` update with the `migrate_rules` act, so it is in each case's
history and its re-derivations keep it.
"""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from db.tables import CaseRecord
from models.case_state import CaseState
from models.enums import Action, Stage
from models.messages import ActionRequest
from models.migration import MIGRATION_ACTOR
from workflows.case import CaseWorkflow, workflow_id


def running_case_ids(engine: Engine, pack_id: str) -> list[str]:
    """Cases the read model shows pinned to `pack_id` and not closed."""
    with Session(engine) as session:
        rows = session.exec(
            select(CaseRecord.id)
            .where(CaseRecord.pack_id == pack_id)
            .where(col(CaseRecord.pack_pinned).is_(True))
            .where(CaseRecord.stage != Stage.CLOSED.value)
            .order_by(col(CaseRecord.id))
        ).all()
    return list(rows)


async def case_states(client: Client, case_ids: list[str]) -> list[CaseState]:
    """Each case as its workflow holds it now."""

    async def one(case_id: str) -> CaseState:
        handle = client.get_workflow_handle(workflow_id(case_id))
        return await handle.query(CaseWorkflow.case_state)

    return list(await asyncio.gather(*(one(c) for c in case_ids)))


async def apply_migration(
    client: Client,
    case_ids: list[str],
    pack_id: str,
    to_digest: str,
    on: date,
    reason: str | None,
) -> None:
    """Record `migrate_rules` in each case, one update per case."""
    body = {"on": on.isoformat(), "pack": pack_id, "to_digest": to_digest}
    if reason:
        body["reason"] = reason
    for case_id in case_ids:
        handle = client.get_workflow_handle(workflow_id(case_id))
        await handle.execute_update(
            CaseWorkflow.act,
            ActionRequest(action=Action.MIGRATE_RULES, body=body, actor=MIGRATION_ACTOR),
        )
