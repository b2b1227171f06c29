"""Every built-in parameter set of every model loads, and round-trips through a file unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from solvent.margin.derive import params as derive_params
from solvent.margin.param_sets import all_schemas
from solvent.margin.params import ParamsSchema, builtin_names, field_docs
from solvent.margin.registry import resolve_alias

SCHEMAS: list[ParamsSchema[Any]] = all_schemas()
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
    assert schema.from_mapping(content).params_id == pid  # the content is canonical
    path = tmp_path / "copy.json"
    path.write_text(json.dumps({"base_set": name, **content}))
    again = schema.load(str(path))
    assert again.params_id == pid
    assert schema.resolve(str(path)).content == content


def test_every_shipped_set_belongs_to_one_schema() -> None:
    """Each TOML file in margin/params is a built-in set of exactly one schema."""
    shipped = set(builtin_names())
    claimed = [n for s in SCHEMAS for n in s.sets if s.package == "solvent.margin"]
    assert sorted(claimed) == sorted(shipped)


def test_derive_pm_picks_its_manager_by_base_set(tmp_path: Path) -> None:
    v1 = tmp_path / "v1.toml"
    v1.write_text('base_set = "derive-pmrm1"\n[margin]\nim_factor = 1.4\n')
    p = derive_params.load_pm_params(str(v1))
    assert isinstance(p, derive_params.PMRM1Params) and p.margin.im_factor == 1.4
    assert p.params_id.label == f"derive-pmrm1+v1@{p.version.split('+')[0]}"
    assert isinstance(derive_params.load_pm_params(None), derive_params.PMRM2Params)
    assert resolve_alias("standard", str(v1)) == "standard"
    srm = tmp_path / "srm.toml"
    srm.write_text('base_set = "derive-srm-mainnet"\n')
    assert resolve_alias("standard", str(srm)) == "derive-srm"
    assert derive_params.load_srm_params(str(srm)).params_id.label == (
        derive_params.load_srm_params("derive-srm-mainnet").params_id.label
    )


def test_parameters_doc_is_generated_from_the_declarations() -> None:
    """docs/parameters.md lists every built-in set and field as declared (regenerate it with
    ``python scripts/params_doc.py``)."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("params_doc", root / "scripts" / "params_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (root / "docs" / "parameters.md").read_text(encoding="utf-8")
    assert module.render(text) == text, "run: python scripts/params_doc.py"


def test_every_field_declares_its_unit_and_source() -> None:
    """Numbers carry a unit and every field a source, so the reference is complete."""
    for schema in SCHEMAS:
        for doc in field_docs(schema.fields):
            numeric = doc.kind.split()[0] in ("number", "integer", "numbers")
            assert doc.source, (schema.model, doc.path)
            assert doc.unit or not numeric, (schema.model, doc.path)
