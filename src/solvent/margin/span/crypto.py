"""SPAN risk arrays computed for crypto instruments by full Black-76 revaluation.

For every instrument (a row) and each of the 16 standard scenarios, the forward moves by a
multiple of its underlying's price scan range (relative: ``F1 = F0 x (1 + move x range)``), the
implied vol moves up or down by the vol scan range (relative ``iv x (1 +- range)`` or absolute
``iv +- range``), and time to expiry shortens by the look-ahead (1 day). The extreme scenarios 15
and 16 move the forward by +-``extreme_multiple`` x the range with the vol unchanged and count
``extreme_cover`` (35 %) of the loss.

Per 1 unit long (an option on 1 coin, 1 coin of a future/perpetual/spot), in the settlement asset,
**positive = loss** (the SPAN convention):

- linear option: ``C(F0, K, T, iv) - C(F1, K, T - dt, iv1)`` in USD;
- inverse option (coin-settled): ``C(F0, ...)/F0 - C(F1, ...)/F1`` in coin;
- linear delta-1: ``F0 - F1`` in USD; inverse delta-1: ``F0/F1 - 1`` in coin (minus the P&L
  ``1 - F0/F1`` of 1 coin long).

``C`` is :func:`solvent.pricing.black76.black76_price` (undiscounted, USD). The composite delta
reported with the arrays is the Black delta at today's forward, time and vol (futures-equivalent
units: 1 for delta-1 instruments; the same for inverse and linear, since an inverse contract's USD
value moves like the linear one). CME's composite delta is a probability-weighted average of
deltas over the scan points with weights it does not publish; we do not imitate it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from solvent.arrays import BoolArray, FloatArray
from solvent.errors import SolventInputError
from solvent.margin.span.risk_params import (
    CombinedCommodity,
    SpanProduct,
    SpanRiskParameters,
    make_span_parameters,
)
from solvent.margin.span.scenarios import EXTREME, PRICE_MOVES, VOL_MOVES
from solvent.pricing.black76 import black76_greeks, black76_price

DEFAULT_PARAMS = "span-crypto"
_MIN_VOL = 1e-4  # absolute vol shifts never take a vol below this


class VolShift(StrEnum):
    """How the vol scan range moves an implied vol."""

    RELATIVE = "relative"  # iv x (1 +- range)
    ABSOLUTE = "absolute"  # iv +- range (floored at 0.0001)


@dataclass(frozen=True, slots=True)
class UnderlyingScan:
    """Scan ranges of one underlying: price (relative move of the forward), vol, and the short
    option minimum per short option on 1 coin as a fraction of the forward."""

    price_scan_range: float
    vol_scan_range: float
    short_option_minimum: float = 0.0
    intra_spread_min: float = 0.0
    """Intra-commodity (calendar) spread charge per 1 coin of delta spread between two expiry
    tiers, as a fraction of the forward: at least this much ..."""
    intra_spread_per_year: float = 0.0
    """... or this much per year of expiry gap, whichever is larger (ours; see span.md)."""


@dataclass(frozen=True, slots=True, eq=False)
class SpanCryptoParameters:
    """A versioned parameter set for computed crypto risk arrays (TOML data file)."""

    name: str
    version: str
    lookahead_days: float
    extreme_multiple: float
    extreme_cover: float
    vol_shift: VolShift
    underlyings: Mapping[str, UnderlyingScan]

    @property
    def label(self) -> str:
        """``name@version``, the set named in results."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, slots=True, eq=False)
