"""`asylumflow backup DIR` / `asylumflow restore DIR`: the embedded stack's data, consistently.

The embedded stack keeps two SQLite files in the data directory: Temporal's (`temporal.db`, the
truth) and the read model (`asylumflow.db`). Each is copied with SQLite's online backup API
(`sqlite3.Connection.backup`, one step: a consistent snapshot, while the stack runs and writes).

The read model is copied first, Temporal second: every event in the copied read model is then
also in the copied workflows (the read model is written after Temporal accepts a change), and
what the read model lacks is made good on restore: `restore` leaves a `rebuild-needed` marker,
and `make run` rebuilds the read model from the workflows (`asylumflow readmodel rebuild`)
before it starts the API. Persons, users, audit and webhooks are in the read model's file and
are restored as they were.

A PostgreSQL read model is backed up with PostgreSQL's own tools (pg_dump); only the Temporal
file is then copied here.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

TEMPORAL_FILE = "temporal.db"
READ_MODEL_FILE = "asylumflow.db"
MANIFEST = "backup.json"
REBUILD_MARKER = "rebuild-needed"


class BackupError(RuntimeError):
    """The backup or restore cannot be done as asked; nothing was changed."""


def sqlite_path(db_url: str) -> Path | None:
    """The file of a SQLite URL, None for another database."""
    if db_url.startswith("sqlite:///"):
        return Path(db_url.removeprefix("sqlite:///"))
    return None


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API, in one step)."""
    src = sqlite3.connect(source, timeout=60)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # pages=-1: the whole file under one read transaction
            check = dst.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise BackupError(f"the copy of {source.name} fails its check: {check}")
        finally:
            dst.close()
    finally:
        src.close()


def backup(data_dir: Path, db_url: str, target: Path) -> dict[str, object]:
    """Copy the read model, then Temporal's file, into `target` (new or empty); the manifest."""
    temporal = data_dir / TEMPORAL_FILE
    if not temporal.exists():
        raise BackupError(f"no Temporal database at {temporal}: is this the data directory?")
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty")
    target.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    read_model = sqlite_path(db_url)
    if read_model is not None:
        copy_sqlite(read_model, target / READ_MODEL_FILE)
        files.append(READ_MODEL_FILE)
    copy_sqlite(temporal, target / TEMPORAL_FILE)
    files.append(TEMPORAL_FILE)
    manifest: dict[str, object] = {
        "taken_at": datetime.now(UTC).isoformat(),
        "files": files,
        "read_model": "sqlite" if read_model is not None else "external (back it up with pg_dump)",
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _stack_running(data_dir: Path) -> int | None:
    """The pid of a `make run` launcher using `data_dir`, if one runs."""
    pids = data_dir / "stack.json"
    if not pids.exists():
        return None
    try:
        launcher = int(json.loads(pids.read_text())["launcher"])
        os.kill(launcher, 0)
    except (ValueError, KeyError, ProcessLookupError, PermissionError, json.JSONDecodeError):
        return None
    return launcher


def restore(source: Path, data_dir: Path, db_url: str, *, force: bool = False) -> list[str]:
    """Put a backup's files in place in `data_dir` (stack stopped); the files restored.

    Refuses while a `make run` uses the data directory, and, unless `force`, when it already
    holds data. Leaves the `rebuild-needed` marker for the next `make run`.
    """
    manifest_path = source / MANIFEST
    if not manifest_path.exists():
        raise BackupError(f"{source} holds no backup ({MANIFEST} missing)")
    manifest = json.loads(manifest_path.read_text())
    running = _stack_running(data_dir)
    if running is not None:
        raise BackupError(f"the stack (pid {running}) uses {data_dir}: stop it first")
    targets = {TEMPORAL_FILE: data_dir / TEMPORAL_FILE}
    read_model = sqlite_path(db_url)
    if READ_MODEL_FILE in manifest["files"]:
        if read_model is None:
            raise BackupError("the backup has a SQLite read model, but DATABASE_URL is not SQLite")
        targets[READ_MODEL_FILE] = read_model
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not force:
        raise BackupError(f"{', '.join(existing)} exist; restore over them with --force")
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(target.name + ".restoring")
        scratch.unlink(missing_ok=True)
        copy_sqlite(source / name, scratch)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        scratch.replace(target)
    (data_dir / REBUILD_MARKER).touch()
    return sorted(targets)
