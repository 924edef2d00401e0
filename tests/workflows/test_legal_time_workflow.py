"""The convergence property through the real workflow (time-skipping test server).

For valid legal records drawn as in the pure-model property test, recording the acts one at a
time, late, in a shuffled order (an act the case refuses for now is tried again after the
others) ends in the same stage, deadlines, flags and non-retracted history items as recording
them in one batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest_asyncio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.enums import Action
from models.messages import ActionBatch, ActionRequest
from tests.legal_records import Act, records
from tests.workflows.helpers import Handle, start_case
from worker import build_worker
from workflows.case import CaseWorkflow

EXAMPLES = 10


def _examples() -> list[tuple[date, list[Act], list[int]]]:
    """Ten records and typing orders, drawn by hypothesis (deterministically)."""
    found: list[tuple[date, list[Act], list[int]]] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(case=records(), data=st.data())
    def collect(case: tuple[date, list[Act]], data: st.DataObject) -> None:
        start, acts = case
        found.append((start, acts, data.draw(st.permutations(range(len(acts))))))

    collect()
    return found


@pytest_asyncio.fixture
async def env(
    time_env: WorkflowEnvironment, task_queue: str, sqlite_engine: Engine
) -> AsyncIterator[WorkflowEnvironment]:
    """The session's test server with a worker on this test's own task queue."""
    async with build_worker(time_env.client, task_queue, sqlite_engine):
        yield time_env


def _request(act: Act) -> ActionRequest:
    body: dict[str, Any] = {"on": act.on.isoformat()}
    for name, value in act.fields:
        body[name] = value.isoformat() if isinstance(value, date) else value
    return ActionRequest(action=act.action, body=body, actor="caseworker")


async def _summary(handle: Handle) -> dict[str, Any]:
    view = await handle.query(CaseWorkflow.state)
    history = await handle.query(CaseWorkflow.history)
    return {
        "stage": view["stage"],
        "deadlines": view["deadlines"],
        "flags": view["flags"],
        "items": sorted(
            (e["action"], e["on"], str(e["data"].get("clock")))
            for e in history
            if not e["retracted"] and e["action"] != Action.RETRACT_EVENT.value
        ),
    }


async def test_one_at_a_time_in_any_order_converges_through_the_workflow(
    env: WorkflowEnvironment, task_queue: str, case_id: str
) -> None:
    examples = _examples()
    assert len(examples) == EXAMPLES
    for n, (start, acts, order) in enumerate(examples):
        batch = await start_case(env.client, task_queue, f"{case_id}-b{n}", identified_on=start)
        await batch.execute_update(
            CaseWorkflow.act_batch, ActionBatch(actions=[_request(a) for a in acts])
        )
        single = await start_case(env.client, task_queue, f"{case_id}-s{n}", identified_on=start)
        pending = [acts[i] for i in order]
        while pending:
            progress = False
            for act in list(pending):
                try:
                    await single.execute_update(CaseWorkflow.act, _request(act))
                except WorkflowUpdateFailedError:
                    continue
                pending.remove(act)
                progress = True
            assert progress, (n, pending)
        assert await _summary(single) == await _summary(batch), (n, order)
