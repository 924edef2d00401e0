"""`CaseWorkflow`: one durable workflow per asylum case, from identification to closure.

A thin shell: each handler delegates to `workflows.case_engine.CaseRun` (the main loop,
settling, projection, reminders, the actions). The decorated methods stay here, as Temporal finds
a workflow's run, updates, validators and queries on its class.

It runs outside Temporal's workflow sandbox (`sandboxed=False`). The sandbox guarded only this
shell: the engine and the domain it calls were passed through it (loaded once per process), and
passed-through code calls the real clock unrestricted. What the sandbox still cost was its own:
a fresh import of this module and a private copy of it for every run, about a quarter of a
replay's CPU and of a timer storm's, and a sixth of what a cached case held (issue 18,
`bench/RESULTS.md`, session 11). Determinism is guarded instead by
`tests/unit/test_determinism.py`, which refuses clock, randomness, environment and I/O calls
anywhere in `workflows/` and `models/`, and by the recorded histories
`tests/workflows/test_replay.py` replays.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from models.lifecycle import CaseState
from models.messages import ActionBatch, ActionRequest, CaseInput, Refresh
from workflows.case_engine import PROJECT_CASE as PROJECT_CASE
from workflows.case_engine import SEND_REMINDER as SEND_REMINDER
from workflows.case_engine import SEND_RETRACTION as SEND_RETRACTION
from workflows.case_engine import CaseRun
from workflows.case_engine import workflow_id as workflow_id


@workflow.defn(sandboxed=False)
class CaseWorkflow:
    """One asylum case: its stage, its legal clocks and their consequences."""

    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        # The run is built here, not in run(): update validators may run before run() starts.
        self._run = CaseRun(inp)

    @workflow.run
    async def run(self, inp: CaseInput) -> dict[str, Any]:
        """Settle due clocks, project, then sleep until the next due instant or a change."""
        return await self._run.run(inp)

    @workflow.update
    def act(self, request: ActionRequest) -> dict[str, Any]:
        """Apply one action and return the case's new state (see `CaseRun.act`)."""
        return self._run.act(request)

    @act.validator
    def _validate_act(self, request: ActionRequest) -> None:
        self._run.validate([request])

    @workflow.update
    def act_batch(self, batch: ActionBatch) -> dict[str, Any]:
        """Apply several past-dated actions at once, then settle the clocks once."""
        return self._run.act_batch(batch)

    @act_batch.validator
    def _validate_act_batch(self, batch: ActionBatch) -> None:
        self._run.validate(batch.actions)

    @workflow.update
    def refresh(self, request: Refresh | None = None) -> dict[str, Any]:
        """Settle any clock due by now and return the state.

        Used after server outages, and by the API's update-with-start (with `project`).
        """
        return self._run.refresh(request)

    @workflow.query
    def state(self) -> dict[str, Any]:
        """Stage, procedure, pack, deadlines with status, allowed actions, what it waits for."""
        return self._run.view()

    @workflow.query
    def case_state(self) -> CaseState:
        """The full internal state (for tests and the reconciliation job)."""
        return self._run.case

    @workflow.query
    def history(self) -> list[dict[str, Any]]:
        """The ordered events of the case."""
        return [e.model_dump(mode="json") for e in self._run.case.history]
