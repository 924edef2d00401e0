"""A no-op workflow: the Temporal work of a case without the domain layer (the bench baseline).

It is driven exactly as the API drives `CaseWorkflow` (update-with-start to open it, one Update
per action), so the ratio asylumflow ÷ no-op isolates what the domain layer adds: the lifecycle
rules, the projection activity, search attributes, the API's SQL work. Only Temporal is imported
here (no ORM, no domain models), so the sandbox loads almost nothing per run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow


@workflow.defn
class NoopWorkflow:
    """Waits until told to finish; its update returns at once."""

    def __init__(self) -> None:
        self._done = False
        self._touched = 0

    @workflow.run
    async def run(self) -> int:
        """Wait for `finish`; returns how many updates it answered."""
        await workflow.wait_condition(lambda: self._done)
        return self._touched

    @workflow.update
    def touch(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer at once, as small as an update result can be."""
        del body  # same argument shape as `CaseWorkflow.act`, deliberately unused
        self._touched += 1
        return {"ok": True}

    @workflow.signal
    def finish(self) -> None:
        """Let the run return (to count a completed history)."""
        self._done = True

    @workflow.query
    def touched(self) -> int:
        """How many updates it answered (the simulator's ceiling queries it as a case's view)."""
        return self._touched


@workflow.defn
class TimerNoopWorkflow:
    """The timer storm's baseline (`bench.storm`): one timer until `wake_at`, then done.

    Opened like a case (update-with-start, its update answering at once), so its history up to
    the timer has the same shape; woken, it does nothing and completes.
    """

    @workflow.run
    async def run(self, wake_at: str) -> None:
        """Sleep until the ISO instant `wake_at` (one timer), then return."""
        wait = datetime.fromisoformat(wake_at) - workflow.now()
        await workflow.sleep(max(wait, timedelta(milliseconds=1)))

    @workflow.update
    def touch(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer at once, as `NoopWorkflow.touch` does."""
        del body
        return {"ok": True}
