"""Validated construction of frozen parameter dataclasses from TOML-like tables.

Each parameter field declares its upstream (Derive v2-core) name and its allowed range in the
dataclass field metadata (see :func:`param`). :func:`build` turns a mapping into the dataclass,
overlaying it on a base instance if one is given, and raises
:class:`solvent.errors.SolventInputError` naming the dotted field on an unknown key, a value of the
wrong type or a value out of range. Nothing here knows about any particular model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from solvent.errors import SolventInputError

T = TypeVar("T")


def param(
    upstream: str,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    default: float | None = None,
) -> Any:
    """A float parameter field with its upstream name and its range ``[lo, hi]``.

    ``lo_open`` / ``hi_open`` make the corresponding bound strict.
    """
    meta = {"upstream": upstream, "lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open}
    if default is None:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def upstream_names(cls: type) -> dict[str, str]:
    """Map of our field name -> upstream Derive name for a parameter dataclass."""
    return {
        f.name: f.metadata["upstream"] for f in dataclasses.fields(cls) if "upstream" in f.metadata
    }


def check_range(value: float, meta: Mapping[str, Any], path: str) -> None:
    """Raise if ``value`` is not finite or lies outside the field's declared range."""
    if not math.isfinite(value):
        raise SolventInputError(path, f"must be a finite number, got {value!r}")
    lo, hi = float(meta["lo"]), float(meta["hi"])
    below = value <= lo if meta["lo_open"] else value < lo
    above = value >= hi if meta["hi_open"] else value > hi
    if below or above:
        lb = "(" if meta["lo_open"] else "["
        rb = ")" if meta["hi_open"] else "]"
        raise SolventInputError(path, f"{value!r} is outside the allowed range {lb}{lo}, {hi}{rb}")


def as_float(value: object, path: str) -> float:
    """A real number from TOML/JSON (bool refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SolventInputError(path, f"must be a number, got {value!r}")
    return float(value)


def build_floats(cls: type[T], table: object, path: str, base: T | None = None) -> T:
    """Build the all-float parameter dataclass ``cls`` from ``table`` (overlaid on ``base``).

    Keys are our snake_case field names; the upstream camelCase name is accepted as an alias.
    """
    if not isinstance(table, Mapping):
        raise SolventInputError(path, "must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    alias = {f.metadata.get("upstream"): f.name for f in fields.values()}
    values: dict[str, float] = {}
    if base is not None:
        values = {name: getattr(base, name) for name in fields}
    for key, raw in table.items():
        name = key if key in fields else alias.get(key)
        if name is None:
            raise SolventInputError(f"{path}.{key}", "unknown parameter")
        values[name] = as_float(raw, f"{path}.{key}")
    for name, f in fields.items():
        if name not in values:
            if f.default is not dataclasses.MISSING:
                values[name] = float(f.default)
                continue
            raise SolventInputError(f"{path}.{name}", "missing parameter")
        check_range(values[name], f.metadata, f"{path}.{name}")
    return cls(**values)
