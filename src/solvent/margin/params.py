"""One way to declare, load and identify margin-model parameter sets (docs/parameters.md).

A model declares its parameter set once, as a :class:`Table` of :class:`Field` values mirroring
the TOML layout: each field carries its type, allowed range (inclusive or exclusive bounds), unit,
source and default. A :class:`ParamsSchema` ties the table to the model's built-in sets (TOML data
files shipped with the package) and to a ``build`` function that turns the validated values into
the model's frozen, typed parameter dataclass.

:meth:`ParamsSchema.load` takes a spec: ``None`` (the model's default set), a built-in set name,
or a TOML/JSON file path. A file is merged, key by key (nested tables too; lists replace), over
its base set: the set its ``base_set`` key names (a built-in name, or a file path relative to the
file), else the model's default set. Unknown fields, missing fields, wrong types and out-of-range
values raise :class:`~solvent.errors.SolventInputError` naming the full field path
(``params.currencies.BTC.pnl_offset``).

Every loaded set carries a :class:`~solvent.margin.protocol.ParamsId`: its name, version and the
SHA-256 digest of its canonical resolved content (every field, defaults filled in, as compact JSON
with sorted keys; ``name``, ``version`` and ``description`` excluded). The label results report
is ``name@version``; a set that has a built-in set's ``name@version`` but other values is
relabelled (the label rule, :func:`_label`): ``<base>+<file stem>`` when the file gives no
``name`` of its own, otherwise ``version+<first 12 hex digits of the digest>``.

Built-in sets are read and built once per process; files once per content (a file is re-read only
when its modification time or size changes).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from solvent.errors import SolventInputError
from solvent.files import loads_json, loads_toml, read_text, shown_path
from solvent.margin.protocol import ParamsId

P = TypeVar("P")
T = TypeVar("T")

METADATA = ("name", "version", "description")
"""Fields every set may carry that identify it and are not part of its digest."""

OURS = "ours"
"""The source of a value that is Solvent's own choice (documented in docs/methodology)."""


class Kind(Enum):
    """The type of a field's value."""

    NUMBER = "number"
    INTEGER = "integer"
    FLAG = "flag"
    TEXT = "text"
    NUMBERS = "numbers"
    TABLE = "table"
    TABLES = "tables"
    ROWS = "rows"
    CUSTOM = "custom"


_REQUIRED: Any = object()


@dataclass(frozen=True, slots=True, eq=False)
class Field:
    """One declared parameter: type, range, unit, source, default, and its upstream alias.

    Build fields with :func:`number`, :func:`integer`, :func:`flag`, :func:`text`,
    :func:`numbers`, :func:`table`, :func:`tables` or :func:`custom`.
    """

    kind: Kind
    unit: str = ""
    source: str = ""
    doc: str = ""
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    default: Any = _REQUIRED
    optional: bool = False
    """Absent from the resolved content when not given (the model supplies a fallback)."""
    alias: str | None = None
    """Another accepted spelling (an upstream name such as ``volRangeUp``)."""
    choices: tuple[str, ...] = ()
    table: Table | None = None
    required_keys: tuple[str, ...] = ()
    """For :func:`tables`: keys that must be present (e.g. a ``default`` fallback entry)."""
    parse: Callable[[Any, str], Any] | None = None
    """For :func:`custom`: ``(value, path) -> canonical JSON value``, raising on bad input."""
    min_len: int = 0
    """Least number of items (lists) or characters (text)."""
    max_len: int | None = None
    """Most number of items of a list."""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED and not self.optional

    def range_text(self) -> str:
        """The allowed range as ``[lo, hi]`` / ``(lo, hi)``, or ``""`` when unbounded."""
        if self.kind not in (Kind.NUMBER, Kind.INTEGER, Kind.NUMBERS):
            return ", ".join(self.choices)
        if math.isinf(self.lo) and math.isinf(self.hi):
            return ""
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"{left}{_num_text(self.lo)}, {_num_text(self.hi)}{right}"


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """A table of fields (the TOML layout), with an optional cross-field ``check``.

    ``check(values, path)`` receives the validated values of this table (defaults filled in)
    and raises :class:`SolventInputError` on an inconsistent combination.
    """

    fields: Mapping[str, Field]
    check: Callable[[Mapping[str, Any], str], None] | None = None
    source: str = ""
    """Default source of the table's fields (a field's own ``source`` wins)."""

    def replace_fields(self, **fields: Field) -> Table:
        """The same table with some fields re-declared."""
        return replace(self, fields={**self.fields, **fields})

    def alias_map(self) -> dict[str, str]:
        return {f.alias: name for name, f in self.fields.items() if f.alias}


