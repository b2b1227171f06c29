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
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from solvent.arrays import BoolArray, FloatArray
from solvent.errors import SolventInputError
from solvent.margin.params import OURS, ParamsSchema, Table, frozen_tables, number, tables, text
from solvent.margin.protocol import ParamsId
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
    params_id: ParamsId

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
            risk_array=tuple(arrays.loss[i].tolist()),
            short_option_minimum=float(arrays.short_option_minimum[i]),
            price=float(arrays.value[i]) if columns.is_option[i] else None,
        )
        for i in idx.tolist()
    )
    return make_span_parameters(currency, [CombinedCommodity(code, products)])


# --------------------------------------------------------------------------------------------
# parameter sets (TOML)


def _scan_check(values: Mapping[str, Any], path: str) -> None:
    """Ranges that depend on other fields: the extreme move keeps the forward positive
    (``price_scan_range x extreme_multiple < 1``); a relative vol move stays below 99 %."""
    if not values["underlyings"]:
        raise SolventInputError(_at(path, "underlyings"), "at least one underlying is required")
    multiple = values["extreme_multiple"]
    for asset, scan in values["underlyings"].items():
        at = _at(path, f"underlyings.{asset}")
        if scan["price_scan_range"] * multiple >= 1.0:
            raise SolventInputError(
                f"{at}.price_scan_range",
                f"{scan['price_scan_range']} x extreme_multiple {multiple} must stay below 1",
            )
        if values["vol_shift"] == VolShift.RELATIVE.value and scan["vol_scan_range"] > 0.99:
            raise SolventInputError(
                f"{at}.vol_scan_range", "must be in [0, 0.99] for a relative vol shift"
            )


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_SCAN = Table(
    {
        "price_scan_range": number(0.0, 1.0, lo_open=True, unit="relative move of the forward"),
        "vol_scan_range": number(0.0, 5.0, unit="relative (or absolute) vol move"),
        "short_option_minimum": number(0.0, 1.0, unit="fraction of the forward", default=0.0),
        "intra_spread_min": number(0.0, 1.0, unit="fraction of the forward", default=0.0),
        "intra_spread_per_year": number(
            0.0, 1.0, unit="fraction of the forward per year", default=0.0
        ),
    },
    source=OURS,
)
FIELDS = Table(
    {
        "lookahead_days": number(0.0, 30.0, unit="days", source="CME SPAN"),
        "extreme_multiple": number(
            1.0, 10.0, unit="multiple of the price scan range", source="CME SPAN"
        ),
        "extreme_cover": number(0.0, 1.0, unit="fraction of the loss", source="CME SPAN"),
        "vol_shift": text(choices=tuple(v.value for v in VolShift), source=OURS),
        "underlyings": tables(_SCAN, doc="scan ranges per underlying"),
    },
    check=_scan_check,
)


def _build(v: Mapping[str, Any], pid: ParamsId) -> SpanCryptoParameters:
    return SpanCryptoParameters(
        name=pid.name,
        version=pid.version,
        lookahead_days=v["lookahead_days"],
        extreme_multiple=v["extreme_multiple"],
        extreme_cover=v["extreme_cover"],
        vol_shift=VolShift(v["vol_shift"]),
        underlyings=frozen_tables(v["underlyings"], lambda t: UnderlyingScan(**t)),
        params_id=pid,
    )


SCHEMA: ParamsSchema[SpanCryptoParameters] = ParamsSchema(
    "span", (DEFAULT_PARAMS,), FIELDS, _build, package="solvent.margin.span", root=""
)
"""Declaration, built-in sets and loader of span-crypto parameters (errors name the field
without a ``params.`` prefix, as the SPAN file format does)."""


def crypto_params_from_mapping(raw: Mapping[str, Any]) -> SpanCryptoParameters:
    """Validate a complete decoded parameter set.

    Unknown fields and out-of-range values raise :class:`SolventInputError` naming the field.
    """
    return SCHEMA.from_mapping(raw)


def load_crypto_params(source: str | Path | None = None) -> SpanCryptoParameters:
    """A built-in parameter set by name (``"span-crypto"``, the default) or a TOML/JSON file
    merged over its ``base_set`` (default ``span-crypto``), as ``--params FILE`` does
    (docs/formats.md 4)."""
    return SCHEMA.load(source)
