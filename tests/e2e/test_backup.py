"""Backup while actions stream, restore into a fresh data directory; the read model rebuilt.

A persistent dev server on a SQLite file in a data directory, the read model beside it, a worker
in this process, the demo caseload (every situation) and a stream of `record_contact` actions
(each with a unique note) sent the way the API sends them. The backup is taken mid-stream; a
second dev server is then started on the restored file and must show the same cases, deadlines
and histories, and every action answered before the backup began exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from api.casework import send_action
from core.settings import Settings
from db.engine import make_engine, migrate
from db.projection import full_batch
from db.tables import CaseRecord, PersonRecord, UserRecord
from models.enums import Action
from models.lifecycle import CaseState
from models.messages import ActionRequest
from tests.e2e.helpers import DevServer
from tools.backup import backup, restore
from tools.demo import seed_demo
from tools.readmodel import PROJECTED, case_states, rebuild_read_model
from worker import build_worker

TASK_QUEUE = "backup-e2e"
CASES = 24


def _settings(url: str) -> Settings:
    return Settings(_env_file=None, DATABASE_URL=url, ASYLUMFLOW_TASK_QUEUE=TASK_QUEUE)


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every projected table's rows, sorted (the time a row was written left out)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in PROJECTED:
            columns = [c for c in table.columns if c.name != "updated_at"]
            rows = conn.execute(sa.select(*columns)).all()
            out[table.name] = sorted((tuple(_hashable(v) for v in r) for r in rows), key=repr)
    return out


def _assert_same(
    got: dict[str, list[tuple[Any, ...]]], want: dict[str, list[tuple[Any, ...]]]
) -> None:
    for name in want:
        extra = sorted(set(got[name]) - set(want[name]), key=repr)[:3]
        lacking = sorted(set(want[name]) - set(got[name]), key=repr)[:3]
        assert not extra and not lacking, (
            f"{name}: rebuilt but not before {extra}; before but not rebuilt {lacking}"
        )
        assert len(got[name]) == len(want[name]), name


def _history(state: CaseState) -> list[tuple[int, str, str | None, bool]]:
    return [(e.seq, e.action, e.note, e.retracted) for e in state.history]


async def _stream(
    client: Client,
    engine: Engine,
    case_ids: list[str],
    answered: list[tuple[str, str]],
    stop: asyncio.Event,
) -> None:
    """`record_contact` round the open cases until `stop`; what answered, in order."""
    n = 0
    while not stop.is_set():
        case_id = case_ids[n % len(case_ids)]
        note = f"stream-{n}"
        n += 1
        request = ActionRequest(
            action=Action.RECORD_CONTACT,
            body={"on": datetime.now(UTC).date().isoformat(), "note": note},
            actor="demo-caseworker",
        )
        await send_action(client, engine, case_id, request)
        answered.append((case_id, note))


async def test_backup_mid_stream_restores_and_rebuild_is_identical(e2e_dir: Path) -> None:
    source_dir = e2e_dir / "source"
    source_dir.mkdir()
    source = DevServer(source_dir)
    source.start()
    url = f"sqlite:///{source_dir / 'asylumflow.db'}"
    migrate(url)
    engine = make_engine(url)
    target = e2e_dir / "backup"
    try:
        client = await source.connect()
        async with build_worker(client, TASK_QUEUE, engine):
            seeded = await seed_demo(client, engine, _settings(url), n=CASES)
            assert seeded.complete, seeded.errors
            with Session(engine) as session:
                open_ids = list(
                    session.exec(
                        select(CaseRecord.id).where(
                            CaseRecord.stage.in_(["lodged", "registered", "appeal_lodged"])  # type: ignore[attr-defined]
                        )
                    ).all()
                )
            assert open_ids
            answered: list[tuple[str, str]] = []
            stop = asyncio.Event()
            stream = asyncio.create_task(_stream(client, engine, open_ids, answered, stop))
            await asyncio.sleep(3)
            before_backup = len(answered)
            manifest = await asyncio.to_thread(backup, source_dir, url, target)
            after_backup = len(answered)
            await asyncio.sleep(1)
            stop.set()
            await stream  # the action in flight finishes: the read model is settled
            source_states, unreachable = await case_states(client, TASK_QUEUE)
            assert not unreachable

            # The read model deleted and rebuilt from the workflows: the very same rows.
            settled = _rows(engine)
            with Session(engine) as session:
                kept_before = (
                    len(session.exec(select(PersonRecord)).all()),
                    len(session.exec(select(UserRecord)).all()),
                )
                for table in PROJECTED:
                    session.execute(sa.delete(table))
                session.commit()
            rebuilt = await rebuild_read_model(client, engine, TASK_QUEUE)
            _assert_same(_rows(engine), settled)
            with Session(engine) as session:
                assert kept_before == (
                    len(session.exec(select(PersonRecord)).all()),
                    len(session.exec(select(UserRecord)).all()),
                )
    finally:
        source.close()
        engine.dispose()
    assert manifest["files"] == ["asylumflow.db", "temporal.db"]

    # Restored into a fresh data directory, served by a new server and worker.
    restored_dir = e2e_dir / "restored"
    restored_url = f"sqlite:///{restored_dir / 'asylumflow.db'}"
    assert sorted(restore(target, restored_dir, restored_url)) == [
        "asylumflow.db",
        "temporal.db",
    ]
    assert (restored_dir / "rebuild-needed").exists()
    copy = DevServer(restored_dir)
    copy.start()
    restored_engine = make_engine(restored_url)
    try:
        copy_client = await copy.connect()
        async with build_worker(copy_client, TASK_QUEUE, restored_engine):
            restored_states, unreachable = await case_states(copy_client, TASK_QUEUE)
            assert not unreachable
            # What `make run` does after a restore: the read model up to the workflows.
            await rebuild_read_model(copy_client, restored_engine, TASK_QUEUE, drop_missing=True)
            restored_rows = _rows(restored_engine)
    finally:
        copy.close()
    with Session(restored_engine) as session:
        persons = len(session.exec(select(PersonRecord)).all())
    restored_engine.dispose()

    # The same cases; each history a prefix of the source's (the backup is a moment of it).
    by_id = {s.case_id: s for s in source_states}
    assert {s.case_id for s in restored_states} == set(by_id)
    assert persons == CASES
    for state in restored_states:
        history = _history(state)
        assert history == _history(by_id[state.case_id])[: len(history)], state.case_id
    # Every action answered before the backup began is there, exactly once.
    notes = Counter((s.case_id, e.note) for s in restored_states for e in s.history if e.note)
    for key in answered[:before_backup]:
        assert notes[key] == 1, key
    assert all(n == 1 for key, n in notes.items() if key[1].startswith("stream-"))
    in_backup = sum(1 for key in answered if notes[key] == 1)
    # Deadlines and events of the restored read model are the restored workflows'.
    now = datetime.now(UTC)
    expected_events = sum(len(s.history) for s in restored_states)
    assert len(restored_rows["case_events"]) == expected_events
    expected_deadlines = sorted(
        (s.case_id, d.clock.value, d.due, d.status.value)
        for s in restored_states
        for d in full_batch(s, now).deadlines
    )
    deadline_cols = [c.name for c in next(t for t in PROJECTED if t.name == "deadlines").columns]
    got_deadlines = sorted(
        (
            r[deadline_cols.index("case_id")],
            r[deadline_cols.index("clock")],
            r[deadline_cols.index("due")],
            r[deadline_cols.index("status")],
        )
        for r in restored_rows["deadlines"]
    )
    assert got_deadlines == expected_deadlines
    print(
        f"\nbackup: {CASES} cases, {len(answered)} streamed actions answered "
        f"({before_backup} before the backup began, {after_backup - before_backup} during it, "
        f"{in_backup} in the backup, each once); restored {len(restored_states)} cases, "
        f"{expected_events} events, {len(expected_deadlines)} deadlines; rebuild of the "
        f"source: {rebuilt.cases} cases, {rebuilt.events} events, {rebuilt.deadlines} "
        f"deadlines in {rebuilt.seconds:.1f} s, rows identical"
    )
