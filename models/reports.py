"""Reports produced by maintenance workflows (pure data)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Repair(BaseModel):
    """One case whose read model had drifted, and what differed."""

    case_id: str
    differences: list[str]


class ReconcileReport(BaseModel):
    """What a reconciliation run checked and repaired."""

    checked: int = 0
    repaired: list[Repair] = Field(default_factory=list)
    unreachable: list[str] = Field(default_factory=list)
    finished_at: datetime | None = None


class ReconcileInput(BaseModel):
    """Which task queue's cases to reconcile."""

    task_queue: str