# --------------------------------------------------------------------------------------------
# Field constructors


def number(
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "",
    source: str = "",
    default: float | None = None,
    optional: bool = False,
    alias: str | None = None,
    doc: str = "",
) -> Field:
    """A real number in ``[lo, hi]`` (``lo_open``/``hi_open`` make a bound strict)."""
    return Field(
        Kind.NUMBER,
        unit,
        source,
        doc,
        lo,
        hi,
        lo_open,
        hi_open,
        _REQUIRED if default is None else float(default),
        optional,
        alias,
    )


def integer(
    lo: int,
    hi: int,
    *,
    unit: str = "",
    source: str = "",
    default: int | None = None,
    alias: str | None = None,
    doc: str = "",
) -> Field:
    """A whole number in ``[lo, hi]`` (``2.0`` is accepted as 2, ``1.5`` is refused)."""
    return Field(
        Kind.INTEGER,
        unit,
        source,
        doc,
        lo,
        hi,
        default=_REQUIRED if default is None else int(default),
        alias=alias,
    )


def flag(*, source: str = "", default: bool | None = None, doc: str = "") -> Field:
    """``true`` or ``false``."""
    return Field(Kind.FLAG, "", source, doc, default=_REQUIRED if default is None else default)


def text(
    *,
    choices: Sequence[str] = (),
    source: str = "",
    default: str | None = None,
    optional: bool = False,
    nonempty: bool = False,
    doc: str = "",
    alias: str | None = None,
) -> Field:
    """A string; one of ``choices`` when given; ``nonempty``: at least one character."""
    return Field(
        Kind.TEXT,
        "",
        source,
        doc,
        default=_REQUIRED if default is None else default,
        optional=optional,
        alias=alias,
        choices=tuple(choices),
        min_len=1 if nonempty else 0,
    )


def numbers(
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "",
    source: str = "",
    default: Sequence[float] | None = None,
    min_len: int = 0,
    max_len: int | None = None,
    doc: str = "",
) -> Field:
    """A list of real numbers, each in the range, with ``min_len`` to ``max_len`` items."""
    return Field(
        Kind.NUMBERS,
        unit,
        source,
        doc,
        lo,
        hi,
        lo_open,
        hi_open,
        _REQUIRED if default is None else [float(x) for x in default],
        min_len=min_len,
        max_len=max_len,
    )


def table(
    fields: Table, *, optional: bool = False, alias: str | None = None, doc: str = ""
) -> Field:
    """A nested table; ``optional``: may be absent (then its fields take their defaults)."""
    return Field(
        Kind.TABLE, doc=doc, table=fields, default={} if optional else _REQUIRED, alias=alias
    )


def tables(
    fields: Table, *, required_keys: Sequence[str] = (), default: bool = False, doc: str = ""
) -> Field:
    """A table of tables keyed by free names (an asset, a market); each entry is ``fields``."""
    return Field(
        Kind.TABLES,
        doc=doc,
        table=fields,
        required_keys=tuple(required_keys),
        default={} if default else _REQUIRED,
    )


def rows(fields: Table, *, min_len: int = 0, default: bool = False, doc: str = "") -> Field:
    """A list of tables, each ``fields`` (errors name ``path[i].field``)."""
    return Field(
        Kind.ROWS, doc=doc, table=fields, default=[] if default else _REQUIRED, min_len=min_len
    )


