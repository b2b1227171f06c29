"""Options several commands share, declared once (``--model``, ``--params``), so their names and
help read the same everywhere (docs/formats.md 4)."""

from __future__ import annotations

from typing import Annotated

import typer

ModelOption = Annotated[str, typer.Option("--model", help="Margin model name.")]
"""``--model NAME``: a registered margin model (``solvent.margin.registry``)."""
ParamsOption = Annotated[
    str | None, typer.Option("--params", help="Built-in set name or TOML/JSON file.")
]
"""``--params NAME_OR_FILE``: the model's parameter set (docs/parameters.md)."""
