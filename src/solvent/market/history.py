"""Daily price histories (docs/formats.md 8): loading, validation, and joint returns.

A :class:`PriceHistory` is an immutable (dates x assets) matrix of daily closing prices in USD (or
the quote stablecoin, USDT for the embedded Binance data), with ``NaN`` where an asset has no price
on a date. Dates are UTC calendar days (``numpy.datetime64[D]``), sorted ascending and unique.

Returns are **log returns** ``ln(P_t / P_s)`` between consecutive *observations* (rows kept after
dropping dates where any requested asset is missing), not between calendar days: when a date is
absent from the data, the next return spans the gap. :class:`JointReturns` records both ends of
every return so a caller can see (or filter) the spans. Simple returns are ``numpy.expm1`` of them.

Two input layouts are accepted (docs/formats.md 8):

- a directory of CryptoDataDownload daily CSVs: an optional banner line, then a header starting
  ``Unix,Date,Symbol,Open,High,Low,Close``, rows newest first (any order is accepted); the asset is
  read from the symbol (``BTCUSDT`` -> ``BTC``, ``ETH/USDT`` -> ``ETH``);
- one long CSV with (at least) the columns ``date,asset,close``, one row per asset and date.

Every defect (a missing column, an unparseable date or price, a non-positive or non-finite close, a
duplicate date, two files for one asset, an empty file) raises :class:`SolventInputError` whose
field names the file, the line number (1-based, counting the banner and header) and the column.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.files import csv_rows, is_directory, read_text

DateArray = NDArray[np.datetime64]

EMBEDDED_PRICES_DIR = Path(__file__).resolve().parents[1] / "data" / "prices"
"""The CryptoDataDownload files shipped with the package (see its README for the attribution)."""

QUOTE_CURRENCIES: tuple[str, ...] = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "DAI", "USD")
"""Quote suffixes stripped from a CryptoDataDownload symbol to get the asset (longest match)."""

_CDD_REQUIRED = ("date", "symbol", "close")
_LONG_REQUIRED = ("date", "asset", "close")


def _readonly(array: NDArray[np.generic]) -> None:
    array.flags.writeable = False


@dataclass(frozen=True)
class JointReturns:
    """Log returns of several assets over the same observations.

    ``values[t, j]`` is ``ln(P_j(dates[t]) / P_j(start_dates[t]))`` (dimensionless, a 0.01 log
    return is about +1 %); for 1-step returns ``start_dates[t]`` is the previous kept date, for
    h-step returns the kept date h observations earlier. Arrays are read-only.
    """

    assets: tuple[str, ...]
    start_dates: DateArray
    dates: DateArray
    values: FloatArray
    horizon: int

    def __post_init__(self) -> None:
        n_obs = self.dates.shape[0]
        if self.values.shape != (n_obs, len(self.assets)) or self.start_dates.shape != (n_obs,):
            raise SolventInputError("returns.values", "shape does not match dates x assets")
        for array in (self.start_dates, self.dates, self.values):
            _readonly(array)

    @property
    def span_days(self) -> NDArray[np.int64]:
        """Calendar days spanned by each return (1 for consecutive days, more across gaps)."""
        return (self.dates - self.start_dates).astype(np.int64)

    def column(self, asset: str) -> FloatArray:
        """The returns of one asset (a read-only view)."""
        return self.values[:, _index_of(self.assets, asset, "asset")]


@dataclass(frozen=True)
class PriceSeries:
    """The observed closes (USD) of one asset on the dates it has a price, ascending."""

    asset: str
    dates: DateArray
    closes: FloatArray


@dataclass(frozen=True)
class PriceHistory:
    """Daily closes (USD or USD stablecoin) of several assets, dates x assets, NaN where missing.

    Invariants (checked on construction): ``dates`` is sorted ascending and unique,
    ``closes.shape == (len(dates), len(assets))``, asset names are unique, and every close is
    either NaN (no price) or finite and > 0. All arrays are read-only.
    """

    dates: DateArray
    assets: tuple[str, ...]
    closes: FloatArray

    def __post_init__(self) -> None:
        dates = np.asarray(self.dates, dtype="datetime64[D]")
        closes = np.asarray(self.closes, dtype=np.float64)
        if dates.ndim != 1:
            raise SolventInputError("history.dates", "must be one-dimensional")
        if closes.shape != (dates.shape[0], len(self.assets)):
            raise SolventInputError(
                "history.closes",
                f"shape {closes.shape} does not match {dates.shape[0]} dates x "
                f"{len(self.assets)} assets",
            )
        if len(set(self.assets)) != len(self.assets):
            raise SolventInputError("history.assets", "asset names must be unique")
        if dates.size > 1 and not bool(np.all(dates[1:] > dates[:-1])):
            raise SolventInputError("history.dates", "must be sorted ascending without duplicates")
        bad = ~np.isnan(closes) & ~(np.isfinite(closes) & (closes > 0.0))
        if bool(bad.any()):
            t, j = np.argwhere(bad)[0]
            raise SolventInputError(
                f"history.closes[{dates[t]}].{self.assets[j]}",
                f"price must be finite and > 0, got {closes[t, j]!r}",
            )
        if dates is self.dates:
            dates = dates.copy()
        if closes is self.closes:
            closes = closes.copy()
        _readonly(dates)
        _readonly(closes)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "closes", closes)

    def asset_index(self, asset: str) -> int:
        """Column of ``asset`` in :attr:`closes`; unknown assets raise naming the known ones."""
        return _index_of(self.assets, asset, "asset")

    def series(self, asset: str) -> PriceSeries:
        """The dates on which ``asset`` has a price, and those closes (USD), ascending."""
        column = self.closes[:, self.asset_index(asset)]
        present = ~np.isnan(column)
        dates, closes = self.dates[present], column[present]
        _readonly(dates)
        _readonly(closes)
        return PriceSeries(asset=asset, dates=dates, closes=closes)

    def select(self, assets: Sequence[str]) -> PriceHistory:
        """A history restricted to ``assets`` (in that order), keeping every date."""
        columns = self._columns(assets)
        return PriceHistory(self.dates, tuple(assets), self.closes[:, columns])

    def window(
        self, start: str | np.datetime64 | None, end: str | np.datetime64 | None
    ) -> PriceHistory:
        """A history restricted to ``start <= date <= end`` (either bound may be None)."""
        keep = np.ones(self.dates.shape, dtype=bool)
        if start is not None:
            keep &= self.dates >= _as_day(start, "start")
        if end is not None:
            keep &= self.dates <= _as_day(end, "end")
        return PriceHistory(self.dates[keep], self.assets, self.closes[keep])

    def common_closes(self, assets: Sequence[str] | None = None) -> tuple[DateArray, FloatArray]:
        """Dates on which every requested asset has a price, and the (dates x assets) closes there.

        ``assets`` defaults to all assets, in :attr:`assets` order.
        """
        names = self.assets if assets is None else tuple(assets)
        matrix = self.closes[:, self._columns(names)]
        complete = ~np.isnan(matrix).any(axis=1)
        return self.dates[complete], matrix[complete]

    def log_returns(self, assets: Sequence[str] | None = None) -> JointReturns:
        """Joint 1-step log returns of ``assets`` over the dates where all of them have a price."""
        return self.horizon_returns(1, assets)

    def horizon_returns(self, horizon: int, assets: Sequence[str] | None = None) -> JointReturns:
        """Overlapping ``horizon``-step log returns ``ln(P_t / P_{t-horizon})`` of ``assets``.

        Steps count observations on the common dates (see the module docstring), so with daily
        data and no gaps a horizon of 10 is a 10-day return; consecutive returns overlap by
        ``horizon - 1`` steps. Raises if fewer than ``horizon + 1`` common dates exist.
        """
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise SolventInputError("horizon", f"must be an integer >= 1, got {horizon!r}")
        names = self.assets if assets is None else tuple(assets)
        if not names:
            raise SolventInputError("assets", "at least one asset is required")
        dates, matrix = self.common_closes(names)
        if dates.shape[0] <= horizon:
            raise SolventInputError(
                "assets",
                f"{list(names)} have {dates.shape[0]} common dates, need at least {horizon + 1} "
                f"for {horizon}-step returns",
            )
        logs = np.log(matrix)
        values = logs[horizon:] - logs[:-horizon]
        return JointReturns(
            assets=names,
            start_dates=dates[:-horizon].copy(),
            dates=dates[horizon:].copy(),
            values=values,
            horizon=horizon,
        )

    def _columns(self, assets: Sequence[str]) -> list[int]:
        if len(set(assets)) != len(assets):
            raise SolventInputError("assets", f"duplicate asset in {list(assets)}")
        return [self.asset_index(a) for a in assets]


def _index_of(names: tuple[str, ...], name: str, field: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        raise SolventInputError(field, f"unknown asset {name!r}; known: {list(names)}") from None


def _as_day(value: str | np.datetime64, field: str) -> DateArray:
    """A 0-d ``datetime64[D]`` array from ``YYYY-MM-DD`` text or a ``numpy.datetime64``."""
    if isinstance(value, str) and _DAY_PATTERN.fullmatch(value.strip()) is None:
        raise SolventInputError(field, f"not a YYYY-MM-DD date: {value!r}")
    try:
        day = np.asarray(value.strip()[:10] if isinstance(value, str) else value, "datetime64[D]")
    except ValueError as exc:
        raise SolventInputError(field, f"not a date: {value!r}") from exc
    if day.ndim != 0 or bool(np.isnat(day)):
        raise SolventInputError(field, f"not a date: {value!r}")
    return day


# --------------------------------------------------------------------------------------- loading


def load_price_history(path: str | Path) -> PriceHistory:
    """Load a price history from a directory of CryptoDataDownload CSVs or from one CSV file.

    A directory: every ``*.csv`` in it (not recursive) is one asset in the CryptoDataDownload
    layout. A file: the long ``date,asset,close`` layout, or a single CryptoDataDownload file.
    """
    source = Path(path)
    if is_directory(source, "history"):
        files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if not files:
            raise SolventInputError("history", f"no .csv files in directory {source}")
        return _merge(_read_cdd(f) for f in files)
    lines = _read_lines(source)
    header_line, _ = _find_header(lines)
    first = _cells(lines[header_line]) if header_line >= 0 else []
    if "unix" in first or "symbol" in first:
        return _merge([_read_cdd(source, lines)])
    return _read_long(source, lines)


@functools.cache
def embedded_price_history() -> PriceHistory:
    """The daily Binance USDT closes shipped in ``solvent/data/prices`` (read once, immutable)."""
    return load_price_history(EMBEDDED_PRICES_DIR)


def _read_lines(path: Path) -> list[str]:
    return read_text(path, "history").splitlines()


def _cells(line: str) -> list[str]:
    """Lower-cased, stripped cells of one CSV line."""
    rows = csv_rows([line], "history")
    return [c.strip().lower() for c in rows[0]] if rows else []


def _find_header(lines: list[str]) -> tuple[int, list[str]]:
    """Index and lower-cased cells of the header: line 1, or line 2 after a one-line banner."""
    for i in range(min(2, len(lines))):
        cells = _cells(lines[i])
        if "date" in cells and "close" in cells:
            return i, cells
    return -1, []


def _columns_of(
    path: Path, header: list[str], header_line: int, required: Iterable[str]
) -> dict[str, int]:
    if header_line < 0:
        raise SolventInputError(
            f"{path.name}:line 1",
            f"{path}: no header with Date and Close columns in the first two lines",
        )
    missing = [c for c in required if c not in header]
    if missing:
        raise SolventInputError(
            f"{path.name}:line {header_line + 1}", f"{path}: missing column(s) {missing}"
        )
    return {c: header.index(c) for c in required}


_DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T].*)?")


def _parse_days(texts: list[str], wheres: list[str], path: Path) -> DateArray:
    """Parse ``YYYY-MM-DD`` (optionally followed by a time) in bulk; name the first bad row."""
    days = [t.strip() for t in texts]
    for text, where in zip(days, wheres, strict=True):
        if _DAY_PATTERN.fullmatch(text) is None:
            raise SolventInputError(where, f"{path}: unparseable date {text!r}")
    try:
        return np.array([d[:10] for d in days], dtype="datetime64[D]")
    except ValueError:
        pass
    for text, where in zip(days, wheres, strict=True):
        try:
            np.datetime64(text[:10], "D")
        except ValueError:
            raise SolventInputError(where, f"{path}: invalid date {text!r}") from None
    raise AssertionError(
        "unreachable: bulk date parse failed but every row parsed"
    )  # pragma: no cover


def _parse_closes(texts: list[str], wheres: list[str], path: Path) -> FloatArray:
    """Parse prices in bulk; every one must be finite and > 0. Names the first bad row."""
    try:
        values = np.array(texts).astype(np.float64)
    except ValueError:
        for text, where in zip(texts, wheres, strict=True):
            try:
                float(text)
            except ValueError:
                raise SolventInputError(where, f"{path}: unparseable price {text!r}") from None
        raise  # pragma: no cover
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0.0)))
    if bad.size:
        i = int(bad[0])
        raise SolventInputError(
            wheres[i], f"{path}: price must be finite and > 0, got {texts[i]!r}"
        )
    return values


def _first_duplicate(days: DateArray) -> int | None:
    """Position of the first row whose date already appeared earlier, or None."""
    _, first_seen = np.unique(days, return_index=True)
    if first_seen.shape[0] == days.shape[0]:
        return None
    is_first = np.zeros(days.shape[0], dtype=bool)
    is_first[first_seen] = True
    return int(np.flatnonzero(~is_first)[0])


def _data_rows(
    path: Path, lines: list[str], header_line: int, width: int
) -> tuple[list[list[str]], list[str]]:
    """Non-blank rows after the header, and their ``file:line N`` locations (1-based)."""
    rows: list[list[str]] = []
    wheres: list[str] = []
    for offset, row in enumerate(csv_rows(lines[header_line + 1 :], "history", path.name)):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{path.name}:line {header_line + 2 + offset}"
        if len(row) < width:
            raise SolventInputError(where, f"{path}: expected {width} fields, got {len(row)}")
        rows.append(row)
        wheres.append(where)
    if not rows:
        raise SolventInputError(path.name, f"{path}: no data rows")
    return rows, wheres


def asset_from_symbol(symbol: str) -> str:
    """The base asset of a pair symbol: ``BTCUSDT`` -> ``BTC``, ``ETH/USDT`` -> ``ETH``."""
    cleaned = symbol.strip().upper()
    for sep in ("/", "-", "_"):
        if sep in cleaned:
            return cleaned.split(sep, 1)[0]
    for quote in sorted(QUOTE_CURRENCIES, key=len, reverse=True):
        if cleaned.endswith(quote) and len(cleaned) > len(quote):
            return cleaned[: -len(quote)]
    return cleaned


_AssetRows = tuple[str, DateArray, FloatArray, Path]


def _read_cdd(path: Path, lines: list[str] | None = None) -> _AssetRows:
    lines = _read_lines(path) if lines is None else lines
    header_line, header = _find_header(lines)
    columns = _columns_of(path, header, header_line, _CDD_REQUIRED)
    rows, wheres = _data_rows(path, lines, header_line, len(header))
    symbols = [r[columns["symbol"]] for r in rows]
    asset = asset_from_symbol(symbols[0])
    for unique_symbol in set(symbols):
        if asset_from_symbol(unique_symbol) != asset:
            i = symbols.index(unique_symbol)
            raise SolventInputError(
                f"{wheres[i]}.Symbol", f"{path}: symbol {unique_symbol!r} in a file of {asset}"
            )
    days = _parse_days([r[columns["date"]] for r in rows], [w + ".Date" for w in wheres], path)
    duplicate = _first_duplicate(days)
    if duplicate is not None:
        raise SolventInputError(
            f"{wheres[duplicate]}.Date", f"{path}: duplicate date {days[duplicate]}"
        )
    closes = _parse_closes(
        [r[columns["close"]] for r in rows], [w + ".Close" for w in wheres], path
    )
    return asset, days, closes, path


def _read_long(path: Path, lines: list[str]) -> PriceHistory:
    header_line, header = _find_header(lines)
    columns = _columns_of(path, header, header_line, _LONG_REQUIRED)
    rows, wheres = _data_rows(path, lines, header_line, len(header))
    assets = [r[columns["asset"]].strip().upper() for r in rows]
    if "" in assets:
        raise SolventInputError(f"{wheres[assets.index('')]}.asset", f"{path}: empty asset")
    days = _parse_days([r[columns["date"]] for r in rows], [w + ".date" for w in wheres], path)
    closes = _parse_closes(
        [r[columns["close"]] for r in rows], [w + ".close" for w in wheres], path
    )
    asset_array = np.array(assets)
    parts: list[_AssetRows] = []
    for asset in sorted(set(assets)):
        rows_of_asset = np.flatnonzero(asset_array == asset)
        duplicate = _first_duplicate(days[rows_of_asset])
        if duplicate is not None:
            i = int(rows_of_asset[duplicate])
            raise SolventInputError(
                f"{wheres[i]}.date", f"{path}: duplicate date {days[i]} for {asset}"
            )
        parts.append((asset, days[rows_of_asset], closes[rows_of_asset], path))
    return _merge(parts)


def _merge(parts: Iterable[_AssetRows]) -> PriceHistory:
    by_asset: dict[str, tuple[DateArray, FloatArray]] = {}
    origin: dict[str, Path] = {}
    for asset, days, closes, path in parts:
        if asset in by_asset:
            raise SolventInputError(
                path.name, f"{path}: asset {asset} already loaded from {origin[asset]}"
            )
        by_asset[asset] = (days, closes)
        origin[asset] = path
    assets = tuple(sorted(by_asset))
    all_days = np.unique(np.concatenate([by_asset[a][0] for a in assets]))
    matrix = np.full((all_days.shape[0], len(assets)), np.nan)
    for j, asset in enumerate(assets):
        days, closes = by_asset[asset]
        matrix[np.searchsorted(all_days, days), j] = closes
    return PriceHistory(dates=all_days, assets=assets, closes=matrix)
