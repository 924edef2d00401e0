"""The layers: no product module imports a higher layer, no package has two modules of one name.

models ← workflows ← db ← activities ← api, worker ← tools; core (settings, Temporal
connection, codec, logging) sits on models only and is used by db, activities, api, worker and
tools. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MAY_IMPORT: dict[str, frozenset[str]] = {
    "models": frozenset(),
    "workflows": frozenset({"models"}),
    "core": frozenset({"models"}),
    "db": frozenset({"models", "workflows", "core"}),
    "activities": frozenset({"models", "workflows", "core", "db"}),
    "api": frozenset({"models", "workflows", "core", "db", "activities"}),
    "worker": frozenset({"models", "workflows", "core", "db", "activities"}),
    "tools": frozenset({"models", "workflows", "core", "db", "activities", "api", "worker"}),
}
"""Each layer → the layers it may import (besides itself)."""

PACKAGES = [name for name in MAY_IMPORT if name != "worker"]


def product_modules() -> list[Path]:
    """Every Python file of the product (not tests, not bench)."""
    files = [ROOT / "worker.py"]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def layer_of(path: Path) -> str:
    """The layer a product file belongs to."""
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def imported_layers(path: Path) -> set[tuple[str, int]]:
    """The product layers a file imports, with the line of each import."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".", 1)[0]
            if top in MAY_IMPORT:
                found.add((top, node.lineno))
    return found


def test_the_walk_sees_every_layer() -> None:
    """The walk must find the product (else the test below passes on nothing)."""
    layers = {layer_of(p) for p in product_modules()}
    assert layers == set(MAY_IMPORT)
    assert len(product_modules()) > 50


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_of_a_higher_layer(path: Path) -> None:
    """A module imports its own layer and the layers below it, nothing else."""
    layer = layer_of(path)
    upward = sorted(
        f"line {line}: {layer} imports {imported}"
        for imported, line in imported_layers(path)
        if imported != layer and imported not in MAY_IMPORT[layer]
    )
    assert not upward, f"{path.relative_to(ROOT)} imports a higher layer: {upward}"


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    """The check itself: a db module importing api is found."""
    module = tmp_path / "probe.py"
    module.write_text("def f():\n    from api.errors import NotFound\n")
    assert ("api", 2) in imported_layers(module)
    assert "api" not in MAY_IMPORT["db"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_two_modules_of_one_package_share_a_name(package: str) -> None:
    """`api/supervision.py` beside `api/routes/supervision.py` hides which one a reader wants."""
    names = Counter(
        p.stem for p in (ROOT / package).rglob("*.py") if p.stem not in ("__init__", "env")
    )
    assert [name for name, n in names.items() if n > 1] == []


MAX_LINES = 600


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_product_module_is_over_600_lines(path: Path) -> None:
    """A module a reader can hold in their head; split along the seams beyond that."""
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