class CryptoInstrumentColumns:
    """Instrument data as columns (one row per instrument).

    ``forward`` USD (the future's/perpetual's mark, the option's forward, the spot index);
    ``strike`` USD (ignored for delta-1 rows); ``time`` years to expiry (ACT/365); ``vol`` the
    implied vol as a decimal (ignored for delta-1 rows); ``underlying_code`` indexes
    ``underlyings``.
    """

    is_option: BoolArray
    is_inverse: BoolArray
    forward: FloatArray
    strike: FloatArray
    time: FloatArray
    vol: FloatArray
    is_call: BoolArray
    underlying_code: NDArray[np.intp]
    underlyings: tuple[str, ...]

    @classmethod
    def from_arrays(
        cls,
        *,
        is_option: ArrayLike,
        is_inverse: ArrayLike,
        forward: ArrayLike,
        underlying_code: ArrayLike,
        underlyings: tuple[str, ...],
        strike: ArrayLike | None = None,
        time: ArrayLike | None = None,
        vol: ArrayLike | None = None,
        is_call: ArrayLike | None = None,
    ) -> CryptoInstrumentColumns:
        """Build and validate columns; option-only columns default to NaN / False."""
        fwd = np.atleast_1d(np.asarray(forward, dtype=np.float64))
        n = fwd.shape[0]

        def col(x: ArrayLike | None, fill: float) -> FloatArray:
            arr = np.full(n, fill) if x is None else np.asarray(x, dtype=np.float64)
            return np.asarray(np.broadcast_to(arr, (n,)), dtype=np.float64).copy()

        def flag(x: ArrayLike | None) -> BoolArray:
            arr = np.zeros(n, dtype=bool) if x is None else np.asarray(x, dtype=bool)
            return np.asarray(np.broadcast_to(arr, (n,)), dtype=np.bool_).copy()

        cols = cls(
            is_option=flag(is_option),
            is_inverse=flag(is_inverse),
            forward=fwd,
            strike=col(strike, math.nan),
            time=col(time, 0.0),
            vol=col(vol, math.nan),
            is_call=flag(is_call),
            underlying_code=np.asarray(
                np.broadcast_to(np.asarray(underlying_code, dtype=np.intp), (n,))
            ).copy(),
            underlyings=tuple(underlyings),
        )
        cols.validate()
        return cols

    def validate(self) -> None:
        """Reject non-finite or non-positive forwards, strikes and vols; negative times."""
        _check(np.isfinite(self.forward) & (self.forward > 0.0), "forward", "a finite price > 0")
        opt = self.is_option
        _check(~opt | (np.isfinite(self.strike) & (self.strike > 0.0)), "strike", "a strike > 0")
        _check(~opt | (np.isfinite(self.vol) & (self.vol > 0.0)), "vol", "a finite vol > 0")
        _check(~opt | (np.isfinite(self.time) & (self.time >= 0.0)), "time", "a time >= 0")
        code = self.underlying_code
        _check((code >= 0) & (code < len(self.underlyings)), "underlying_code", "a known index")


def _check(ok: BoolArray, name: str, what: str) -> None:
    bad = np.flatnonzero(~ok)
    if bad.size:
        raise SolventInputError(f"{name}[{int(bad[0])}]", f"must be {what}")


@dataclass(frozen=True, slots=True, eq=False)
class ComputedRiskArrays:
    """Risk arrays of each instrument, per 1 unit long, in its settlement asset (loss > 0).

    ``loss`` (N x 16); ``composite_delta`` (N) futures-equivalent delta; ``value`` (N) today's
    value of 1 unit long (option premium in the settlement asset, 0 for delta-1 contracts);
    ``short_option_minimum`` (N) per short option (0 for delta-1); ``parameters`` the set used.
    """

    loss: FloatArray
    composite_delta: FloatArray
    value: FloatArray
    short_option_minimum: FloatArray
    parameters: str


def scenario_price_moves(params: SpanCryptoParameters) -> FloatArray:
    """The 16 price moves in multiples of the price scan range (extremes x extreme_multiple)."""
    return np.asarray(np.where(EXTREME, params.extreme_multiple, 1.0) * PRICE_MOVES)