def custom(
    parse: Callable[[Any, str], Any],
    *,
    allowed: str = "",
    unit: str = "",
    source: str = "",
    default: Any = _REQUIRED,
    doc: str = "",
) -> Field:
    """A value with its own parser ``(value, path) -> canonical JSON value`` (lists of lists,
    matrices); the parser raises :class:`SolventInputError` naming ``path`` on bad input.
    ``allowed`` says in words what the parser accepts (for the reference)."""
    choices = (allowed,) if allowed else ()
    return Field(Kind.CUSTOM, unit, source, doc, default=default, choices=choices, parse=parse)


# --------------------------------------------------------------------------------------------
# Validation


def _num_text(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() or abs(x) >= 1e16 else str(int(x))


def _value_text(value: object) -> str:
    """A value as a short, plain text for messages (never a numpy repr)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def as_number(value: object, path: str) -> float:
    """A finite real number from TOML/JSON (booleans and strings refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SolventInputError(path, f"must be a number, got {_value_text(value)}")
    try:
        out = float(value)
    except OverflowError:
        raise SolventInputError(path, "must be finite") from None
    if not math.isfinite(out):
        raise SolventInputError(path, f"must be finite, got {_value_text(value)}")
    return out


def _in_range(x: float, f: Field, path: str) -> None:
    below = x <= f.lo if f.lo_open else x < f.lo
    above = x >= f.hi if f.hi_open else x > f.hi
    if below or above:
        raise SolventInputError(path, f"must be in {f.range_text()}, got {_value_text(x)}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _validate_field(f: Field, value: Any, path: str) -> Any:
    if f.kind is Kind.NUMBER:
        x = as_number(value, path)
        _in_range(x, f, path)
        return x
    if f.kind is Kind.INTEGER:
        x = as_number(value, path)
        if not x.is_integer():
            raise SolventInputError(path, f"must be a whole number, got {_value_text(value)}")
        _in_range(x, f, path)
        return int(x)
    if f.kind is Kind.FLAG:
        if not isinstance(value, bool):
            raise SolventInputError(path, f"must be true or false, got {_value_text(value)}")
        return value
    if f.kind is Kind.TEXT:
        if not isinstance(value, str) or len(value) < f.min_len:
            what = "a non-empty string" if f.min_len else "a string"
            raise SolventInputError(path, f"must be {what}, got {_value_text(value)}")
        if f.choices and value not in f.choices:
            raise SolventInputError(
                path, f"must be one of {', '.join(f.choices)}, got {_value_text(value)}"
            )
        return value
    if f.kind is Kind.NUMBERS:
        if not isinstance(value, list | tuple):
            raise SolventInputError(path, f"must be a list of numbers, got {_value_text(value)}")
        if f.max_len is not None and f.max_len == f.min_len and len(value) != f.min_len:
            raise SolventInputError(path, f"must hold exactly {f.min_len} values, got {len(value)}")
        if len(value) < f.min_len:
            raise SolventInputError(path, f"needs at least {f.min_len} values, got {len(value)}")
        if f.max_len is not None and len(value) > f.max_len:
            raise SolventInputError(path, f"holds at most {f.max_len} values, got {len(value)}")
        out = []
        for i, item in enumerate(value):
            x = as_number(item, f"{path}[{i}]")
            _in_range(x, f, f"{path}[{i}]")
            out.append(x)
        return out
    if f.kind is Kind.TABLE:
        assert f.table is not None
        return validate_table(f.table, value, path)
    if f.kind is Kind.TABLES:
        assert f.table is not None
        if not isinstance(value, Mapping):
            raise SolventInputError(path, f"must be a table, got {_value_text(value)}")
        for key in f.required_keys:
            if key not in value:
                raise SolventInputError(_join(path, key), "required entry is missing")
        return {str(k): validate_table(f.table, v, _join(path, str(k))) for k, v in value.items()}
    if f.kind is Kind.ROWS:
        assert f.table is not None
        if not isinstance(value, list | tuple):
            raise SolventInputError(path, f"must be a list of tables, got {_value_text(value)}")
        if len(value) < f.min_len:
            raise SolventInputError(path, f"needs at least {f.min_len} entries, got {len(value)}")
        return [validate_table(f.table, v, f"{path}[{i}]") for i, v in enumerate(value)]
    assert f.parse is not None
    return f.parse(value, path)


def validate_table(spec: Table, raw: Any, path: str) -> dict[str, Any]:
    """The validated content of ``raw`` against ``spec``: every field checked, defaults filled
    in, values canonical (floats, ints, bools, strings, lists, tables)."""
    if not isinstance(raw, Mapping):
        raise SolventInputError(path, f"must be a table, got {_value_text(raw)}")
    for key in raw:
        if key not in spec.fields:
            raise SolventInputError(_join(path, str(key)), _unknown(spec))
    out: dict[str, Any] = {}
    for name, f in spec.fields.items():
        if name in raw:
            out[name] = _validate_field(f, raw[name], _join(path, name))
        elif f.optional:
            continue
        elif f.default is _REQUIRED:
            raise SolventInputError(_join(path, name), "required field is missing")
        else:
            out[name] = _validate_field(f, copy.deepcopy(f.default), _join(path, name))
    if spec.check is not None:
        spec.check(out, path)
    return out


def _unknown(spec: Table) -> str:
    return f"unknown field (allowed: {', '.join(spec.fields)})"


def normalize(spec: Table, raw: Any, path: str) -> Any:
    """``raw`` with upstream aliases renamed to field names (recursively); unknown keys and
    ambiguous spellings refused. Values are not checked here (see :func:`validate_table`)."""
    if not isinstance(raw, Mapping):
        return raw
    aliases = spec.alias_map()
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = key if key in spec.fields else aliases.get(key)
        if name is None:
            raise SolventInputError(_join(path, str(key)), _unknown(spec))
        if name in out:
            raise SolventInputError(_join(path, str(key)), f"given twice (as {name!r} too)")
        f = spec.fields[name]
        p = _join(path, name)
        if f.kind is Kind.TABLE and f.table is not None:
            value = normalize(f.table, value, p)
        elif f.kind is Kind.TABLES and f.table is not None and isinstance(value, Mapping):
            value = {k: normalize(f.table, v, _join(p, str(k))) for k, v in value.items()}
        elif f.kind is Kind.ROWS and f.table is not None and isinstance(value, list):
            value = [normalize(f.table, v, f"{p}[{i}]") for i, v in enumerate(value)]
        out[name] = value
    return out


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base`` key by key (tables recursively; other values, lists
    included, replace)."""
    out = dict(base)
    for key, value in override.items():
        prior = out.get(key)
        if isinstance(prior, Mapping) and isinstance(value, Mapping):
            out[key] = merge(prior, value)
        else:
            out[key] = value
    return out


def digest_of(content: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``content`` without its metadata, as compact JSON with sorted keys."""
    body = {k: v for k, v in content.items() if k not in METADATA}
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# Reading sets


def read_file(path: Path, field: str = "params") -> dict[str, Any]:
    """A TOML (or, by suffix, JSON) document holding a table, read through :mod:`solvent.files`
    (a directory, a binary file, duplicate JSON keys... are refused naming ``field``)."""
    text_ = read_text(path, field)
    source = shown_path(path)
    data: Any = (
        loads_json(text_, field, source)
        if path.suffix.lower() == ".json"
        else loads_toml(text_, field, source)
    )
    if not isinstance(data, dict):
        raise SolventInputError(field, f"{source}: must hold a table/object of fields")
    return data


def _is_path(spec: str) -> bool:
    try:
        return bool(Path(spec).suffix) or os.sep in spec or Path(spec).exists()
    except (OSError, ValueError):  # a name too long to be a file, a NUL character...
        return True  # read_file then says why it cannot be read


@dataclass(frozen=True, slots=True)
class _Layer:
    """One document of a set's base chain (the built-in set first)."""

    origin: str
    """A built-in set name or a file path."""
    raw: dict[str, Any]
    is_file: bool


@dataclass(frozen=True, slots=True)
class Resolved:
    """A set's validated content and id, before the model's ``build``."""

    content: dict[str, Any]
    params_id: ParamsId
    root: str
    """The built-in set the set is, or is based on (see :meth:`ParamsSchema.root_set`)."""


@dataclass(eq=False)
class ParamsSchema(Generic[P]):
    """How one model's parameter sets are declared, found and built.

    ``sets``: the built-in sets this schema accepts (TOML files ``<folder>/<name>.toml`` of
    ``package``); the first is the default. ``build(content, params_id)`` makes the model's
    typed params from the validated content. ``root``: the prefix of every error path.
    """

    model: str
    sets: tuple[str, ...]
    fields: Table
    build: Callable[[Mapping[str, Any], ParamsId], P]
    package: str = "solvent.margin"
    folder: str = "params"
    root: str = "params"
    directory: Path | None = None
    """Read built-in sets from this folder instead of the package (tests, plug-ins)."""
    _built: dict[str, P] = field(default_factory=dict, repr=False)
    _resolved: dict[str, Resolved] = field(default_factory=dict, repr=False)
    _files: dict[str, tuple[tuple[tuple[str, int, int], ...], P]] = field(
        default_factory=dict, repr=False
    )
    top: Table = field(init=False, repr=False)
    """The declared fields plus the metadata every set carries."""

    @property
    def default_set(self) -> str:
        return self.sets[0]

    def __post_init__(self) -> None:
        meta = {
            "name": text(default=self.model, doc="set name"),
            "version": text(default="custom", doc="set version"),
            "description": text(default="", doc="free text"),
        }
        self.top = self.fields.replace_fields(**meta)

    def path(self, key: str) -> str:
        return _join(self.root, key)

    # ---------------------------------------------------------------- built-in sets

    def builtin_raw(self, name: str) -> dict[str, Any]:
        """The built-in set ``name`` as written in its TOML file (a fresh copy)."""
        if name not in self.sets:
            known = ", ".join(self.sets)
            raise SolventInputError(
                self.root or "params", f"unknown parameter set {name!r} (built-in: {known})"
            )
        if self.directory is not None:
            return tomllib.loads((self.directory / f"{name}.toml").read_text(encoding="utf-8"))
        ref = resources.files(self.package) / self.folder / f"{name}.toml"
        return tomllib.loads(ref.read_text(encoding="utf-8"))

    # ---------------------------------------------------------------- loading

    def load(self, spec: str | Path | None = None) -> P:
        """The set named by ``spec`` (None: the default set; a built-in name; a file path),
        validated and frozen. Built-in sets are built once; a file once per content."""
        if spec is None:
            spec = self.default_set
        if isinstance(spec, str) and not self._is_file(spec):
            cached = self._built.get(spec)
            if cached is None:
                cached = self._build(self.resolve(spec))
                self._built[spec] = cached
            return cached
        path = Path(spec)
        key = str(path.resolve())
        hit = self._files.get(key)
        if hit is not None and all(_stamp(Path(p)) == (p, m, s) for p, m, s in hit[0]):
            return hit[1]
        chain = self._chain(str(spec))
        built = self._build(self._resolve_chain(chain))
        stamps = tuple(_stamp(Path(layer.origin)) for layer in chain if layer.is_file)
        self._files[key] = (stamps, built)
        return built

    def from_mapping(self, raw: Mapping[str, Any]) -> P:
        """A complete set given as a mapping (no base set), validated and built."""
        layer = _Layer("<mapping>", dict(raw), False)
        return self._build(self._resolve_layers([layer], None))

    def resolve(self, spec: str | Path | None = None) -> Resolved:
        """Validated content and id of ``spec`` (see :meth:`load`), without building (a
        built-in set is resolved once; its content must not be modified)."""
        spec = self.default_set if spec is None else str(spec)
        if self._is_file(spec):
            return self._resolve_chain(self._chain(spec))
        found = self._resolved.get(spec)
        if found is None:
            found = self._resolve_chain(self._chain(spec))
            self._resolved[spec] = found
        return found

    def root_set(self, spec: str | Path | None) -> str:
        """The built-in set ``spec`` is, or is based on (the first built-in set of its base
        chain, going down from ``spec``)."""
        chain = self._chain(self.default_set if spec is None else str(spec))
        return next(layer.origin for layer in reversed(chain) if not layer.is_file)

    def _is_file(self, spec: str) -> bool:
        """Whether ``spec`` is a file path (a built-in set's name never is)."""
        return spec not in self.sets and _is_path(spec)

    def _build(self, resolved: Resolved) -> P:
        return self.build(resolved.content, resolved.params_id)

    def _chain(self, spec: str) -> list[_Layer]:
        """The documents of ``spec``'s base chain, the built-in set first."""
        layers: list[_Layer] = []
        seen: list[str] = []
        current: str | None = spec
        relative_to: Path | None = None
        while current is not None:
            if not self._is_file(current):
                if current in seen:
                    raise SolventInputError(self.path("base_set"), f"cycle: {current!r}")
                raw = self.builtin_raw(current)
                base = raw.pop("base_set", None)
                layers.append(_Layer(current, raw, False))
                seen.append(current)
                current = self._base_name(base, current)
                continue
            path = Path(current)
            if relative_to is not None and not path.is_absolute():
                path = relative_to / path
            key = str(path.resolve())
            if key in seen:
                chain = " -> ".join([*seen, key])
                raise SolventInputError(self.path("base_set"), f"cycle of base sets: {chain}")
            seen.append(key)
            raw = read_file(path, self.root or "params")
            base = raw.pop("base_set", None)
            layers.append(_Layer(str(path), raw, True))
            current = self._base_name(base, str(path)) or self.default_set
            relative_to = path.parent
        return layers[::-1]

    def _base_name(self, base: object, origin: str) -> str | None:
        if base is None:
            return None
        if not isinstance(base, str) or not base:
            raise SolventInputError(self.path("base_set"), f"{origin}: must name a set")
        return base

    def _resolve_chain(self, chain: list[_Layer]) -> Resolved:
        root = next(layer.origin for layer in reversed(chain) if not layer.is_file)
        return self._resolve_layers(chain, root)

    def _resolve_layers(self, chain: list[_Layer], root: str | None) -> Resolved:
        top = self.top
        merged: dict[str, Any] = {}
        for layer in chain:
            merged = merge(merged, normalize(top, layer.raw, self.root))
        content = validate_table(top, merged, self.root)
        digest = digest_of(content)
        name, version = str(content["name"]), str(content["version"])
        last = chain[-1]
        if last.is_file:
            name, version = self._label(name, version, digest, last)
            content["name"], content["version"] = name, version
        elif root is None:  # a mapping claiming a built-in's label with other values
            name, version = self._claimed(name, version, digest)
            content["name"], content["version"] = name, version
        return Resolved(content, ParamsId(name, version, digest), root or chain[0].origin)

    def _builtin_digest(self, name: str, version: str) -> str | None:
        """The digest of the built-in set labelled ``name@version``, if there is one."""
        if name not in self.sets:
            return None
        resolved = self.resolve(name)
        return resolved.params_id.digest if resolved.params_id.version == version else None

    def _label(self, name: str, version: str, digest: str, last: _Layer) -> tuple[str, str]:
        """The label rule for a set read from a file (module docstring)."""
        builtin = self._builtin_digest(name, version)
        if builtin is None or builtin == digest:
            return name, version
        if "name" not in last.raw:
            return f"{name}+{Path(last.origin).stem}", version
        return name, f"{version}+{digest[:12]}"

    def _claimed(self, name: str, version: str, digest: str) -> tuple[str, str]:
        builtin = self._builtin_digest(name, version)
        if builtin is None or builtin == digest:
            return name, version
        return name, f"{version}+{digest[:12]}"


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size)


# --------------------------------------------------------------------------------------------
# Helpers kept for callers reading raw sets


def builtin_names(prefix: str = "") -> list[str]:
    """Names of the built-in parameter sets in ``solvent/margin/params`` (file stems),
    optionally those starting with ``prefix``."""
    folder = resources.files("solvent.margin") / "params"
    return sorted(
        p.name.removesuffix(".toml")
        for p in folder.iterdir()
        if p.name.endswith(".toml") and p.name.startswith(prefix)
    )


def load_builtin(name: str) -> dict[str, Any]:
    """The built-in parameter set ``name`` (in ``solvent/margin/params``) as written, a dict."""
    path = resources.files("solvent.margin") / "params" / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(builtin_names()) or "none"
        raise SolventInputError("params", f"unknown parameter set {name!r} (built-in: {known})")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def frozen_tables(
    values: Mapping[str, Any], make: Callable[[Mapping[str, Any]], T]
) -> Mapping[str, T]:
    """A read-only mapping ``key -> make(table)`` (for per-asset tables)."""
    return MappingProxyType({k: make(v) for k, v in values.items()})


def names(value: Any, path: str) -> list[str]:
    """A :func:`custom` parser: a list of non-empty strings."""
    if not isinstance(value, list):
        raise SolventInputError(path, f"must be a list of names, got {_value_text(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise SolventInputError(f"{path}[{i}]", f"must be a name, got {_value_text(item)}")
    return list(value)


# --------------------------------------------------------------------------------------------
# Declaring fields on a dataclass (when the TOML table mirrors the dataclass)

DECLARATION = "solvent.param"
"""Dataclass field metadata key holding the field's :class:`Field`."""


def declared(spec: Field, **metadata: Any) -> Any:
    """A dataclass field carrying its declaration (see :func:`dataclass_table`)."""
    return dataclasses.field(metadata={DECLARATION: spec, **metadata})


def dataclass_table(
    cls: type, *, source: str = "", check: Callable[[Mapping[str, Any], str], None] | None = None
) -> Table:
    """The :class:`Table` declared by ``cls``'s fields (each made with :func:`declared`)."""
    fields = {
        f.name: f.metadata[DECLARATION]
        for f in dataclasses.fields(cls)
        if DECLARATION in f.metadata
    }
    return Table(fields, check, source)


def partial(spec: Table) -> Table:
    """``spec`` with every field optional (an override table whose absent fields fall back)."""
    return replace(spec, fields={k: replace(f, optional=True) for k, f in spec.fields.items()})


def based_on(spec: str | Path | None) -> str | None:
    """The built-in set name ``spec`` is, or is based on through ``base_set`` keys of files;
    ``None`` for no spec, or a file chain with no ``base_set`` (the model's default set) or one
    that cannot be read (the loader reports it)."""
    seen: set[str] = set()
    current = None if spec is None else str(spec)
    relative_to: Path | None = None
    while current is not None:
        if not _is_path(current):
            return current
        path = Path(current)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        key = str(path.resolve())
        if key in seen:
            return None
        seen.add(key)
        try:
            base = read_file(path).get("base_set")
        except SolventInputError:
            return None
        current = base if isinstance(base, str) and base else None
        relative_to = path.parent
    return None


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """One row of a schema's field reference (docs/parameters.md)."""

    path: str
    kind: str
    range: str
    unit: str
    source: str
    default: str


def field_docs(spec: Table, path: str = "", source: str = "") -> list[FieldDoc]:
    """Every field of ``spec`` (nested tables flattened; ``<name>`` stands for a free key)."""
    out: list[FieldDoc] = []
    for name, f in spec.fields.items():
        p = _join(path, name)
        src = f.source or spec.source or source
        if f.kind is Kind.TABLE and f.table is not None:
            out += field_docs(f.table, p, src)
        elif f.kind is Kind.TABLES and f.table is not None:
            out += field_docs(f.table, f"{p}.<name>", src)
        elif f.kind is Kind.ROWS and f.table is not None:
            out += field_docs(f.table, f"{p}[i]", src)
        else:
            if f.optional:
                default = "(falls back)"
            elif f.default is _REQUIRED:
                default = ""
            else:
                default = json.dumps(f.default)
            kind = f.kind.value + (f" ({f.alias})" if f.alias else "")
            out.append(FieldDoc(p, kind, f.range_text(), f.unit, src, default))
    return out
