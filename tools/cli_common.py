"""What every `asylumflow` command shares: the consoles and how a command fails."""

from __future__ import annotations

import sys
from datetime import date
from typing import NoReturn

import typer
from rich.console import Console

# Wide enough for the deadline table when output goes to a pipe or a log (rich assumes 80).
_out = Console(width=None if sys.stdout.isatty() else 200)
_err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """One line on stderr and exit code 2: what was wrong and what is allowed."""
    _err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(2)


def _parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{what}: {text!r} is not a date; use YYYY-MM-DD")