def compute_risk_arrays(
    columns: CryptoInstrumentColumns, params: SpanCryptoParameters
) -> ComputedRiskArrays:
    """Full-revaluation SPAN risk arrays of every instrument (see the module docstring)."""
    scans = []
    for i, name in enumerate(columns.underlyings):
        if name not in params.underlyings:
            raise SolventInputError(
                f"underlyings[{i}]", f"no scan ranges for {name!r} in {params.label}"
            )
        scans.append(params.underlyings[name])
    price_range = np.array([s.price_scan_range for s in scans])[columns.underlying_code]
    vol_range = np.array([s.vol_scan_range for s in scans])[columns.underlying_code]
    som_rate = np.array([s.short_option_minimum for s in scans])[columns.underlying_code]

    f0 = columns.forward[:, None]
    f1 = f0 * (1.0 + price_range[:, None] * scenario_price_moves(params)[None, :])
    opt = columns.is_option
    inv = columns.is_inverse[:, None]

    # options: Black-76 today and in each scenario (time shortened by the look-ahead)
    strike = np.where(opt, columns.strike, columns.forward)[:, None]
    vol0 = np.where(opt, columns.vol, 0.2)[:, None]
    t0 = np.where(opt, columns.time, 0.0)[:, None]
    call = columns.is_call[:, None]
    if params.vol_shift is VolShift.RELATIVE:
        vol1 = vol0 * (1.0 + vol_range[:, None] * VOL_MOVES[None, :])
    else:
        vol1 = np.maximum(vol0 + vol_range[:, None] * VOL_MOVES[None, :], _MIN_VOL)
    t1 = np.maximum(t0 - params.lookahead_days / 365.0, 0.0)
    usd0 = black76_price(f0, strike, t0, vol0, call)
    usd1 = black76_price(f1, strike, t1, vol1, call)
    option_loss = np.where(inv, usd0 / f0 - usd1 / f1, usd0 - usd1)

    # delta-1: linear P&L F1 - F0 (USD), inverse 1 - F0/F1 (coin); the loss is its negative
    delta_one_loss = np.where(inv, f0 / f1 - 1.0, f0 - f1)

    loss = np.where(opt[:, None], option_loss, delta_one_loss)
    loss = np.where(EXTREME[None, :], params.extreme_cover * loss, loss)

    greeks = black76_greeks(f0[:, 0], strike[:, 0], t0[:, 0], vol0[:, 0], call[:, 0])
    delta = np.where(opt, greeks.delta, 1.0)
    value = np.where(opt, np.where(columns.is_inverse, usd0[:, 0] / f0[:, 0], usd0[:, 0]), 0.0)
    som = np.where(opt, som_rate * np.where(columns.is_inverse, 1.0, columns.forward), 0.0)
    return ComputedRiskArrays(
        loss=np.asarray(loss, dtype=np.float64),
        composite_delta=np.asarray(delta, dtype=np.float64),
        value=np.asarray(value, dtype=np.float64),
        short_option_minimum=np.asarray(som, dtype=np.float64),
        parameters=params.label,
    )


def span_parameters_from_arrays(
    currency: str,
    code: str,
    names: tuple[str, ...],
    columns: CryptoInstrumentColumns,
    arrays: ComputedRiskArrays,
    rows: ArrayLike | None = None,
) -> SpanRiskParameters:
    """One combined commodity ``code`` holding the selected ``rows`` (all by default) as products
    of a :class:`SpanRiskParameters` (tier 1, no spreads), so :func:`span_book` can margin them.

    The caller groups rows of one settlement currency (e.g. BTC inverse in BTC) under one code.
    """
    idx = np.arange(len(names)) if rows is None else np.asarray(rows, dtype=np.intp)
    products = tuple(
        SpanProduct(
            name=names[i],
            tier=1,
            delta=float(arrays.composite_delta[i]),
            is_option=bool(columns.is_option[i]),
            risk_array=tuple(float(x) for x in arrays.loss[i]),
            short_option_minimum=float(arrays.short_option_minimum[i]),
            price=float(arrays.value[i]) if columns.is_option[i] else None,
        )
        for i in idx.tolist()
    )
    return make_span_parameters(currency, [CombinedCommodity(code, products)])


# --------------------------------------------------------------------------------------------
# parameter sets (TOML)

_TOP_FIELDS = {
    "name",
    "version",
    "lookahead_days",
    "extreme_multiple",
    "extreme_cover",
    "vol_shift",
    "underlyings",
}
_UNDERLYING_FIELDS = {
    "price_scan_range",
    "vol_scan_range",
    "short_option_minimum",
    "intra_spread_min",
    "intra_spread_per_year",
}


