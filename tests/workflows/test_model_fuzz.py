"""Hypothesis-generated action sequences: the workflow never reaches a state the model would not."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.actions import parse_input
from models.enums import Action, IdentifiedAt
from models.lifecycle import (
    CaseState,
    DomainError,
    InvalidInput,
    allowed_actions,
    apply,
    new_case,
)
from tests.workflows.helpers import act, local_today, start_case
from worker import build_worker
from workflows.case import CaseWorkflow

# Bodies that are valid in shape; whether the case's stage allows them is the model's call.
CHOICES: list[tuple[Action, dict[str, Any]]] = [
    (Action.COMPLETE_SCREENING, {}),
    (Action.REFER, {"to": "asylum"}),
    (Action.MAKE_APPLICATION, {}),
    (Action.REGISTER, {}),
    (Action.LODGE, {}),
    (Action.ASSIGN_PROCEDURE, {"procedure": "accelerated"}),
    (Action.ASSIGN_PROCEDURE, {"procedure": "admissibility"}),
    (Action.DECIDE_ADMISSIBILITY, {"admissible": True}),
    (Action.DECIDE_ADMISSIBILITY, {"admissible": False}),
    (Action.SCHEDULE_INTERVIEW, {"interview_on": "{day}"}),
    (Action.RECORD_INTERVIEW, {"attended": True}),
    (Action.RECORD_INTERVIEW, {"attended": False}),
    (Action.DECIDE, {"outcome": "rejected"}),
    (Action.DECIDE, {"outcome": "refugee_status"}),
    (Action.NOTIFY_DECISION, {}),
    (Action.LODGE_APPEAL, {}),
    (Action.DECIDE_APPEAL, {"result": "dismissed"}),
    (Action.DECIDE_APPEAL, {"result": "quashed_remanded"}),
    (Action.RECORD_CONTACT, {}),
    (Action.REPORT_ABSCONDED, {}),
    (Action.REVIEW_ABANDONMENT, {"confirm": False}),
    (Action.DISCONTINUE, {}),
    (Action.REQUEST_REOPENING, {}),
    (Action.WITHDRAW, {}),
    (Action.PAUSE_CLOCK, {"reason": "x", "attributable_to": "applicant"}),
    (Action.RESUME_CLOCK, {}),
    (Action.EXTEND_DEADLINE, {"clock": "decision", "reason": "complex"}),
    (Action.ISSUE_PERSONAL_ID, {}),
    (Action.ISSUE_PERMIT, {}),
    (Action.START_RETURN, {}),
    (Action.RECORD_RETURN_CONSENT, {}),
    (Action.RECORD_RISK_ASSESSMENT, {"at_risk": False}),
    (Action.RECORD_DEPARTURE, {}),
    (Action.CLOSE, {}),
]


@pytest_asyncio.fixture
async def worker_env(
    time_env: WorkflowEnvironment, task_queue: str, sqlite_engine: Engine
) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    async with build_worker(time_env.client, task_queue, sqlite_engine):
        yield time_env, task_queue


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    family=st.sampled_from(["rs", "eu", "pl"]),
    steps=st.lists(st.integers(min_value=0, max_value=len(CHOICES) - 1), min_size=5, max_size=25),
)
async def test_workflow_agrees_with_the_model(
    worker_env: tuple[WorkflowEnvironment, str], family: str, steps: list[int]
) -> None:
    env, task_queue = worker_env
    day = local_today(await env.get_current_time())
    case_id = f"fz{uuid.uuid4().hex[:12]}"
    handle = await start_case(
        env.client, task_queue, case_id, jurisdiction=family, identified_on=day
    )
    now = datetime.now(UTC)
    model: CaseState = new_case(
        case_id=case_id,
        family=family,
        identified_on=day,
        identified_at=IdentifiedAt.BORDER,
        unaccompanied_child=False,
        vulnerable=False,
        legal_aid_org=None,
        actor="system",
        recorded_at=now,
    )
    for index in steps:
        action, template = CHOICES[index]
        body = {
            k: (v.format(day=day + timedelta(days=5)) if isinstance(v, str) else v)
            for k, v in template.items()
        }
        try:
            expected = apply(
                model,
                action,
                parse_input(action, {"on": day, **body}),
                actor="caseworker",
                recorded_at=now,
                today=day,
            ).state
        except (DomainError, InvalidInput):
            expected = None
        try:
            view = await act(handle, action.value, day, **body)
        except WorkflowUpdateFailedError:
            view = None
        assert (view is None) == (expected is None), (action, model.stage)
        if expected is not None and view is not None:
            model = expected
            assert view["stage"] == model.stage.value
        if model.stage.value == "closed":
            break
    final = await handle.query(CaseWorkflow.state) if model.stage.value != "closed" else None
    if final is not None:
        assert final["stage"] == model.stage.value
        assert final["allowed_actions"] == [a.value for a in allowed_actions(model)]
