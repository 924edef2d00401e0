"""Recorded histories must replay on the current workflow code (determinism across changes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from models.deadlines import preload
from worker import ALL_WORKFLOWS, PASSTHROUGH

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    names = {p.stem for p in HISTORIES}
    assert {
        "integration",
        "return",
        "continue_as_new",
        "reminders",
        "pre_reminders_legal_aid",
        "reminder_retracted",
        "late_entry",
        "integration_local_projection",
        "caller_projects_local_projection",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path: Path) -> None:
    preload()
    replayer = Replayer(
        workflows=list(ALL_WORKFLOWS),
        data_converter=pydantic_data_converter,
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
        ),
    )
    history = WorkflowHistory.from_json(f"case-{path.stem}", path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