def _num(value: Any, path: str, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SolventInputError(path, f"expected a finite number, got {value!r}")
    x = float(value)
    if x < low or x > high or (low_open and x == low):
        bracket = "(" if low_open else "["
        raise SolventInputError(path, f"must be within {bracket}{low}, {high}], got {x}")
    return x


def crypto_params_from_mapping(
    raw: Mapping[str, Any], base: SpanCryptoParameters | None = None
) -> SpanCryptoParameters:
    """Validate a decoded parameter set; fields absent from ``raw`` come from ``base``.

    Unknown fields and out-of-range values raise :class:`SolventInputError` naming the field.
    """
    for key in raw:
        if key not in _TOP_FIELDS:
            raise SolventInputError(
                key, f"unknown field (allowed: {', '.join(sorted(_TOP_FIELDS))})"
            )
    merged: dict[str, Any] = {}
    if base is not None:
        merged = {
            "name": base.name,
            "version": base.version,
            "lookahead_days": base.lookahead_days,
            "extreme_multiple": base.extreme_multiple,
            "extreme_cover": base.extreme_cover,
            "vol_shift": base.vol_shift.value,
        }
    merged.update({k: v for k, v in raw.items() if k != "underlyings"})
    for key in _TOP_FIELDS - {"underlyings"}:
        if key not in merged:
            raise SolventInputError(key, "missing required field")
    for key in ("name", "version"):
        if not isinstance(merged[key], str) or not merged[key]:
            raise SolventInputError(key, f"expected a non-empty string, got {merged[key]!r}")
    if merged["vol_shift"] not in {v.value for v in VolShift}:
        raise SolventInputError(
            "vol_shift", f"must be 'relative' or 'absolute', got {merged['vol_shift']!r}"
        )
    extreme_multiple = _num(merged["extreme_multiple"], "extreme_multiple", 1.0, 10.0)
    vol_shift = VolShift(merged["vol_shift"])

    underlyings: dict[str, UnderlyingScan] = dict(base.underlyings) if base is not None else {}
    raw_under = raw.get("underlyings", {})
    if not isinstance(raw_under, Mapping):
        raise SolventInputError("underlyings", "expected a table")
    for asset, fields in raw_under.items():
        path = f"underlyings.{asset}"
        if not isinstance(fields, Mapping):
            raise SolventInputError(path, "expected a table")
        for key in fields:
            if key not in _UNDERLYING_FIELDS:
                raise SolventInputError(f"{path}.{key}", "unknown field")
        previous = underlyings.get(asset)
        values: dict[str, Any] = (
            {}
            if previous is None
            else {
                "price_scan_range": previous.price_scan_range,
                "vol_scan_range": previous.vol_scan_range,
                "short_option_minimum": previous.short_option_minimum,
                "intra_spread_min": previous.intra_spread_min,
                "intra_spread_per_year": previous.intra_spread_per_year,
            }
        )
        values.update(fields)
        for key in ("price_scan_range", "vol_scan_range"):
            if key not in values:
                raise SolventInputError(f"{path}.{key}", "missing required field")
        # the extreme move must keep the forward positive: range x extreme_multiple < 1
        price = _num(
            values["price_scan_range"], f"{path}.price_scan_range", 0.0, 1.0, low_open=True
        )
        if price * extreme_multiple >= 1.0:
            raise SolventInputError(
                f"{path}.price_scan_range",
                f"{price} x extreme_multiple {extreme_multiple} must stay below 1",
            )
        vol_high = 0.99 if vol_shift is VolShift.RELATIVE else 5.0
        underlyings[asset] = UnderlyingScan(
            price_scan_range=price,
            vol_scan_range=_num(values["vol_scan_range"], f"{path}.vol_scan_range", 0.0, vol_high),
            short_option_minimum=_num(
                values.get("short_option_minimum", 0.0), f"{path}.short_option_minimum", 0.0, 1.0
            ),
            intra_spread_min=_num(
                values.get("intra_spread_min", 0.0), f"{path}.intra_spread_min", 0.0, 1.0
            ),
            intra_spread_per_year=_num(
                values.get("intra_spread_per_year", 0.0), f"{path}.intra_spread_per_year", 0.0, 1.0
            ),
        )
    if not underlyings:
        raise SolventInputError("underlyings", "at least one underlying is required")
    return SpanCryptoParameters(
        name=merged["name"],
        version=merged["version"],
        lookahead_days=_num(merged["lookahead_days"], "lookahead_days", 0.0, 30.0),
        extreme_multiple=extreme_multiple,
        extreme_cover=_num(merged["extreme_cover"], "extreme_cover", 0.0, 1.0),
        vol_shift=vol_shift,
        underlyings=underlyings,
    )


def load_crypto_params(
    source: str | Path = DEFAULT_PARAMS, base: SpanCryptoParameters | None = None
) -> SpanCryptoParameters:
    """A built-in parameter set by name (``"span-crypto"``) or a TOML file.

    A file's fields override ``base`` (the built-in default when ``base`` is None and the file
    does not name every field), as ``--params FILE`` does (FORMATS.md 4).
    """
    if isinstance(source, str) and source == DEFAULT_PARAMS:
        text = (
            resources.files("solvent.margin.span")
            .joinpath(f"params/{source}.toml")
            .read_text(encoding="utf-8")
        )
        return crypto_params_from_mapping(_parse_toml(text, source))
    path = Path(source)
    if not path.is_file():
        raise SolventInputError("params", f"no built-in parameter set or file named {source!s}")
    raw = _parse_toml(path.read_text(encoding="utf-8"), str(path))
    if base is None and not set(raw) >= _TOP_FIELDS:
        base = load_crypto_params(DEFAULT_PARAMS)
    return crypto_params_from_mapping(raw, base)


def _parse_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SolventInputError(origin, f"invalid TOML: {exc}") from exc
