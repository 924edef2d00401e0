"""The legal-aid deadline lists: plain rows, filtered on the deadline's own org (issue 18).

`db.legal_aid.org_deadlines` and `lapsed_deadlines` filter on `deadlines.legal_aid_org`
(migration 0018, kept equal to the case's by triggers) and, on PostgreSQL, on the indexed
expression `open_due()`, and return plain rows instead of ORM objects: the lists must hold the
same deadlines, in the same order, with the same items, as the ORM query on the case's org,
`status IN (...)` and `due` gave before (sessions 8 and 9). The triggers must keep the column
right under every writer's statements; 0018 must fill it for the deadlines already stored and
make the indexes the models declare (PostgreSQL: (org, `open_due()`), the query's very
expression, since PostgreSQL uses an expression index only for it; SQLite: (org, status, due)).
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
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
INDEX = "ix_deadlines_org_open_due"
OLD_INDEX = "ix_deadlines_open_due"
SQLITE_INDEX = "ix_deadlines_org_status_due"
TWIN = "ix_model_twin"
CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]
DEADLINES = SQLModel.metadata.tables[DeadlineRecord.__tablename__]


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


def _sqlite_indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deadlines'"
        return {str(name) for name in conn.execute(sa.text(query)).scalars()}


def _pg_indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'deadlines'"
        return {str(name) for name in conn.execute(sa.text(query)).scalars()}


def _misfiled(engine: Engine) -> list[tuple[Any, ...]]:
    """Deadlines whose organisation is not their case's (null for a case without, or none)."""
    query = (
        sa.select(DEADLINES.c.case_id, DEADLINES.c.clock, DEADLINES.c.legal_aid_org)
        .select_from(DEADLINES.outerjoin(CASES, CASES.c.id == DEADLINES.c.case_id))
        .where(DEADLINES.c.legal_aid_org.is_distinct_from(CASES.c.legal_aid_org))
    )
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def _assert_lists_as_before(engine: Engine, orgs: list[str]) -> int:
    """Every list of every org equals the ORM query's on the case's org; how many rows."""
    listed = 0
    for org in orgs:
        for days in HORIZONS:
            until = None if days is None else TODAY + timedelta(days=days)
            new = _new_items(legal_aid.org_deadlines(engine, org, until=until))
            assert new == _old_items(engine, org, until, legal_aid.OPEN_STATUSES, None)
            listed += len(new)
        lapsed = _new_items(legal_aid.lapsed_deadlines(engine, org, today=TODAY))
        since = TODAY - timedelta(days=legal_aid.LAPSED_DAYS)
        assert lapsed == _old_items(engine, org, TODAY, legal_aid.LAPSED_STATUSES, since)
        listed += len(lapsed)
    return listed


