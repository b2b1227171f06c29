"""The parameter framework: declaration, validation, base sets, overrides, ids and labels."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from solvent.errors import SolventInputError
from solvent.margin.params import (
    ParamsSchema,
    Table,
    digest_of,
    flag,
    integer,
    number,
    numbers,
    table,
    tables,
    text,
)
from solvent.margin.protocol import ParamsId


@dataclass(frozen=True, slots=True)
class Toy:
    content: Mapping[str, Any]
    params_id: ParamsId


def _check(values: Mapping[str, Any], path: str) -> None:
    if values["hi"] < values["lo"]:
        raise SolventInputError(f"{path}.hi", "must be at least lo")


_POOL = Table(
    {
        "pnl_offset": number(0.0, 1.0, unit="fraction"),
        "cap": number(0.0, 1e9, lo_open=True, unit="USD", default=5.0),
    }
)
_FIELDS = Table(
    {
        "factor": number(0.5, 2.0, hi_open=True, unit="multiple", alias="Factor"),
        "count": integer(1, 10, unit="points"),
        "on": flag(default=False),
        "mode": text(choices=("a", "b"), default="a"),
        "moves": numbers(-1.0, 5.0, lo_open=True, default=[]),
        "bounds": table(Table({"lo": number(), "hi": number()}, check=_check)),
        "currencies": tables(_POOL, required_keys=("default",)),
    }
)


@pytest.fixture
def schema(tmp_path: Path) -> ParamsSchema[Toy]:
    folder = tmp_path / "sets"
    folder.mkdir()
    (folder / "toy.toml").write_text(
        'name = "toy"\nversion = "1"\nfactor = 1.0\ncount = 3\n'
        "[bounds]\nlo = 0.0\nhi = 1.0\n"
        "[currencies.default]\npnl_offset = 0.0\n"
        "[currencies.BTC]\npnl_offset = 0.5\ncap = 10.0\n"
    )
    (folder / "toy-b.toml").write_text(
        'base_set = "toy"\nname = "toy-b"\nversion = "2"\ncount = 4\n'
    )
    return ParamsSchema("toy", ("toy", "toy-b"), _FIELDS, Toy, directory=folder)


def _file(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


def test_default_set_fills_defaults_and_carries_its_label(schema: ParamsSchema[Toy]) -> None:
    toy = schema.load(None)
    assert toy.params_id.label == "toy@1"
    assert toy.content["on"] is False and toy.content["mode"] == "a"
    assert toy.content["currencies"]["default"]["cap"] == 5.0
    assert toy.content["currencies"]["BTC"] == {"pnl_offset": 0.5, "cap": 10.0}
    assert schema.load("toy") is toy  # built once


def test_base_set_chain(schema: ParamsSchema[Toy], tmp_path: Path) -> None:
    b = schema.load("toy-b")
    assert b.params_id.label == "toy-b@2" and b.content["count"] == 4
    assert b.content["factor"] == 1.0  # from toy
    over = _file(tmp_path, "c.toml", 'base_set = "toy-b"\non = true\n')
    c = schema.load(over)
    assert c.content["count"] == 4 and c.content["on"] is True
    assert c.params_id.label == "toy-b+c@2"
    nested = _file(tmp_path, "d.json", json.dumps({"base_set": "c.toml", "mode": "b"}))
    d = schema.load(nested)
    assert d.content["on"] is True and d.content["mode"] == "b" and d.content["count"] == 4
    assert schema.root_set(nested) == "toy-b"


def test_cycle_in_base_sets_is_refused(schema: ParamsSchema[Toy], tmp_path: Path) -> None:
    _file(tmp_path, "x.toml", 'base_set = "y.toml"\ncount = 5\n')
    y = _file(tmp_path, "y.toml", 'base_set = "x.toml"\ncount = 6\n')
    with pytest.raises(SolventInputError, match="cycle") as err:
        schema.load(y)
    assert err.value.field == "params.base_set"


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        ("factor = 2.0\n", "params.factor", "must be in [0.5, 2)"),
        ("factor = 0.4\n", "params.factor", "got 0.4"),
        ("count = 1.5\n", "params.count", "whole number"),
        ("count = 11\n", "params.count", "[1, 10]"),
        ('count = "3"\n', "params.count", "must be a number, got '3'"),
        ("on = 1\n", "params.on", "true or false"),
        ('mode = "c"\n', "params.mode", "one of a, b"),
        ("moves = [0.5, -1.0]\n", "params.moves[1]", "(-1, 5]"),
        ("colour = 1\n", "params.colour", "unknown field"),
        ("[currencies.BTC]\npnl_offset = 1.5\n", "params.currencies.BTC.pnl_offset", "[0, 1]"),
        ("[currencies.BTC]\nspeed = 1\n", "params.currencies.BTC.speed", "unknown field"),
        ("[currencies.SOL]\ncap = 1.0\n", "params.currencies.SOL.pnl_offset", "missing"),
        ("[currencies.BTC]\ncap = 0.0\n", "params.currencies.BTC.cap", "(0, 1000000000]"),
        ("[bounds]\nhi = -1.0\n", "params.bounds.hi", "at least lo"),
        ("bounds = 3\n", "params.bounds", "must be a table"),
        ("Factor = 1.1\nfactor = 1.2\n", "params.factor", "given twice"),
    ],
)
def test_bad_values_name_the_full_path(
    schema: ParamsSchema[Toy], tmp_path: Path, content: str, field: str, message: str
) -> None:
    with pytest.raises(SolventInputError) as err:
        schema.load(_file(tmp_path, "bad.toml", content))
    assert err.value.field == field
    assert message in err.value.message
    assert "np." not in err.value.message and "array(" not in err.value.message


def test_alias_and_json(schema: ParamsSchema[Toy], tmp_path: Path) -> None:
    via_alias = schema.load(_file(tmp_path, "a.toml", "Factor = 1.5\n"))
    via_json = schema.load(_file(tmp_path, "a.json", json.dumps({"factor": 1.5})))
    assert via_alias.content == {**via_json.content, "name": "toy+a"}
    assert via_alias.params_id.digest == via_json.params_id.digest


def test_digest_is_of_the_content(schema: ParamsSchema[Toy], tmp_path: Path) -> None:
    base = schema.load(None)
    same = schema.load(_file(tmp_path, "same.toml", "count = 3\n"))
    assert same.params_id == base.params_id  # no value changed: the built-in's label and digest
    changed = schema.load(_file(tmp_path, "o.toml", "count = 7\n"))
    assert changed.params_id.digest != base.params_id.digest
    assert changed.params_id.label == "toy+o@1"
    claimed = schema.load(_file(tmp_path, "p.toml", 'name = "toy"\nversion = "1"\ncount = 7\n'))
    assert claimed.params_id.label == f"toy@1+{changed.params_id.digest[:12]}"
    assert claimed.params_id.digest == changed.params_id.digest
    renamed = schema.load(_file(tmp_path, "q.toml", 'name = "mine"\ncount = 7\n'))
    assert renamed.params_id.label == "mine@1"
    assert digest_of(dict(renamed.content)) == renamed.params_id.digest


def test_files_are_reread_only_when_changed(schema: ParamsSchema[Toy], tmp_path: Path) -> None:
    path = _file(tmp_path, "f.toml", "count = 5\n")
    first = schema.load(path)
    assert schema.load(path) is first
    Path(path).write_text("count = 6\n\n")
    assert schema.load(path).content["count"] == 6


def test_unknown_set_and_missing_file(schema: ParamsSchema[Toy], tmp_path: Path) -> None:
    with pytest.raises(SolventInputError, match=r"unknown parameter set 'nope' \(built-in: toy"):
        schema.load("nope")
    with pytest.raises(SolventInputError, match="no such file"):
        schema.load(str(tmp_path / "missing.toml"))
    with pytest.raises(SolventInputError, match="cannot parse"):
        schema.load(_file(tmp_path, "broken.toml", "count = = 3\n"))
    with pytest.raises(SolventInputError, match="unknown parameter set"):
        schema.load(_file(tmp_path, "b.toml", 'base_set = "nope"\n'))


def test_loaded_params_are_frozen(schema: ParamsSchema[Toy]) -> None:
    toy = schema.load(None)
    with pytest.raises(AttributeError):
        toy.params_id = toy.params_id  # type: ignore[misc]


def test_rows_lengths_and_text() -> None:
    from solvent.margin.params import rows, validate_table

    leg = Table({"cc": text(nonempty=True), "ratio": number(0.0, lo_open=True)})
    spec = Table({"legs": rows(leg, min_len=2), "risk": numbers(min_len=3, max_len=3)})
    good = {"legs": [{"cc": "A", "ratio": 1}, {"cc": "B", "ratio": 2.5}], "risk": [1, 2, 3]}
    assert validate_table(spec, good, "") == {
        "legs": [{"cc": "A", "ratio": 1.0}, {"cc": "B", "ratio": 2.5}],
        "risk": [1.0, 2.0, 3.0],
    }
    cases = [
        ({**good, "legs": good["legs"][:1]}, "legs", "at least 2"),
        ({**good, "legs": [good["legs"][0], {"cc": "", "ratio": 1}]}, "legs[1].cc", "non-empty"),
        ({**good, "legs": [good["legs"][0], {"cc": "B", "ratio": 0}]}, "legs[1].ratio", "(0, inf]"),
        ({**good, "risk": [1, 2]}, "risk", "exactly 3"),
        (
            {**good, "legs": [good["legs"][0], {"cc": "B", "x": 1}]},
            "legs[1].x",
            "allowed: cc, ratio",
        ),
    ]
    for raw, field, message in cases:
        with pytest.raises(SolventInputError) as err:
            validate_table(spec, raw, "")
        assert err.value.field == field and message in err.value.message
