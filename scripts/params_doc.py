"""Rewrite the generated parts of docs/parameters.md from the parameter declarations.

Usage: ``python scripts/params_doc.py`` (from the repository root, in the project's venv).
"""

from __future__ import annotations

import re
from pathlib import Path

from solvent.margin.param_sets import reference_markdown, sets_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"


def render(text: str) -> str:
    """``text`` with the blocks between the ``<!-- generated: X -->`` markers regenerated."""
    for key, body in (("sets", sets_markdown()), ("fields", reference_markdown())):
        pattern = re.compile(
            rf"(<!-- generated: {key} -->)\n.*?(<!-- end: {key} -->)", flags=re.DOTALL
        )
        text, count = pattern.subn(lambda m, b=body: f"{m.group(1)}\n{b}\n{m.group(2)}", text)
        if count != 1:
            raise SystemExit(f"docs/parameters.md: no '<!-- generated: {key} -->' block")
    return text


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
