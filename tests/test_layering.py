"""Each package imports only from packages above it in the data flow (docs/architecture.md).

No exemptions: the order below is the list of docs/architecture.md (plus the leaf modules
``arrays``, ``errors``, ``validation``, ``files`` and ``data`` at the top), and a package may
import only itself and the packages before it. Function-level imports count like module-level ones.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

LAYERS = [
    "arrays",
    "errors",
    "validation",
    "files",
    "data",
    "executors",
    "instruments",
    "pricing",
    "riskstats",
    "market",
    "scenarios",
    "portfolio",
    "margin",
    "collateral",
    "ledger",
    "accounts",
    "liquidation",
    "solvency",
    "venues",
    "stress",
    "engine",
    "realtime",
    "api",
    "cli",
]
LEAVES = {"arrays", "errors", "validation", "files", "data"}
"""Modules every layer may use, above the documented data flow."""
ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "solvent"


def imported_modules(path: Path, *, names: bool = False) -> set[str]:
    """Every ``solvent...`` module ``path`` imports, at any depth (functions included). With
    ``names``, ``from m import x`` also yields ``m.x`` (``x`` may be a submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "solvent":
                found.update(f"solvent.{alias.name}" for alias in node.names)
            elif node.module.startswith("solvent."):
                found.add(node.module)
                if names:
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("solvent."))
    return found


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def test_every_package_has_a_layer() -> None:
    packages = {_package(p) for p in SRC.rglob("*.py")} - {"__init__"}
    assert packages <= set(LAYERS), f"not in LAYERS: {sorted(packages - set(LAYERS))}"


def test_the_layers_are_the_documented_data_flow() -> None:
    """docs/architecture.md lists the same packages in the same order."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("## Data flow", 1)[1].split("```", 2)[1]
    documented = [
        name for line in block.splitlines() for name in re.findall(r"(\w+)/", line.split("  ")[0])
    ]
    assert documented == [p for p in LAYERS if p not in LEAVES]


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_data_flow(path: Path) -> None:
    package = _package(path)
    if package == "__init__":
        return
    rank = LAYERS.index(package)
    for module in imported_modules(path):
        imported = module.split(".")[1]
        if imported == package:
            continue
        assert imported in LAYERS, f"{path.relative_to(SRC)} imports unknown solvent.{imported}"
        assert LAYERS.index(imported) < rank, f"{path.relative_to(SRC)} imports {module}"


MARGIN_DOOR = {"solvent.margin.protocol", "solvent.margin.registry", "solvent.margin.result"}
"""What a package below margin/ may use of it: the protocol, the registry, the result types."""


@pytest.mark.parametrize("package", ["collateral", "accounts", "stress"])
def test_no_package_reaches_into_a_model(package: str) -> None:
    for path in sorted((SRC / package).rglob("*.py")):
        for module in imported_modules(path):
            if module.startswith("solvent.margin"):
                assert module in MARGIN_DOOR, f"{path.relative_to(SRC)} imports {module}"
