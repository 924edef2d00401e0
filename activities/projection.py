"""The read-model projection activity: one call per batch of accepted events."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from db.projection import write_projection
from models.messages import ProjectionBatch


class ReadModelActivities:
    """Projects case workflows into SQL. Idempotent: retries and replays never duplicate."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="project_case")
    def project_case(self, batch: ProjectionBatch) -> None:
        """Write one batch (see `write_projection`) in a transaction of its own."""
        with Session(self.engine) as session:
            write_projection(session, batch)
            session.commit()
