"""The legal-aid deadline lists as plain rows on the open-deadline index (issue 18, session 8).

`db.legal_aid.org_deadlines` filters on the indexed expression `open_due()` and returns plain
rows instead of ORM objects: the lists must hold the same deadlines, in the same order, with
the same items, as the ORM query on `status IN (...)` and `due` gave before. Migration 0017
makes the index the models declare on PostgreSQL (none on SQLite, which keeps the plain
conditions), and the query's expression is the index's (PostgreSQL uses an expression index,
and its statistics, only for the very expression).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex
from sqlmodel import Session, SQLModel, col, select

from bench import supervision
from db import legal_aid
from db.engine import alembic_config, make_engine
from db.tables import CaseRecord, DeadlineRecord
from db.tables.cases import open_due

TODAY = date(2026, 1, 1)
ORGS = ["org-a", "org-b", "org-none"]
"""Two orgs of a quarter of the cases each, and one with none."""

HORIZONS = [None, 0, 14, 60, 400, 3660]
INDEX = "ix_deadlines_open_due"
TWIN = "ix_model_twin"


def _old_items(
    engine: Engine, org: str, until: date | None, statuses: tuple[str, ...], since: date | None
) -> list[tuple[Any, ...]]:
    """What the ORM query before session 8 listed: each pair as the routes read it."""
    query = (
        select(DeadlineRecord, CaseRecord)
        .join(CaseRecord, col(CaseRecord.id) == col(DeadlineRecord.case_id))
        .where(CaseRecord.legal_aid_org == org, col(DeadlineRecord.status).in_(statuses))
        .order_by(col(DeadlineRecord.due), col(DeadlineRecord.case_id), col(DeadlineRecord.clock))
    )
    if until is not None:
        query = query.where(DeadlineRecord.due <= until)
    if since is not None:
        query = query.where(DeadlineRecord.due >= since)
    with Session(engine) as session:
        return [
            (
                {
                    "case_id": d.case_id,
                    **d.provenance,
                    "clock": d.clock,
                    "due": d.due.isoformat(),
                    "status": d.status,
                },
                d.actor,
                d.rule,
                d.pack,
                c.reference,
                c.updated_at,
            )
            for d, c in session.exec(query).all()
        ]


def _new_items(rows: list[legal_aid.OrgDeadline]) -> list[tuple[Any, ...]]:
    return [
        (legal_aid.deadline_item(r), r.actor, r.rule, r.pack, r.reference, r.updated_at)
        for r in rows
    ]


def _seed(engine: Engine) -> None:
    """The benchmark's caseload, with some clocks paused and a running one past its due date."""
    supervision.seed(engine, 600, today=TODAY, rng=random.Random(18))
    with engine.begin() as conn:
        ids = conn.execute(
            sa.select(col(DeadlineRecord.case_id))
            .where(col(DeadlineRecord.status) == "running")
            .order_by(col(DeadlineRecord.case_id))
        ).scalars()
        running = list(ids)
        assert len(running) > 20
        paused = running[::5]
        conn.execute(
            sa.update(DeadlineRecord)
            .where(col(DeadlineRecord.case_id).in_(paused), col(DeadlineRecord.clock) == "decision")
            .values(status="paused")
        )
        # Same due date, same org: the order falls to the case id, then the clock.
        conn.execute(
            sa.update(DeadlineRecord)
            .where(col(DeadlineRecord.case_id).in_(running[1:4]))
            .values(status="running", due=TODAY + timedelta(days=3))
        )
        conn.execute(
            sa.update(DeadlineRecord)
            .where(
                col(DeadlineRecord.case_id) == running[4], col(DeadlineRecord.clock) == "decision"
            )
            .values(due=TODAY - timedelta(days=2))
        )


def test_the_lists_are_those_of_the_orm_query_before(engine: Engine) -> None:
    _seed(engine)
    listed = 0
    for org in ORGS:
        for days in HORIZONS:
            until = None if days is None else TODAY + timedelta(days=days)
            new = _new_items(legal_aid.org_deadlines(engine, org, until=until))
            assert new == _old_items(engine, org, until, legal_aid.OPEN_STATUSES, None)
            listed += len(new)
            if org == "org-none":
                assert new == []
        lapsed = _new_items(legal_aid.lapsed_deadlines(engine, org, today=TODAY))
        since = TODAY - timedelta(days=legal_aid.LAPSED_DAYS)
        assert lapsed == _old_items(engine, org, TODAY, legal_aid.LAPSED_STATUSES, since)
    assert listed > 50
    statuses = {
        r.status for org in ORGS[:2] for r in legal_aid.org_deadlines(engine, org, until=None)
    }
    assert statuses == {"running", "paused"}


def _explained(engine: Engine, query: sa.Select[Any]) -> str:
    """PostgreSQL's plan for `query` when nothing but an index may answer its filter."""
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        conn.execute(sa.text("SET enable_seqscan = off"))
        return "\n".join(str(r[0]) for r in conn.execute(sa.text(f"EXPLAIN {sql}")))


def _index_sql(engine: Engine, name: str) -> str:
    """The index's definition as PostgreSQL keeps it, without its name and blanks."""
    with engine.connect() as conn:
        query = "SELECT pg_get_indexdef(to_regclass(:name))"
        sql = str(conn.execute(sa.text(query), {"name": name}).scalar_one())
    return "".join(sql.replace(name, "").split())


def _sqlite_has_index(engine: Engine) -> bool:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = :name"
        return bool(conn.execute(sa.text(query), {"name": INDEX}).scalar_one())


def test_migration_0017_makes_the_models_index_and_the_query_uses_it(db_url: str) -> None:
    engine = make_engine(db_url)
    config = alembic_config(db_url)
    window = sa.select(col(DeadlineRecord.case_id)).where(open_due() <= TODAY)
    try:
        supervision.seed(engine, 50, today=TODAY, rng=random.Random(1))
        if engine.dialect.name != "postgresql":
            # PostgreSQL only, in the models and the migration alike.
            command.downgrade(config, "0016")
            command.upgrade(config, "head")
            assert not _sqlite_has_index(engine)
            fresh = sa.create_engine("sqlite://")
            SQLModel.metadata.create_all(fresh)
            assert not _sqlite_has_index(fresh)
            return
        command.downgrade(config, "0016")
        engine.dispose()
        assert INDEX not in _explained(engine, window)
        command.upgrade(config, "head")
        engine.dispose()
        assert INDEX in _explained(engine, window)
        # The models and the migration agree: the model's index, built beside the migrated one
        # under another name, is the same index once PostgreSQL has parsed it. (alembic's
        # compare_metadata cannot tell: it compares the expression's text with the server's
        # rewriting of it, `status::text = ANY (ARRAY[...])`, and reports a change.)
        (model,) = [i for i in SQLModel.metadata.tables["deadlines"].indexes if i.name == INDEX]
        ddl = str(CreateIndex(model).compile(dialect=engine.dialect))
        with engine.begin() as conn:
            conn.execute(sa.text(ddl.replace(INDEX, TWIN)))
        assert _index_sql(engine, TWIN) == _index_sql(engine, INDEX)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP INDEX {TWIN}"))
    finally:
        engine.dispose()