def test_migration_0018_fills_the_org_makes_the_models_index_and_the_query_uses_it(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    config = alembic_config(db_url)
    window = sa.select(col(DeadlineRecord.case_id)).where(
        col(DeadlineRecord.legal_aid_org) == "org-a", open_due() <= TODAY
    )
    postgresql = engine.dialect.name == "postgresql"
    try:
        _seed(engine)
        # As a database upgraded from 0017 holds them: deadlines without their org.
        command.downgrade(config, "0017")
        engine.dispose()
        if postgresql:
            assert OLD_INDEX in _pg_indexes(engine)
        with engine.connect() as conn:
            assert "legal_aid_org" not in {
                c["name"] for c in sa.inspect(conn).get_columns("deadlines")
            }
        command.upgrade(config, "head")
        engine.dispose()
        assert _misfiled(engine) == []
        with engine.connect() as conn:
            filled = conn.execute(
                sa.select(sa.func.count()).where(DEADLINES.c.legal_aid_org.is_not(None))
            ).scalar_one()
        assert filled > 100
        assert _assert_lists_as_before(engine, ORGS) > 50
        if not postgresql:
            # SQLite: the plain (org, status, due) index, in the models and the migration alike,
            # and no expression index.
            assert {SQLITE_INDEX, OLD_INDEX, INDEX} & _sqlite_indexes(engine) == {SQLITE_INDEX}
            fresh = sa.create_engine("sqlite://")
            SQLModel.metadata.create_all(fresh)
            assert {SQLITE_INDEX, OLD_INDEX, INDEX} & _sqlite_indexes(fresh) == {SQLITE_INDEX}
            return
        # 0017's index is gone (the new one leads with the org and keeps the expression).
        assert {SQLITE_INDEX, OLD_INDEX, INDEX} & _pg_indexes(engine) == {INDEX}
        assert INDEX in _explained(engine, window)
        # The models and the migration agree: the model's index, built beside the migrated one
        # under another name, is the same index once PostgreSQL has parsed it. (alembic's
        # compare_metadata cannot tell: it compares the expression's text with the server's
        # rewriting of it, `status::text = ANY (ARRAY[...])`, and reports a change.)
        (model,) = [i for i in DEADLINES.indexes if i.name == INDEX]
        ddl = str(CreateIndex(model).compile(dialect=engine.dialect))
        with engine.begin() as conn:
            conn.execute(sa.text(ddl.replace(INDEX, TWIN)))
        assert _index_sql(engine, TWIN) == _index_sql(engine, INDEX)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP INDEX {TWIN}"))
    finally:
        engine.dispose()


def test_the_models_column_is_the_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    # The expression index is skipped (SQLite) or always reported (PostgreSQL; see above), and
    # compare_metadata ignores `ddl_if`: it would have PostgreSQL make SQLite's index too.
    mine = [
        d
        for d in diff
        if "deadlines" in repr(d)
        and INDEX not in repr(d)
        and (engine.dialect.name != "postgresql" or SQLITE_INDEX not in repr(d))
    ]
    assert not mine, mine


def _deadline(case_id: str, clock: str, due: date, status: str = "running") -> dict[str, Any]:
    """A deadline row as the projection writes it: without the organisation."""
    return {
        "case_id": case_id,
        "clock": clock,
        "due": due,
        "status": status,
        "actor": "authority",
        "kind": "act",
        "fires_at": datetime(2025, 12, 1, tzinfo=UTC),
        "rule": "rs-2018/decision",
        "pack": "rs-2018",
        "provenance": {"citation": "test", "clock": clock},
    }


def test_the_triggers_keep_each_deadlines_org_its_cases(engine: Engine) -> None:
    """The org follows its case's under every writer's statements.

    Deadlines inserted without the org (after their case, as every writer writes them), cases
    moved between orgs (as the projection writes `assign_legal_aid`: the whole row), a case row
    gone.
    """
    _seed(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(CASES)
            .where(
                CASES.c.id.in_(
                    sa.select(DEADLINES.c.case_id).where(DEADLINES.c.status == "running")
                )
            )
            .order_by(CASES.c.id)
        ).all()
    a = [dict(r._mapping) for r in rows if r.legal_aid_org == "org-a"]
    nobody = [dict(r._mapping) for r in rows if r.legal_aid_org is None]
    assert len(a) > 3 and len(nobody) > 3
    soon = TODAY + timedelta(days=5)
    with engine.begin() as conn:
        # New cases' deadlines, as the projection writes them (the case row first).
        for i, (template, org) in enumerate([(a[0], "org-b"), (nobody[0], None)]):
            new_id = f"new-{i}"
            conn.execute(
                sa.insert(CASES).values(
                    template | {"id": new_id, "reference": None, "legal_aid_org": org}
                )
            )
            conn.execute(sa.insert(DEADLINES), [_deadline(new_id, "decision", soon)])
    assert _misfiled(engine) == []
    with engine.connect() as conn:
        orgs = dict(
            conn.execute(
                sa.select(DEADLINES.c.case_id, DEADLINES.c.legal_aid_org).where(
                    DEADLINES.c.case_id.in_(["new-0", "new-1"])
                )
            ).all()
        )
    assert orgs == {"new-0": "org-b", "new-1": None}
    # Organisations change: the projection updates the whole row with the new org.
    moves = [(a[2], "org-b"), (a[3], None), (nobody[1], "org-a"), (nobody[2], "org-none")]
    with engine.begin() as conn:
        for row, org in moves:
            conn.execute(
                sa.update(CASES).where(CASES.c.id == row["id"]).values(row | {"legal_aid_org": org})
            )
        # Not the org: the deadlines are not rewritten (and stay right).
        conn.execute(sa.update(CASES).where(CASES.c.id == a[4]["id"]).values(assignee="cw-9"))
    assert _misfiled(engine) == []
    by_b = {r.case_id for r in legal_aid.org_deadlines(engine, "org-b", until=None)}
    assert {"new-0", a[2]["id"]} <= by_b
    by_a = {r.case_id for r in legal_aid.org_deadlines(engine, "org-a", until=None)}
    assert nobody[1]["id"] in by_a and a[2]["id"] not in by_a and a[3]["id"] not in by_a
    assert {r.case_id for r in legal_aid.org_deadlines(engine, "org-none", until=None)} == {
        nobody[2]["id"]
    }
    # A case row gone (its deadlines left behind) is listed by nobody, as before.
    with engine.begin() as conn:
        conn.execute(sa.delete(CASES).where(CASES.c.id == a[5]["id"]))
    assert _assert_lists_as_before(engine, [*ORGS, "org-none"]) > 50


def _all_pages(engine: Engine, org: str, limit: int, **window: Any) -> list[Any]:
    """Every page of the list from the start, concatenated; each page at most `limit` rows."""
    rows: list[Any] = []
    cursor = None
    while True:
        page = legal_aid.org_deadline_page(engine, org, cursor=cursor, limit=limit, **window)
        assert len(page.rows) <= limit
        rows += page.rows
        if page.next_cursor is None:
            return rows
        assert len(page.rows) == limit
        cursor = page.next_cursor


def test_pages_follow_one_another_through_the_whole_list(engine: Engine) -> None:
    """Paged at any size, the lists are the unpaged ones: no row twice, none left out."""
    _seed(engine)
    paged = 0
    for org in ORGS:
        for days in [None, 14, 400]:
            until = None if days is None else TODAY + timedelta(days=days)
            whole = legal_aid.org_deadlines(engine, org, until=until)
            for limit in [1, 2, 7, 500]:
                assert _all_pages(engine, org, limit, until=until) == whole
            paged += len(whole)
        lapsed = legal_aid.lapsed_deadlines(engine, org, today=TODAY)
        for limit in [1, 3]:
            assert _all_pages(engine, org, limit, today=TODAY) == lapsed
    assert paged > 50
    # Ties on the due date (the seed gives three cases the same one) fall to case id, then clock.
    lists = [legal_aid.org_deadlines(engine, org, until=None) for org in ORGS]
    assert any(a.due == b.due for rows in lists for a, b in itertools.pairwise(rows))


def test_a_cursor_the_list_did_not_hand_out_is_refused(engine: Engine) -> None:
    from db.cursor import InvalidCursor, encode_cursor

    for cursor in ["garbage!", encode_cursor("2026-01-01", "x"), encode_cursor("soon", "x", "y")]:
        with pytest.raises(InvalidCursor):
            legal_aid.org_deadline_page(engine, "org-a", cursor=cursor, limit=5)
