"""Deribit option-chain snapshots (the CSV layout of the shipped Deribit data) as market snapshots.

One row per option: ``instrument_name``, ``underlying`` (the forward Deribit priced it on, USD),
``futures_price``/``futures_instrument_name`` (the future behind that forward; ``SYN.`` names are
Deribit's synthetic forwards for expiries without a listed future), ``implied_volatility``
(decimal), ``mark_price`` (coin), ``currency`` and ``index_price`` (USD). The index of each currency
is the median of its rows' ``index_price`` (rows were stamped a few milliseconds apart); listed
futures are added with their ``futures_price`` as the mark.
"""

from __future__ import annotations

import csv
import gzip
import io
import statistics
import zlib
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from solvent.errors import SolventInputError
from solvent.files import decode_text, read_bytes
from solvent.market.snapshot import MarketSnapshot, build_snapshot
from solvent.validation import iso_timestamp

EMBEDDED_SNAPSHOT = "deribit_options_snapshot_20260105T153329Z.csv"
EMBEDDED_PERPETUALS = "perpetual_futures_prices_20260105T153329Z.csv"
_REQUIRED = (
    "timestamp",
    "instrument_name",
    "underlying",
    "option_type",
    "strike",
    "expiry_datetime",
    "implied_volatility",
    "currency",
    "index_price",
    "futures_price",
    "futures_instrument_name",
)


def _open(path: Path, field: str = "chain") -> TextIO:
    """The CSV text of ``path`` (gunzipped for ``.gz``), read through :mod:`solvent.files`."""
    data = read_bytes(path, field)
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise SolventInputError(field, f"{str(path)!r}: not a gzip file ({exc})") from None
    return io.StringIO(decode_text(data, field, repr(str(path))), newline="")


def read_chain_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a Deribit chain CSV, checked for the columns the loader needs."""
    with _open(Path(path)) as fh:
        reader = csv.DictReader(fh)
        try:
            missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise SolventInputError(f"{path}:columns", f"missing column {missing[0]!r}")
            return list(reader)
        except csv.Error as exc:
            raise SolventInputError(
                "chain", f"malformed CSV at line {reader.line_num}: {exc}"
            ) from None


def _float(row: dict[str, str], column: str, line: int) -> float:
    try:
        return float(row[column])  # NaN/inf are refused naming the snapshot field
    except (TypeError, ValueError):
        raise SolventInputError(f"line {line}.{column}", f"not a number: {row[column]!r}") from None


def chain_to_records(
    rows: list[dict[str, str]], perpetual_marks: dict[str, float] | None = None
) -> tuple[str, dict[str, float], list[dict[str, Any]]]:
    """(as_of, index, instrument records of docs/formats.md 1) from chain rows."""
    if not rows:
        raise SolventInputError("rows", "the chain is empty")
    index_samples: dict[str, list[float]] = defaultdict(list)
    futures: dict[str, dict[str, Any]] = {}
    options: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows, start=2):
        ccy = row["currency"]
        index_samples[ccy].append(_float(row, "index_price", line))
        name = row["instrument_name"]
        if name in options:
            continue
        options[name] = {
            "name": name,
            "kind": "option",
            "underlying": ccy,
            "settlement": "inverse",
            "expiry": row["expiry_datetime"],
            "strike": _float(row, "strike", line),
            "option_type": row["option_type"],
            "forward": _float(row, "underlying", line),
            "mark_iv": _float(row, "implied_volatility", line),
        }
        future = row["futures_instrument_name"]
        if future and not future.startswith("SYN.") and future not in futures:
            futures[future] = {
                "name": future,
                "kind": "future",
                "underlying": ccy,
                "settlement": "inverse",
                "expiry": row["expiry_datetime"],
                "mark_price": _float(row, "futures_price", line),
            }
    index = {ccy: statistics.median(v) for ccy, v in sorted(index_samples.items())}
    perps = [
        {
            "name": name,
            "kind": "perpetual",
            "underlying": name.split("-")[0],
            "settlement": "inverse",
            "mark_price": mark,
        }
        for name, mark in sorted((perpetual_marks or {}).items())
        if name.split("-")[0] in index
    ]
    records = perps + sorted(futures.values(), key=lambda r: r["name"]) + list(options.values())
    return rows[0]["timestamp"], index, records


def read_perpetual_marks(path: str | Path, snapshot_file: str | None = None) -> dict[str, float]:
    """``instrument_name -> perp_futures_mark_price`` from a perpetual-prices CSV.

    A file that covers several chain snapshots (a ``snapshot_file`` column) is filtered to the rows
    of ``snapshot_file`` (the chain CSV's file name) when that is given."""
    with _open(Path(path), "perpetuals") as fh:
        try:
            rows = [
                (line, row)
                for line, row in enumerate(csv.DictReader(fh), start=2)
                if row.get("perp_futures_mark_price")
                and (
                    snapshot_file is None
                    or row.get("snapshot_file", snapshot_file) == snapshot_file
                )
            ]
        except csv.Error as exc:
            raise SolventInputError("perpetuals", f"malformed CSV: {exc}") from None
    marks: dict[str, float] = {}
    for line, row in rows:
        name = row.get("instrument_name")
        if not name:
            raise SolventInputError(f"perpetuals:line {line}.instrument_name", "missing")
        marks[name] = _float(row, "perp_futures_mark_price", line)
    return marks


def load_deribit_chain(
    path: str | Path, perpetual_marks: dict[str, float] | None = None
) -> MarketSnapshot:
    """Market snapshot of a Deribit chain CSV (options, their listed futures, optional perps)."""
    as_of, index, records = chain_to_records(read_chain_rows(path), perpetual_marks)
    return build_snapshot(iso_timestamp(as_of, "timestamp"), index, {}, records)


def load_embedded_chain() -> MarketSnapshot:
    """The embedded Deribit sample: BTC and ETH chains, futures and perpetuals of 2026-01-05."""
    base = resources.files("solvent.data") / "deribit"
    with resources.as_file(base / EMBEDDED_PERPETUALS) as perps:
        marks = read_perpetual_marks(perps)
    with resources.as_file(base / EMBEDDED_SNAPSHOT) as chain:
        return load_deribit_chain(chain, marks)
