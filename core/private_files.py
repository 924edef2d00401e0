"""Files that hold cases, personal data or keys are the owner's alone (0600, directories 0700).

The read model's SQLite file, the Temporal dev server's database and the keys `make run` keeps
in the data directory would otherwise be created world-readable under the usual umask (022).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Create `path` (and parents) if missing; make it the owner's alone."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create `path` empty if missing, readable and writable by its owner only.

    SQLite gives the files it creates beside a database (`-wal`, `-shm`, journals) the
    database file's own mode, so creating the database this way covers them too.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        os.chmod(path, FILE_MODE)
    else:
        os.close(fd)


def write_private(path: Path, text: str) -> None:
    """Write `text` to a new file that is the owner's alone from its first byte."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def restrict_tree(root: Path) -> None:
    """Make `root` and everything under it the owner's alone (files 0600, directories 0700)."""
    private_dir(root)
    for path in root.rglob("*"):
        if path.is_symlink():
            continue
        mode = DIR_MODE if path.is_dir() else FILE_MODE
        if stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///` URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    name = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not name or name == ":memory:":
        return None
    return Path(name)


def ensure_private_sqlite(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (it would use the umask)."""
    path = sqlite_path(url)
    if path is not None:
        private_file(path)
