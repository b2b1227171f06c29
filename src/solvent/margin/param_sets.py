"""Every model's parameter schema in one list, and the field reference of docs/parameters.md.

The reference is generated from the declarations (:func:`reference_markdown`), so the document
cannot drift from the code: ``python scripts/params_doc.py`` rewrites it, and a test checks it.
"""

from __future__ import annotations

import importlib
from typing import Any

from solvent.margin.params import ParamsSchema, field_docs

SCHEMA_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("solvent.margin.standard", "SCHEMA"),
    ("solvent.margin.deribit_pm", "SCHEMA"),
    ("solvent.margin.derive.params", "PMRM2"),
    ("solvent.margin.derive.params", "PMRM1"),
    ("solvent.margin.derive.params", "SRM"),
    ("solvent.margin.span.crypto", "SCHEMA"),
    ("solvent.margin.fhs_es.params", "SCHEMA"),
    ("solvent.margin.simm.margin_model", "SCHEMA"),
)
"""(module, attribute) of every parameter schema, in the order of the reference."""


def all_schemas() -> list[ParamsSchema[Any]]:
    """Every model's parameter schema (imports the model modules)."""
    return [getattr(importlib.import_module(m), a) for m, a in SCHEMA_ATTRIBUTES]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def sets_markdown() -> str:
    """The table of every built-in set: model, name, version, digest, description."""
    lines = [
        "| model | set | version | digest (first 12) | description |",
        "|---|---|---|---|---|",
    ]
    for schema in all_schemas():
        for name in schema.sets:
            resolved = schema.resolve(name)
            pid = resolved.params_id
            desc = _cell(str(resolved.content.get("description", "")))
            lines.append(
                f"| `{schema.model}` | `{name}` | `{pid.version}` | `{pid.digest[:12]}` | {desc} |"
            )
    return "\n".join(lines)


def reference_markdown() -> str:
    """One table per schema: every field's path, type, allowed range, unit, source, default."""
    parts = []
    for schema in all_schemas():
        lines = [
            f"### `{schema.model}`: {', '.join(f'`{n}`' for n in schema.sets)}",
            "",
            "| field | type (upstream name) | allowed | unit | source | default |",
            "|---|---|---|---|---|---|",
        ]
        for d in field_docs(schema.fields):
            lines.append(
                f"| `{d.path}` | {d.kind} | {_cell(d.range)} | {_cell(d.unit)} | "
                f"{_cell(d.source)} | {_cell(d.default)} |"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
