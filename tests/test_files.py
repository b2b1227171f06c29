"""solvent.files: every way a file can fail to be an input ends in one SolventInputError."""

from __future__ import annotations

from pathlib import Path

import pytest

from solvent.errors import SolventInputError
from solvent.files import (
    MAX_NESTING,
    json_nesting,
    loads_json,
    output_path,
    read_json,
    read_text,
    read_toml,
)


def _write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_a_directory_a_missing_file_and_a_long_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SolventInputError, match="is a directory, expected a file") as info:
        read_json(tmp_path, "market")
    assert info.value.field == "market"
    with pytest.raises(SolventInputError, match="no such file"):
        read_json(tmp_path / "nope.json", "market")
    with pytest.raises(SolventInputError, match="cannot read"):
        read_json(tmp_path / ("x" * 5000), "market")


def test_binary_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SolventInputError, match="binary file"):
        read_text(_write(tmp_path, "b.json", bytes(range(256))), "portfolio")
    with pytest.raises(SolventInputError, match=r"not UTF-8 text \(byte 0xe9 at 3\)"):
        read_text(_write(tmp_path, "l.csv", "caf\xe9".encode("latin-1")), "crif")
    assert read_text(_write(tmp_path, "bom.csv", "\ufeffa,b"), "crif") == "a,b"


def test_duplicate_keys_are_refused_at_any_depth() -> None:
    with pytest.raises(SolventInputError, match="duplicate JSON key 'account'"):
        loads_json('{"account": "a", "account": "b"}', "portfolio")
    with pytest.raises(SolventInputError, match="duplicate JSON key 'BTC'"):
        loads_json('{"collateral": {"BTC": 1, "BTC": 2}}', "portfolio")
    assert loads_json('[{"a": 1}, {"a": 2}]', "x") == [{"a": 1}, {"a": 2}]


def test_deep_nesting_and_huge_integers_are_refused_without_recursion(tmp_path: Path) -> None:
    deep = _write(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000)
    with pytest.raises(SolventInputError, match=f"nested deeper than {MAX_NESTING}"):
        read_json(deep, "market")
    assert loads_json("[" * MAX_NESTING + "]" * MAX_NESTING, "x") is not None
    with pytest.raises(SolventInputError, match="cannot parse JSON"):
        loads_json('{"a": ' + "9" * 5000 + "}", "x")
    with pytest.raises(SolventInputError, match="nested deeper"):
        read_toml(_write(tmp_path, "deep.toml", "a = " + "[" * 5000 + "]" * 5000), "params")


def test_nesting_ignores_brackets_inside_strings() -> None:
    assert json_nesting('{"a": [1, {"b": [2]}]}') == 4
    assert json_nesting('["' + "[" * 100 + '"]') == 1  # above the limit: counted exactly
    text = '{"a": "' + "[" * 100 + '", "b": [1]}'
    assert json_nesting(text) == 2
    assert loads_json(text, "x")["b"] == [1]


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(SolventInputError, match="cannot parse JSON at line 2 column 5"):
        loads_json('{"a":\n  1,,}', "market")


def test_output_paths_need_the_suffix_and_an_existing_folder(tmp_path: Path) -> None:
    assert output_path(tmp_path / "c.png", "chart", ".png") == tmp_path / "c.png"
    with pytest.raises(SolventInputError, match=r"must end in \.png"):
        output_path(tmp_path / "c.txt", "chart", ".png")
    with pytest.raises(SolventInputError, match="does not exist"):
        output_path(tmp_path / "missing" / "c.png", "chart", ".png")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(SolventInputError, match="is a directory"):
        output_path(_dir(tmp_path / "d.png"), "chart", ".png")


def _dir(path: Path) -> Path:
    path.mkdir()
    return path
