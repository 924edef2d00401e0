"""The database: engines, sessions, migrations and the SQL helpers every writer shares.

Schema changes go through alembic (`db/migrations`); `migrate()` brings a database to the newest
revision. SQLite by default, PostgreSQL when `DATABASE_URL` says so. The tables are in
`db.tables`, by area.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlmodel import create_engine

import db.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from core.private_files import ensure_private_sqlite

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def upsert_into(dialect: str, table: Table) -> Any:
    """`INSERT` for `table` with `ON CONFLICT` clauses, in the read model's dialect.

    The read model runs on SQLite and PostgreSQL; both take `on_conflict_do_nothing` and
    `on_conflict_do_update` with the same arguments.
    """
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the read model runs on SQLite or PostgreSQL, not {dialect}")


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        ensure_private_sqlite(url)


def make_engine(url: str) -> Engine:
    """An engine for the read model; SQLite gets WAL and a busy timeout for concurrent writers."""
    _ensure_sqlite_dir(url)
    if url.startswith("sqlite:///"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL stays consistent after a crash (the last commits may be lost, and the
            # projection re-applies them idempotently); FULL costs a sync per audit record.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


ANALYSIS_LIMIT = 1000
"""Rows SQLite's `ANALYZE` samples per index: enough to rank the indexes, at a cost that does not
grow with the table."""


def refresh_planner_statistics(engine: Engine) -> None:
    """Give SQLite's query planner fresh statistics of the read model; nothing on PostgreSQL.

    SQLite keeps no statistics unless `ANALYZE` runs, and without them it ranks indexes by their
    shape alone. On a caseload of 40,000 imported cases the abandoned list then took 76 ms (p95)
    and the overdue list 34 ms; with statistics 6.7 and 5.5 ms (`bench/RESULTS.md`, session 16).
    PostgreSQL's autovacuum analyses its tables by itself. With `analysis_limit` each index is
    sampled: 10 ms on that 40,000-case read model (227 MB), where a full `ANALYZE` took 167 ms.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        conn.exec_driver_sql("ANALYZE")


async def statistics_loop(engine: Engine, every: timedelta) -> None:
    """Refresh the planner's statistics now and then every `every`, until cancelled.

    A read model grows from empty, in steps as large as a whole migrated caseload, so the
    statistics are taken when the worker starts and again as the tables grow.
    """
    while True:
        try:
            await asyncio.to_thread(refresh_planner_statistics, engine)
        except Exception:
            # The database is busy or down: the planner keeps its older statistics meanwhile.
            log.exception("planner statistics not refreshed; retrying in %s", every)
        await asyncio.sleep(every.total_seconds())


def alembic_config(url: str) -> Config:
    """The migrations' alembic configuration for the database at `url`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate(url: str) -> None:
    """Upgrade the database at `url` to the newest schema revision."""
    from alembic import command

    _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), "head")


def inserted_id(result: Result[Any]) -> int:
    """The primary key of the one row an `INSERT` statement's `result` added."""
    assert isinstance(result, CursorResult)  # an INSERT's result
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
