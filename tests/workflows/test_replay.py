"""Recorded histories must replay on the current workflow code (determinism across changes)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from models.deadlines import preload
from worker import ALL_WORKFLOWS, PASSTHROUGH

HERE = Path(__file__).parent / "histories"
HISTORIES = sorted(HERE.glob("*.json"))
LEVEL_1 = ["integration_level_1", "continue_as_new_level_1", "caller_projects_level_1"]


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
        *LEVEL_1,
    } <= names


def _replayer() -> Replayer:
    preload()
    return Replayer(
        workflows=list(ALL_WORKFLOWS),
        data_converter=pydantic_data_converter,
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
        ),
    )


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(f"case-{path.stem}", path.read_text())
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def _start_payload(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The case input's payload in the history's started event (JSON, base64 data)."""
    payload: dict[str, Any] = events[0]["workflowExecutionStartedEventAttributes"]["input"][
        "payloads"
    ][0]
    return payload


def _start_input(events: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(base64.b64decode(_start_payload(events)["data"]))
    return found


def _patch_markers(events: list[dict[str, Any]]) -> int:
    return sum(
        1
        for e in events
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
        and e["markerRecordedEventAttributes"]["markerName"] == "core_patch"
    )


def _started_at_level(path: Path, level: int) -> tuple[WorkflowHistory, int]:
    """`path`'s history as if its case had been started at patch `level`; its patch markers."""
    raw = json.loads(path.read_text())
    events = raw["events"]
    case_input = _start_input(events)
    assert "patch_level" not in case_input  # recorded before levels
    case_input["patch_level"] = level
    _start_payload(events)["data"] = base64.b64encode(json.dumps(case_input).encode()).decode()
    return WorkflowHistory.from_json(f"case-{path.stem}", json.dumps(raw)), _patch_markers(events)


@pytest.mark.parametrize("name", LEVEL_1)
def test_a_case_started_at_level_1_records_no_patch_marker(name: str) -> None:
    # What spares each cached case the markers' state (and two history events per change).
    events = json.loads((HERE / f"{name}.json").read_text())["events"]
    assert _start_input(events)["patch_level"] == 1
    assert _patch_markers(events) == 0
    assert not any(e["eventType"] == "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES" for e in events)


# Recorded on code that knew every change patch level 1 folds (so, by a worker of the release
# before levels): what such a worker writes for a case a newer API started at level 1.
PREVIOUS_RELEASE = [
    "caller_projects",
    "reminders",
    "reminders_follow_org",
    "reminder_retracted",
    "late_entry",
    "protection",
]


@pytest.mark.parametrize("name", PREVIOUS_RELEASE)
async def test_a_case_a_previous_worker_ran_at_a_patch_level_replays(name: str) -> None:
    # During a rolling deploy the old worker ignores the level and records the folded changes'
    # markers; the new code must consume them on replay rather than fail on each.
    history, markers = _started_at_level(HERE / f"{name}.json", 1)
    assert markers > 0
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None


async def test_a_change_the_previous_release_lacked_cannot_be_folded() -> None:
    # The rule behind `FOLDED_PATCHES`: `integration` was recorded before several of level 1's
    # changes existed (no marker, their old paths); replayed as a level-1 case it must fail.
    history, _ = _started_at_level(HERE / "integration.json", 1)
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
