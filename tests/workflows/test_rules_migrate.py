"""`rules migrate` through a real workflow: the act update records it, the view shows the digest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date

import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from models.migration import MIGRATION_ACTOR, affected, preview
from models.rules import get_pack, pack_contents
from tests.workflows.helpers import act, local_today, start_case
from tools.migrate import apply_migration, case_states, running_case_ids
from worker import build_worker
from workflows.case import CaseWorkflow


@pytest_asyncio.fixture
async def env(
    time_env: WorkflowEnvironment, task_queue: str, sqlite_engine: Engine
) -> AsyncIterator[WorkflowEnvironment]:
    async with build_worker(time_env.client, task_queue, sqlite_engine):
        yield time_env


async def _listed(engine: Engine, pack_id: str, case_id: str) -> bool:
    # The projection is an activity: give it a bounded while to land.
    for _ in range(100):
        if case_id in running_case_ids(engine, pack_id):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_migration_is_an_act_in_the_case_history(
    env: WorkflowEnvironment, task_queue: str, case_id: str, sqlite_engine: Engine
) -> None:
    """Lodged 1 Mar 2024 under rs-2023; moved to its earlier content and back, on the record."""
    handle = await start_case(env.client, task_queue, case_id, identified_on=date(2024, 2, 20))
    await act(handle, "make_application", date(2024, 2, 20))
    await act(handle, "register", date(2024, 2, 21))
    view = await act(handle, "lodge", date(2024, 3, 1))
    current = get_pack("rs-2023")
    assert view["rule_pack"]["digest"] == current.digest
    old = next(p for p in pack_contents("rs-2023") if p.digest != current.digest)

    # What the command reads: the read model's running cases of the pack, then each workflow.
    assert await _listed(sqlite_engine, "rs-2023", case_id)
    [state] = await case_states(env.client, [case_id])
    assert affected(state, "rs-2023", old.digest)
    # Lodged after 1 Feb 2024: under either content the same clocks, so nothing moves.
    assert preview(state, "rs-2023", old.digest, now=await env.get_current_time()).moves == []

    today = local_today(await env.get_current_time())
    await apply_migration(env.client, [case_id], "rs-2023", old.digest, today, "test")
    view = await handle.query(CaseWorkflow.state)
    assert view["rule_pack"] == {
        "id": "rs-2023",
        "version": old.version,
        "pinned": True,
        "digest": old.digest,
    }
    history = await handle.query(CaseWorkflow.history)
    item = next(e for e in history if e["action"] == "migrate_rules")
    assert item["actor"] == MIGRATION_ACTOR and not item["derived"]
    assert (item["data"]["from_digest"], item["data"]["to_digest"]) == (
        current.digest,
        old.digest,
    )
    # A later act keeps the migrated content.
    view = await act(handle, "record_contact", today)
    assert view["rule_pack"]["digest"] == old.digest
