"""The import's grouped writes (`tools.import_store`, `db.import_writes`) against one by one.

Rows stored, opened and written in groups must leave the read model exactly as `POST /cases`'s
own functions leave it row by row (`store_row`, `write_row`); a group whose write fails leaves
nothing of itself and its cases are written one by one; an import that dies with a group
unwritten resumes to the same read model.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import db.import_writes
import tools.importer
from core.settings import Settings
from db.engine import make_engine, migrate
from db.import_writes import Opened, write_opened
from db.tables import (
    AuditRecord,
    CaseEventRecord,
    CaseRecord,
    CaseReferenceRecord,
    DeadlineRecord,
    DuplicateRecord,
    PersonRecord,
)
from models.enums import Action
from models.messages import ProjectionBatch
from tests.conftest import BACKENDS, PG_ADMIN_URL
from tests.tools.conftest import WriterDied, import_worker, kill_the_writer
from tools.import_rows import PreparedRow, SourceRow, prepare
from tools.import_store import Stored, store_group
from tools.importer import DEFAULT_ACTOR, _actor, open_row, run_import, store_row, write_row

LODGED = [
    {"action": "make_application", "on": "2025-02-24"},
    {"action": "register", "on": "2025-02-25"},
    {"action": "lodge", "on": "2025-03-03"},
]
DECIDED = [
    *LODGED,
    {"action": "decide", "on": "2025-09-01", "outcome": "subsidiary_protection"},
]

INSERTION_TIMES = {"created_at", "at"}
"""Columns stamped with the moment of the write: they differ between any two imports."""

SURROGATE = {"audit_log": "id", "duplicates": "id"}
"""Autoincrement ids whose order follows the order of writing, not what was written."""


def person(given: str, family: str, born: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "given_name": given,
        "family_name": family,
        **({"date_of_birth": born} if born else {}),
        "nationality": "SYR",
        "sex": "female",
        **extra,
    }


def row(n: int, who: dict[str, Any], acts: list[dict[str, Any]], **case: Any) -> dict[str, Any]:
    body = {
        "jurisdiction": "rs",
        "person": who,
        "identified_on": "2025-02-24",
        "identified_at": "border",
        **case,
    }
    return {"external_id": f"g-{n}", "case": body, "actions": acts}


def rows() -> list[dict[str, Any]]:
    """Nine rows to import.

    Likely duplicates among them (names, a swapped birth date, a biometric reference, no birth
    date), decided cases (statistics facts), a case with no act.
    """
    return [
        row(0, person("Amira", "Haddad", "1990-05-01"), DECIDED),
        row(1, person("Amira", "Hadad", "1990-05-01"), LODGED),
        row(2, person("Amira", "Haddad", "1990-01-05"), LODGED, vulnerabilities=["child"]),
        row(3, person("Omar", "Saleh", "1985-03-03", biometric_ref="BIO-1"), DECIDED),
        row(4, person("Umar", "Salih", "1971-07-07", biometric_ref="BIO-1"), LODGED),
        row(5, person("Lina", "Nasser", None), LODGED),
        row(6, person("Lina", "Naser", None), DECIDED),
        row(7, person("Karim", "Aziz", "2001-12-31"), []),
        row(8, person("Karim", "Azis", "2002-01-01"), LODGED),
    ]


@dataclass
class Ctx:
    client: Client
    settings: Settings
    tmp: Path
    dropped: list[str] = field(default_factory=list)

    def engine(self, name: str, backend: str = "sqlite") -> Engine:
        """A fresh, migrated read model named `name`, on SQLite or PostgreSQL."""
        if backend == "sqlite":
            url = f"sqlite:///{self.tmp / name}"
        else:
            if not PG_ADMIN_URL:
                pytest.skip("no PostgreSQL: set ASYLUMFLOW_TEST_PG_URL (.ci/run does)")
            database = f"af_{uuid.uuid4().hex[:12]}"
            with sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT").connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{database}"'))
            self.dropped.append(database)
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
        migrate(url)
        return make_engine(url)

    def drop(self) -> None:
        """Drop the PostgreSQL databases made."""
        if not self.dropped:
            return
        with sa.create_engine(PG_ADMIN_URL or "", isolation_level="AUTOCOMMIT").connect() as c:
            for database in self.dropped:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest_asyncio.fixture
async def ctx(dev_env: WorkflowEnvironment, task_queue: str, tmp_path: Path) -> AsyncIterator[Ctx]:
    # The worker's own read model; each test writes the import into engines of its own.
    async with import_worker(dev_env.client, task_queue, tmp_path / "worker.db") as w:
        made = Ctx(w.client, w.settings, tmp_path)
        try:
            yield made
        finally:
            made.drop()


def prepared(settings: Settings) -> list[PreparedRow]:
    """The rows with acts, checked.

    A case with none is opened, and written, by `start_case`, in a group or not; reached a
    second time it would hand back no events.
    """
    out = []
    for n, item in enumerate((r for r in rows() if r["actions"]), start=1):
        source = SourceRow(n, item["external_id"], item["case"], item["actions"])
        out.append(prepare(source, settings, DEFAULT_ACTOR, tools.importer._now()))
    return out


def contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, without insertion times and surrogate ids."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in SQLModel.metadata.tables.items():
            skip = INSERTION_TIMES | {SURROGATE.get(name, "")}
            columns = [c for c in table.c if c.name not in skip]
            found = conn.execute(sa.select(*columns)).all()
            out[name] = sorted((tuple(map(repr, r)) for r in found), key=repr)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
async def test_grouped_store_and_write_leave_what_row_by_row_leaves(ctx: Ctx, backend: str) -> None:
    one_by_one, grouped = ctx.engine("one.db", backend), ctx.engine("grouped.db", backend)
    user = _actor(DEFAULT_ACTOR)
    checked = prepared(ctx.settings)
    try:
        # Row by row, as `POST /cases` stores and as the import wrote before groups.
        kept_one = [await store_row(one_by_one, ctx.settings, user, r) for r in checked]
        # The same rows as one group.
        kept_group = store_group(grouped, ctx.settings.task_queue, DEFAULT_ACTOR, checked)
        assert all(isinstance(k, Stored) for k in kept_group)
        assert contents(one_by_one) == contents(grouped)

        opened_one = [
            await open_row(ctx.client, one_by_one, ctx.settings, user, r, k)
            for r, k in zip(checked, kept_one, strict=True)
        ]
        # The same cases, reached again: the same update id gives the same answer.
        opened_group = []
        for r, k in zip(checked, kept_group, strict=True):
            assert isinstance(k, Stored)
            opened_group.append(await open_row(ctx.client, grouped, ctx.settings, user, r, k))
        for r, k, (view, intent) in zip(checked, kept_one, opened_one, strict=True):
            await write_row(one_by_one, user, r, k, view, intent)
        cases = []
        for r, k, (view, intent) in zip(checked, kept_group, opened_group, strict=True):
            assert isinstance(k, Stored)
            raw = view.get("projection")
            batch = None if raw is None else ProjectionBatch.model_validate(raw)
            registered = any(a.action is Action.REGISTER for a in r.acts)
            cases.append(Opened(k.case_id, batch, intent, registered))
        write_opened(grouped, DEFAULT_ACTOR, cases)

        written = contents(grouped)
        assert written == contents(one_by_one)
        # What is compared is there: cases, facts, duplicates of every kind above.
        assert len(written["cases"]) == 8
        assert len(written["case_stat_facts"]) > 0 and len(written["case_stat_counts"]) > 0
        assert len(written["duplicates"]) >= 6
        assert len(written["audit_log"]) == 8 and written["projection_intents"] == []
    finally:
        one_by_one.dispose()
        grouped.dispose()


def write_file(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows()))
    return path


def count(engine: Engine, table: Any) -> int:
    with Session(engine) as session:
        return len(session.exec(select(table)).all())


async def test_a_failed_group_write_leaves_nothing_and_its_cases_are_written_one_by_one(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = ctx.engine("failing.db")
    calls = []

    def failing_audit(*args: Any) -> None:
        calls.append(args)
        raise OperationalError("INSERT INTO audit_log", {}, Exception("disk I/O error"))

    # The group's statements run up to the audit records, then the database fails.
    monkeypatch.setattr(db.import_writes, "_audit", failing_audit)
    try:
        report = await run_import(
            ctx.client, engine, ctx.settings, write_file(ctx.tmp / "g.jsonl"), "jsonl"
        )
        assert calls, "the grouped write was tried"
        assert (report.imported, report.ok) == (9, True)
        # Each case once, complete: the failed groups' statements were rolled back.
        assert count(engine, CaseRecord) == count(engine, PersonRecord) == 9
        assert count(engine, AuditRecord) == 9
        assert count(engine, CaseEventRecord) > 9 and count(engine, DeadlineRecord) > 0
        assert count(engine, DuplicateRecord) >= 6
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_import_that_dies_with_a_group_unwritten_resumes(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    engine = ctx.engine("crash.db", backend)
    path = write_file(ctx.tmp / "c.jsonl")

    kill_the_writer(monkeypatch)
    try:
        with pytest.raises(WriterDied):
            await run_import(ctx.client, engine, ctx.settings, path, "jsonl")
        # Stored and opened, nothing written: no row counts as imported but the case with no
        # act, whose row `start_case` writes when it opens it (as `POST /cases` does).
        assert count(engine, PersonRecord) == 9 and count(engine, CaseRecord) == 1
        monkeypatch.undo()
        report = await run_import(ctx.client, engine, ctx.settings, path, "jsonl")
        assert (report.imported, report.skipped, report.ok) == (8, 1, True)
        assert count(engine, PersonRecord) == count(engine, CaseRecord) == 9
        assert count(engine, CaseReferenceRecord) == 9
        # Every case's audit record, the case with no act's too: the run that opened it (and
        # wrote its row, so the resumed run skips it) died before writing its record, and
        # the resumed run writes what such a run left out.
        assert count(engine, AuditRecord) == 9
        with Session(engine) as session:
            cases = session.exec(select(CaseRecord)).all()
            refs = dict(
                session.exec(
                    select(CaseReferenceRecord.case_id, CaseReferenceRecord.reference)
                ).all()
            )
        # Each case keeps the reference stored for it before the crash.
        assert {c.id: c.reference for c in cases} == refs
        assert sorted(c.stage for c in cases) == sorted(
            ["decided"] * 3 + ["lodged"] * 5 + ["identified"]
        )
        again = await run_import(ctx.client, engine, ctx.settings, path, "jsonl")
        assert (again.imported, again.skipped) == (0, 9)
    finally:
        engine.dispose()
        await asyncio.sleep(0)


async def test_a_writer_that_fails_ends_the_import_instead_of_hanging(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer dies on its first group with room for one more case in its queue.

    Before the stages shared a task group, the openers then blocked on the full queue and the
    import never ended; now the writer's error ends it, and what it stored is resumed later.
    """
    engine = ctx.engine("dead-writer.db")
    path = write_file(ctx.tmp / "w.jsonl")

    kill_the_writer(monkeypatch)
    monkeypatch.setattr(tools.importer, "WRITE_GROUP", 1)
    monkeypatch.setattr(tools.importer, "WRITE_WAIT", 0.0)
    try:
        with pytest.raises(WriterDied):
            # A guard against the hang this test is about, not a timing: it ends in seconds.
            await asyncio.wait_for(
                run_import(ctx.client, engine, ctx.settings, path, "jsonl", concurrency=1),
                timeout=120,
            )
        monkeypatch.undo()
        report = await run_import(ctx.client, engine, ctx.settings, path, "jsonl")
        assert report.ok and report.imported + report.skipped == 9
        assert count(engine, PersonRecord) == count(engine, CaseRecord) == 9
    finally:
        engine.dispose()
