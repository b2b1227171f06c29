"""Reading input files: the one place every loader turns a path into text, JSON, TOML or CSV rows.

Each function returns the content or raises :class:`~solvent.errors.SolventInputError` naming
``field`` (the option or argument the path came from) with a one-line reason: a missing file, a
directory, a file larger than :data:`MAX_INPUT_BYTES`, binary or non-UTF-8 content, invalid JSON
or TOML, duplicate JSON keys, nesting deeper than :data:`MAX_NESTING`, or a malformed CSV. No
loader opens a user's file any other way, so these rules hold for every command (docs/formats.md,
"Validation rules").
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from solvent.errors import SolventInputError, one_line

MAX_INPUT_BYTES = 1 << 30
"""Largest input file read (1 GiB): larger files are refused rather than exhausting memory."""

MAX_NESTING = 64
"""Deepest nesting of JSON arrays/objects (or TOML arrays/tables) accepted; the formats need 5."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"' + rb"|'[^']*'")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def is_directory(path: str | Path, field: str) -> bool:
    """Whether ``path`` is a directory; a path that cannot even be looked at (a name too long,
    no permission on its folder, a NUL character) is refused naming ``field``."""
    try:
        return Path(path).is_dir()
    except (OSError, ValueError) as exc:
        reason = _reason(exc)
    raise SolventInputError(field, f"{shown_path(path)}: cannot read ({reason})")


def shown_path(path: str | Path) -> str:
    """``path`` quoted for a message; a path longer than 200 characters keeps its end."""
    text = str(path)
    return repr(text if len(text) <= 200 else "..." + text[-197:])


def output_path(path: str | Path, field: str, suffix: str) -> Path:
    """``path`` checked as a file to write: it ends in ``suffix`` (e.g. ``.png``), its folder
    exists (none is created) and it is not a directory."""
    p = Path(path)
    if p.suffix.lower() != suffix:
        raise SolventInputError(field, f"{shown_path(p)} must end in {suffix}")
    if is_directory(p, field):
        raise SolventInputError(field, f"{shown_path(p)} is a directory")
    if not is_directory(p.parent, field):
        raise SolventInputError(
            field, f"{shown_path(p)}: the folder {str(p.parent)!r} does not exist"
        )
    return p


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def read_bytes(path: str | Path, field: str) -> bytes:
    """The bytes of the regular file at ``path``; refuses what is not a readable file."""
    p = Path(path)
    name = shown_path(p)
    if is_directory(p, field):
        raise SolventInputError(field, f"{name} is a directory, expected a file")
    try:
        exists = p.exists()
        size = p.stat().st_size if exists else 0
    except (OSError, ValueError) as exc:  # a name too long, a NUL in the name...
        raise SolventInputError(field, f"{name}: cannot read ({_reason(exc)})") from None
    if not exists:
        raise SolventInputError(field, f"{name}: no such file")
    if size > MAX_INPUT_BYTES:
        raise SolventInputError(
            field, f"{name} is too large ({size} bytes; limit {MAX_INPUT_BYTES})"
        )
    try:
        return p.read_bytes()
    except OSError as exc:  # no permission, a device that fails...
        raise SolventInputError(field, f"{name}: cannot read ({_reason(exc)})") from None


def decode_text(data: bytes, field: str, source: str = "input") -> str:
    """UTF-8 text (a leading byte-order mark is dropped); binary data is refused."""
    if b"\x00" in data:
        raise SolventInputError(field, f"{source} is a binary file, expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SolventInputError(
            field, f"{source} is not UTF-8 text (byte 0x{data[exc.start]:02x} at {exc.start})"
        ) from None


def read_text(path: str | Path, field: str) -> str:
    """The UTF-8 text of the file at ``path``."""
    return decode_text(read_bytes(path, field), field, shown_path(path))


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def json_nesting(text: str) -> int:
    """The deepest nesting of arrays/objects (``[`` and ``{``) in JSON or TOML ``text``; linear
    time, no recursion. Brackets inside strings are first counted too (a fast upper-level
    estimate); only when that estimate exceeds :data:`MAX_NESTING` are strings stripped for the
    exact figure, so a deep-looking string never causes a false refusal."""
    data = text.encode("utf-8", "surrogatepass")
    depth = _bracket_depth(data)
    if depth > MAX_NESTING:
        depth = _bracket_depth(_STRING.sub(b'""', data))
    return depth


def _bracket_depth(data: bytes) -> int:
    brackets = np.frombuffer(data.translate(None, _NOT_BRACKETS), np.uint8)
    if brackets.size == 0:
        return 0
    # "[" 0x5b and "{" 0x7b have bit 1 set; "]" 0x5d and "}" 0x7d do not.
    steps = ((brackets >> 1) & 1).astype(np.int64) * 2 - 1
    return int(np.cumsum(steps).max())


def loads_json(text: str, field: str, source: str = "input") -> Any:
    """Parsed JSON ``text``: duplicate keys, nesting deeper than :data:`MAX_NESTING` and integers
    too long to convert are refused. Bare ``NaN``/``Infinity`` are read as floats so that the
    loaders refuse them naming the field they sit in."""
    if json_nesting(text) > MAX_NESTING:
        raise SolventInputError(field, f"{source}: JSON nested deeper than {MAX_NESTING} levels")
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKeyError as exc:
        raise SolventInputError(field, f"{source}: duplicate JSON key {exc.key!r}") from None
    except json.JSONDecodeError as exc:
        raise SolventInputError(
            field, f"{source}: cannot parse JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise SolventInputError(
            field, f"{source}: cannot parse JSON: {one_line(str(exc))}"
        ) from None


def read_json(path: str | Path, field: str) -> Any:
    """The parsed JSON document at ``path`` (see :func:`loads_json`)."""
    return loads_json(read_text(path, field), field, shown_path(path))


def loads_toml(text: str, field: str, source: str = "input") -> dict[str, Any]:
    """Parsed TOML ``text`` (TOML itself refuses duplicate keys)."""
    if json_nesting(text) > MAX_NESTING:
        raise SolventInputError(field, f"{source}: TOML nested deeper than {MAX_NESTING} levels")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SolventInputError(
            field, f"{source}: cannot parse TOML: {one_line(str(exc))}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise SolventInputError(
            field, f"{source}: cannot parse TOML: {one_line(str(exc))}"
        ) from None


def read_toml(path: str | Path, field: str) -> dict[str, Any]:
    """The parsed TOML document at ``path``."""
    return loads_toml(read_text(path, field), field, shown_path(path))


def csv_rows(
    lines: Iterable[str], field: str, source: str = "input", delimiter: str = ","
) -> list[list[str]]:
    """Every row of CSV ``lines``; a malformed CSV (an unterminated quote, a field beyond the
    csv module's size limit) is refused naming the line."""
    reader = csv.reader(lines, delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as exc:
        raise SolventInputError(
            field, f"{source}: malformed CSV at line {reader.line_num}: {one_line(str(exc))}"
        ) from None
    return rows
