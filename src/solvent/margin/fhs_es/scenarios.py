"""The fhs-es scenario sets of one as-of date: filtered, floor and stressed.

The kernels (EWMA vol, filtered and raw window sums) are in :mod:`solvent.riskstats.ewma`.

History cut: a daily close dated ``d`` is known at ``d + 1 day 00:00 UTC`` (Binance daily candles
close at midnight UTC), so a margin computed at ``as_of`` uses the closes dated up to
``as_of.date() - 1 day``. Joint returns are taken on the dates where every modelled underlying
has a close (docs/formats.md 8; gaps make a return span more than one day).

Three scenario blocks share one :class:`ScenarioSet` (columns in this order):

- ``main``: the filtered scenarios ``expm1(sigma_today * Z_h)`` (the ES of the model);
- ``floor``: the same filtered sums at the long-run vol ``expm1(sigma_long * Z_h)`` (overlay c);
- ``stressed``: the raw h-day log returns of the stressed window ``expm1(R_h)`` (overlay b).

USD stablecoin underlyings (USDC, USDT, USD) do not move. Vol shocks are relative
(``iv * (1 + shock)``): from an implied-vol history where it has both ends of the scenario
window (``iv_end / iv_start - 1``), else ``vol_beta * log move``; clipped to
``[-0.9, max_vol_move]``.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.margin.fhs_es.params import FhsParams
from solvent.market.history import PriceHistory, embedded_price_history, load_price_history
from solvent.market.snapshot import USD_ASSETS
from solvent.riskstats.ewma import (
    ewma_sigma,
    filtered_sums,
    long_run_sigma,
    stressed_window,
    window_sums,
)
from solvent.scenarios.scenario_set import ScenarioSet, VolShockKind, VolShockRule

DateArray = NDArray[np.datetime64]
DAYS_PER_YEAR = 365.0
MIN_VOL_SHOCK = -0.9


@functools.lru_cache(maxsize=8)
def _load_cached(path: str) -> PriceHistory:
    return load_price_history(Path(path))


def history_for(source: str) -> PriceHistory:
    """``"embedded"`` -> the shipped history; otherwise the history at that path (cached)."""
    if source in ("", "embedded"):
        return embedded_price_history()
    return _load_cached(str(Path(source).resolve()))


def last_known_day(as_of: datetime) -> np.datetime64:
    """The last close date usable at ``as_of`` (see the module docstring)."""
    return np.datetime64(as_of.date(), "D") - np.timedelta64(1, "D")


@dataclass(frozen=True, slots=True)
class FhsScenarios:
    """Scenario blocks for ``underlyings`` at one date (see module docstring).

    ``sigma_today``/``sigma_long``: daily vols per underlying (decimal, 0 for stablecoins);
    ``vol_ratio``: ``max(sigma_today / sigma_long)`` over the moving underlyings;
    ``main``/``floor``/``stressed``: column slices of ``scenarios``; ``stressed_period``: the
    first and last date of the stressed window.
    """

    scenarios: ScenarioSet
    main: slice
    floor: slice
    stressed: slice
    end_dates: DateArray
    sigma_today: FloatArray
    sigma_long: FloatArray
    vol_ratio: float
    stressed_period: tuple[str, str]


def build_scenarios(
    underlyings: tuple[str, ...],
    as_of: datetime,
    params: FhsParams,
    history: PriceHistory | None = None,
    vol_history: PriceHistory | None = None,
) -> FhsScenarios:
    """The fhs-es scenario blocks for ``underlyings`` at ``as_of`` (see module docstring)."""
    history = history if history is not None else history_for(params.history)
    if vol_history is None and params.vol_history:
        vol_history = history_for(params.vol_history)
    moving = tuple(u for u in underlyings if u not in USD_ASSETS)
    for u in moving:
        if u not in history.assets:
            raise SolventInputError(
                "history", f"no price history for underlying {u!r} (have {list(history.assets)})"
            )
    n_u = len(underlyings)
    h = params.mpor_days
    if not moving:  # only stablecoin underlyings: one flat scenario per block
        return _flat(underlyings, params)
    cut = history.window(None, last_known_day(as_of))
    joint = cut.log_returns(moving)
    r = np.asarray(joint.values)
    sigma = ewma_sigma(r, params.ewma_lambda, params.seed_days)
    seed = params.seed_days
    sums = filtered_sums(r[seed:], sigma[seed:], h)  # windows entirely after the burn-in
    starts = joint.start_dates[seed:][: sums.shape[0]]
    ends = joint.dates[seed + h - 1 :]
    if params.lookback_days:
        keep = params.lookback_days
        sums, starts, ends = sums[-keep:], starts[-keep:], ends[-keep:]
    if sums.shape[0] < params.min_scenarios:
        raise SolventInputError(
            "history",
            f"{sums.shape[0]} scenarios for {list(moving)} up to {last_known_day(as_of)}, "
            f"need min_scenarios = {params.min_scenarios}",
        )
    sig_today = sigma[-1]
    sig_long = long_run_sigma(r, round(params.overlays.floor_years * DAYS_PER_YEAR))
    w0, w1 = stressed_window(r, params.overlays.stressed_window_days)
    if w1 - w0 < h:  # a stressed window shorter than the MPOR: use the whole sample
        w0, w1 = 0, r.shape[0]
    raw = window_sums(r[w0:w1], h)
    s_starts = joint.start_dates[w0:w1][: raw.shape[0]]
    s_ends = joint.dates[w0 + h - 1 : w1]

    log_main = sums * sig_today[None, :]
    log_floor = sums * sig_long[None, :]
    log_moves = np.vstack([log_main, log_floor, raw])
    all_starts = np.concatenate([starts, starts, s_starts])
    all_ends = np.concatenate([ends, ends, s_ends])
    cols = [underlyings.index(u) for u in moving]
    moves = np.zeros((log_moves.shape[0], n_u))
    moves[:, cols] = np.expm1(log_moves)
    shocks = np.zeros_like(moves)
    shocks[:, cols] = _vol_shocks(log_moves, moving, all_starts, all_ends, params, vol_history)
    s_main, s_raw = sums.shape[0], raw.shape[0]
    labels = tuple(
        [f"FHS {d}" for d in ends]
        + [f"floor {d}" for d in ends]
        + [f"stressed {d}" for d in s_ends]
    )
    sig_t = np.zeros(n_u)
    sig_l = np.zeros(n_u)
    sig_t[cols], sig_l[cols] = sig_today, sig_long
    ratio = float(np.max(sig_today / np.maximum(sig_long, 1e-12)))
    return FhsScenarios(
        scenarios=ScenarioSet(
            name=params.label,
            underlyings=underlyings,
            moves=moves,
            vol_shocks=shocks,
            weights=np.ones(len(labels)),
            vol_rule=VolShockRule(kind=VolShockKind.RELATIVE),
            labels=labels,
            horizon_years=h / DAYS_PER_YEAR,
        ),
        main=slice(0, s_main),
        floor=slice(s_main, 2 * s_main),
        stressed=slice(2 * s_main, 2 * s_main + s_raw),
        end_dates=all_ends,
        sigma_today=sig_t,
        sigma_long=sig_l,
        vol_ratio=ratio,
        stressed_period=(str(joint.start_dates[w0]), str(joint.dates[w1 - 1])),
    )


_SCENARIO_CACHE_SIZE = 16
_scenario_cache: OrderedDict[
    tuple[tuple[str, ...], np.datetime64, int, int, int],
    tuple[FhsParams, PriceHistory, PriceHistory | None, FhsScenarios],
] = OrderedDict()
_scenario_lock = threading.Lock()


def scenarios_for(underlyings: tuple[str, ...], as_of: datetime, params: FhsParams) -> FhsScenarios:
    """:func:`build_scenarios` with the parameter set's own histories, built once per
    (underlyings, last usable close, parameter set, histories) and shared: the scenarios depend
    on ``as_of`` only through :func:`last_known_day`, not on the market, so every re-prepare of
    the same underlyings on a moved or updated market that day (a liquidation-price search, a
    real-time tick) reuses them. The cached arrays are read-only. Keys hold the identity of
    ``params`` and of the loaded histories (kept alive with the entry), so a parameter file or
    history file loaded anew builds afresh."""
    history = history_for(params.history)
    vol_history = history_for(params.vol_history) if params.vol_history else None
    key = (underlyings, last_known_day(as_of), id(params), id(history), id(vol_history))
    with _scenario_lock:
        hit = _scenario_cache.get(key)
        if hit is not None and hit[0] is params and hit[1] is history and hit[2] is vol_history:
            _scenario_cache.move_to_end(key)
            return hit[3]
    built = _read_only(build_scenarios(underlyings, as_of, params, history, vol_history))
    with _scenario_lock:
        _scenario_cache[key] = (params, history, vol_history, built)
        while len(_scenario_cache) > _SCENARIO_CACHE_SIZE:
            _scenario_cache.popitem(last=False)
    return built


def _read_only(fhs: FhsScenarios) -> FhsScenarios:
    """``fhs`` with its arrays flagged read-only (a shared cache entry must not be modified)."""
    s = fhs.scenarios
    for array in (s.moves, s.vol_shocks, s.weights, fhs.end_dates, fhs.sigma_today, fhs.sigma_long):
        array.flags.writeable = False
    return fhs


def _vol_shocks(
    log_moves: FloatArray,
    assets: tuple[str, ...],
    starts: DateArray,
    ends: DateArray,
    params: FhsParams,
    vol_history: PriceHistory | None,
) -> FloatArray:
    shocks = params.vol_beta * log_moves
    if vol_history is not None:
        for j, asset in enumerate(assets):
            if asset not in vol_history.assets:
                continue
            series = vol_history.series(asset)
            i0 = np.searchsorted(series.dates, starts)
            i1 = np.searchsorted(series.dates, ends)
            i0c = np.minimum(i0, series.dates.size - 1)
            i1c = np.minimum(i1, series.dates.size - 1)
            found = (series.dates[i0c] == starts) & (series.dates[i1c] == ends)
            ratio = series.closes[i1c] / series.closes[i0c] - 1.0
            shocks[:, j] = np.where(found, ratio, shocks[:, j])
    out: FloatArray = np.clip(shocks, MIN_VOL_SHOCK, params.max_vol_move)
    return out


def _flat(underlyings: tuple[str, ...], params: FhsParams) -> FhsScenarios:
    n_u = len(underlyings)
    zeros = np.zeros((3, n_u))
    return FhsScenarios(
        scenarios=ScenarioSet(
            name=params.label,
            underlyings=underlyings,
            moves=zeros,
            vol_shocks=zeros.copy(),
            weights=np.ones(3),
            vol_rule=VolShockRule(kind=VolShockKind.RELATIVE),
            labels=("FHS flat", "floor flat", "stressed flat"),
            horizon_years=params.mpor_days / DAYS_PER_YEAR,
        ),
        main=slice(0, 1),
        floor=slice(1, 2),
        stressed=slice(2, 3),
        end_dates=np.array(["NaT"] * 3, dtype="datetime64[D]"),
        sigma_today=np.zeros(n_u),
        sigma_long=np.zeros(n_u),
        vol_ratio=1.0,
        stressed_period=("", ""),
    )
