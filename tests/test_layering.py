"""Each package imports only from packages above it in the data flow (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYERS = [
    "arrays",
    "errors",
    "validation",
    "files",
    "data",
    "market",
    "instruments",
    "pricing",
    "scenarios",
    "portfolio",
    "margin",
    "collateral",
    "accounts",
    "ledger",
    "liquidation",
    "solvency",
    "stress",
    "engine",
    "api",
    "cli",
]
# market <-> instruments: the snapshot resolves terms; instruments never import market.
ALLOWED_EXTRA = {("market", "instruments"), ("market", "pricing")}
SRC = Path(__file__).resolve().parents[1] / "src" / "solvent"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("solvent."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("solvent."):
                    found.add(alias.name.split(".")[1])
    return found


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_data_flow(path: Path) -> None:
    rel = path.relative_to(SRC)
    package = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem
    if package not in LAYERS:
        return
    rank = LAYERS.index(package)
    for imported in _imports(path):
        if imported not in LAYERS or imported == package:
            continue
        if (package, imported) in ALLOWED_EXTRA:
            continue
        assert LAYERS.index(imported) < rank, f"{rel} imports solvent.{imported}"
