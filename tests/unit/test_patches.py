"""Patch levels (`workflows.patches`): folded changes exist, and every change goes through them."""

from __future__ import annotations

import ast
import itertools
from datetime import date
from pathlib import Path

from models.messages import PATCH_LEVEL, CaseInput
from workflows.patches import FOLDED_PATCHES

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def _asked() -> dict[str, set[str]]:
    """Per module, the change ids workflow code asks of `workflow.patched` or `_patched`."""
    found: dict[str, set[str]] = {}
    for path in sorted(WORKFLOWS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in {"patched", "_patched"} and isinstance(first, ast.Constant):
                found.setdefault(path.name, set()).add(str(first.value))
    return found


def test_every_folded_change_is_one_the_workflow_asks_for() -> None:
    asked = set().union(*_asked().values())
    for level, folded in FOLDED_PATCHES.items():
        assert folded <= asked, f"level {level} folds unknown changes: {folded - asked}"


def test_changes_are_asked_through_the_levels_only() -> None:
    # A direct `workflow.patched("<id>")` would record its marker in every new case.
    assert set(_asked()) == {"case_engine.py"}
    tree = ast.parse((WORKFLOWS / "case_engine.py").read_text())
    direct = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "patched"
        and isinstance(node.value, ast.Name)
        and node.value.id == "workflow"
    ]
    assert direct == []


def test_levels_only_add_changes_and_new_cases_start_at_the_last() -> None:
    levels = sorted(FOLDED_PATCHES)
    assert levels == list(range(len(levels)))
    for lower, higher in itertools.pairwise(levels):
        assert FOLDED_PATCHES[lower] <= FOLDED_PATCHES[higher]
    assert levels[-1] == PATCH_LEVEL
    assert CaseInput.opening("c1", "rs", date(2026, 1, 5)).patch_level == PATCH_LEVEL
    # An input from before levels (no field) asks every change of the history.
    assert (
        CaseInput.model_validate(
            {"case_id": "c1", "jurisdiction": "rs", "identified_on": "2026-01-05"}
        ).patch_level
        == 0
    )
