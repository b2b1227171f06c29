"""Versioned, validated parameter sets kept as TOML data files in ``solvent/margin/params``.

A parameter set is a TOML document with ``name`` and ``version`` and the model's own fields. Users
override a built-in set with a TOML or JSON file whose fields are merged over the defaults (nested
tables merge key by key); unknown fields and out-of-range values are refused, naming the field.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from solvent.errors import SolventInputError
from solvent.validation import number_in_range


def builtin_names(prefix: str = "") -> list[str]:
    """Names of the built-in parameter sets (file stems), optionally those starting with prefix."""
    folder = resources.files("solvent.margin") / "params"
    return sorted(
        p.name.removesuffix(".toml")
        for p in folder.iterdir()
        if p.name.endswith(".toml") and p.name.startswith(prefix)
    )


def load_builtin(name: str) -> dict[str, Any]:
    """The built-in parameter set ``name`` as a dict."""
    path = resources.files("solvent.margin") / "params" / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(builtin_names()) or "none"
        raise SolventInputError("params", f"unknown parameter set {name!r} (built-in: {known})")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def load_override_file(path: Path) -> dict[str, Any]:
    """A user's TOML or JSON parameter file."""
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SolventInputError("params", f"{path}: cannot parse: {exc}") from None
    if not isinstance(data, dict):
        raise SolventInputError("params", f"{path}: must hold a table/object of fields")
    return data


def merge(
    defaults: Mapping[str, Any], override: Mapping[str, Any], path: str = ""
) -> dict[str, Any]:
    """``override`` merged over ``defaults``; a key not in defaults is an unknown field, except
    inside tables the model declares open (none here: models validate their own open tables)."""
    out = dict(defaults)
    for key, value in override.items():
        field = f"{path}{key}"
        if key not in defaults:
            raise SolventInputError(f"params.{field}", "unknown field")
        if isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise SolventInputError(f"params.{field}", "must be a table")
            out[key] = merge_open(defaults[key], value, f"{field}.")
        else:
            out[key] = value
    return out


def merge_open(
    defaults: Mapping[str, Any], override: Mapping[str, Any], path: str
) -> dict[str, Any]:
    """Merge for tables keyed by asset (new assets allowed; their fields validated by the model)."""
    out = dict(defaults)
    for key, value in override.items():
        if key in defaults and isinstance(defaults[key], dict) and isinstance(value, dict):
            out[key] = merge(defaults[key], value, f"{path}{key}.")
        else:
            out[key] = value
    return out


def resolve_params(default_name: str, params: str | None) -> dict[str, Any]:
    """The parameter dict for ``params``: a built-in name, a file overriding ``default_name``,
    or ``None`` for the default set itself. A file's own ``name``/``version`` fields, when given,
    rename the result; otherwise it is ``<default>+<file stem>``."""
    if params is None:
        return load_builtin(default_name)
    path = Path(params)
    if path.suffix.lower() in (".toml", ".json") or path.exists():
        if not path.is_file():
            raise SolventInputError("params", f"{params}: no such file")
        base = load_builtin(default_name)
        override = load_override_file(path)
        merged = merge(base, override)
        if "name" not in override:
            merged["name"] = f"{base['name']}+{path.stem}"
        return merged
    return load_builtin(params)


def number_in(table: Mapping[str, Any], key: str, path: str, lo: float, hi: float) -> float:
    """``table[key]`` as a float in ``[lo, hi]``; errors name ``path.key``."""
    if key not in table:
        raise SolventInputError(f"params.{path}{key}", "required field is missing")
    return number_in_range(table[key], f"params.{path}{key}", lo, hi)


def check_fields(table: Mapping[str, Any], allowed: set[str], path: str) -> None:
    """Refuse any field of ``table`` outside ``allowed``."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SolventInputError(f"params.{path}{unknown[0]}", "unknown field")
