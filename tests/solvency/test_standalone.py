"""The verifiers a holder audits stand alone: the standard library and ``cryptography`` only.

Checked twice: by the imports in their source, and by running each one from a copy in an empty
folder, where no other Solvent module can be found."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOLVENCY = Path(__file__).resolve().parents[2] / "src" / "solvent" / "solvency"
STANDALONE = ["verifier.py", "bybit.py"]


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            roots.add((node.module or "").split(".")[0])
    return roots


@pytest.mark.parametrize("name", STANDALONE)
def test_imports_only_the_standard_library_and_cryptography(name: str) -> None:
    roots = imported_roots(SOLVENCY / name)
    outside = roots - set(sys.stdlib_module_names) - {"__future__", "cryptography"}
    assert not outside, f"{name} imports {sorted(outside)}"


def test_runs_from_a_lone_copy(tmp_path: Path) -> None:
    for name in STANDALONE:
        shutil.copy(SOLVENCY / name, tmp_path / name)
    script = (
        "import json, verifier, bybit\n"
        "print(json.dumps([verifier.verify_proof({}, {}).valid,"
        " bybit.verify_bybit({}).valid, verifier.leaf_hash(1, 0, bytes(32), 'a', [1], [0]).hex()]))"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n{script}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    valid_solvent, valid_bybit, leaf = json.loads(result.stdout)
    assert (valid_solvent, valid_bybit) == (False, False) and len(leaf) == 64
