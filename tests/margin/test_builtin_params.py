"""Every built-in parameter set of every model loads, and round-trips through a file unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from solvent.margin import deribit_pm, standard
from solvent.margin.fhs_es import params as fhs_params
from solvent.margin.params import ParamsSchema
from solvent.margin.simm import margin_model as simm

SCHEMAS: list[ParamsSchema[Any]] = [
    standard.SCHEMA,
    deribit_pm.SCHEMA,
    fhs_params.SCHEMA,
    simm.SCHEMA,
]
CASES = [(schema, name) for schema in SCHEMAS for name in schema.sets]


@pytest.mark.parametrize(("schema", "name"), CASES, ids=[f"{s.model}:{n}" for s, n in CASES])
def test_builtin_set_loads_and_round_trips(
    schema: ParamsSchema[Any], name: str, tmp_path: Path
) -> None:
    loaded = schema.load(name)
    pid = loaded.params_id
    assert pid.name == name and pid.label == loaded.label
    assert len(pid.digest) == 64
    assert schema.load(name) is loaded  # built once per process
    content = schema.resolve(name).content
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(content))
    again = schema.load(str(path))
    assert again.params_id == pid
    assert schema.resolve(str(path)).content == content
