"""Workflow code makes no non-deterministic call: the guard that replaces the sandbox's.

`CaseWorkflow` runs outside Temporal's sandbox (`workflow.defn(sandboxed=False)`). The sandbox
never guarded its logic anyway: the engine (`workflows.case_engine`) and the domain (`models`)
are passed through it, and passed-through modules call the real `datetime`, `time` and `random`
unrestricted. This test reads every module workflow code can reach (`workflows/`, `models/`; the
layer test keeps them from importing anything higher) and refuses the calls a replay could not
repeat: the wall clock, sleeps, randomness, fresh UUIDs, the environment, files opened at run
time, threads, sockets and processes. Workflow code uses `workflow.now()`, `workflow.random()`
and `workflow.uuid4()` instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN_CALLS = frozenset(
    {
        *("datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today"),
        "datetime.date.today",
        *("time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.sleep"),
        *("time.perf_counter", "time.perf_counter_ns", "time.process_time", "time.localtime"),
        *("uuid.uuid1", "uuid.uuid4", "os.urandom", "os.getenv", "builtins.open", "builtins.input"),
    }
)
"""Calls whose result differs between a run and its replay (fully qualified)."""

FORBIDDEN_MODULES = frozenset({"random", "secrets", "threading", "subprocess", "socket"})
"""Modules none of whose members workflow code may touch."""

FORBIDDEN_ATTRIBUTES = frozenset({"os.environ"})
"""Values read, not called, that differ between machines and runs."""

ALLOWED: dict[tuple[str, str], str] = {
    ("models/rules.py", "datetime.datetime.now"): (
        "`calendar_today`'s default for the API's lists; workflow code never calls it "
        "(checked below) and passes `workflow.now()` wherever it needs today"
    ),
}
"""(module, name) → why the use cannot reach a workflow run."""

WALL_CLOCK_DEFAULTS = frozenset({"calendar_today"})
"""Functions that read the wall clock when not given `now`: workflow code must not call them."""


def workflow_modules() -> list[Path]:
    """Every module a workflow run can import."""
    return sorted((ROOT / "workflows").rglob("*.py")) + sorted((ROOT / "models").rglob("*.py"))


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name → the fully qualified name it was imported as."""
    names: dict[str, str] = {"open": "builtins.open", "input": "builtins.input"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """`a.b.c` with `a` resolved through the module's imports; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def findings(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, name) of each non-deterministic call or read in `source`."""
    tree = ast.parse(source, filename=filename)
    aliases = _aliases(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func, aliases)
            if name and (name in FORBIDDEN_CALLS or name.split(".")[0] in FORBIDDEN_MODULES):
                found.append((node.lineno, name))
        elif isinstance(node, ast.Attribute):
            name = _dotted(node, aliases)
            if name in FORBIDDEN_ATTRIBUTES:
                found.append((node.lineno, name))
    return sorted(found)


def test_the_guard_sees_what_it_must_refuse() -> None:
    """Each kind of use is found, however it was imported (else the scan passes on nothing)."""
    source = "\n".join(
        [
            "import datetime as dt",
            "import os, random, time, uuid",
            "from datetime import date, datetime",
            "from time import monotonic as tick",
            "a = datetime.now()",
            "b = dt.date.today()",
            "c = tick()",
            "d = random.choice([1, 2])",
            "e = uuid.uuid4()",
            "f = os.environ['X']",
            "g = open('x')",
            "h = datetime(2026, 1, 1)",  # not a clock: allowed
            "i = time.strftime('%Y')",  # not a clock read by itself: allowed
        ]
    )
    assert [line for line, _ in findings(source, "x.py")] == [5, 6, 7, 8, 9, 10, 11]
    assert len(workflow_modules()) > 30


@pytest.mark.parametrize("path", workflow_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_workflow_code_makes_no_nondeterministic_call(path: Path) -> None:
    """No clock, randomness, environment or I/O in any module a workflow run reaches."""
    relative = str(path.relative_to(ROOT))
    bad = [
        f"line {line}: {name}"
        for line, name in findings(path.read_text(), relative)
        if (relative, name) not in ALLOWED
    ]
    assert not bad, f"{relative} makes calls a replay cannot repeat: {bad}"


def test_every_allowance_is_still_needed() -> None:
    """An allowance whose use is gone is removed, so it cannot cover a new one."""
    used = {
        (str(path.relative_to(ROOT)), name)
        for path in workflow_modules()
        for _, name in findings(path.read_text(), str(path))
    }
    assert set(ALLOWED) <= used


def test_workflow_code_never_calls_a_wall_clock_default() -> None:
    """The allowed wall-clock defaults are called by the API only, never by workflow code."""
    calls = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in workflow_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
        in WALL_CLOCK_DEFAULTS
    ]
    assert not calls, f"workflow code reads the wall clock through a default: {calls}"
