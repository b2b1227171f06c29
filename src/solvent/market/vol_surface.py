"""Implied-volatility surfaces: SVI slices per expiry joined in total variance across expiries.

Units and conventions: times in years (ACT/365), strikes and forwards in USD per unit of the
underlying, log-moneyness ``k = ln(K/F)``, implied vols as decimals (0.45 = 45 %), total variance
``w = iv^2 T`` (dimensionless). Errors in the reports are in decimal vol (0.01 = 1 vol point).

- :func:`fit_vol_surface` fits one raw SVI smile per expiry (:mod:`solvent.market.svi`) to mark
  IVs by Black-76 vega-weighted least squares, free of butterfly arbitrage on the check grid, and
  returns an immutable :class:`VolSurface` with a :class:`SurfaceFitReport` (fit errors per expiry,
  overall and on liquid strikes, butterfly and calendar diagnostics).
- :class:`VolSurface` interpolates total variance **linearly in time at fixed log-moneyness**
  between fitted expiries (non-decreasing in T wherever the two slices are ordered, so it adds no
  calendar arbitrage of its own); before the first expiry total variance is the first slice's
  scaled by ``T / T_1`` (its implied vol held flat in k-space), and after the last it is the last
  slice's scaled by ``T / T_n`` (same: flat implied vol per log-moneyness). Both extrapolations
  are increasing in T.
- Calendar arbitrage between adjacent slices (``w_{i+1}(k) < w_i(k)``) is detected on a grid over
  the log-moneyness range quoted in *both* expiries and reported, never silently repaired.

Liquid strikes (:func:`liquid_mask`): a quote with ``bid > 0`` and ``ask > 0`` and a Black delta
with ``0.05 <= |delta| <= 0.95``. Calls and puts share a strike's mark IV on Deribit, so a strike
is liquid when its quotes are two-sided and it is not deep in or out of the money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from solvent.arrays import BoolArray, FloatArray
from solvent.errors import SolventInputError
from solvent.market.svi import FitMethod, SviParams, fit_svi_slice, svi_total_variance
from solvent.pricing.black76 import black76_greeks

#: Liquid strikes: two-sided quote and Black |delta| within these bounds (inclusive).
LIQUID_DELTA_MIN = 0.05
LIQUID_DELTA_MAX = 0.95

#: Fit weights are Black-76 vega divided by the slice's largest vega, floored at this fraction so
#: that far wings (vega ~ 0 on short expiries) still bind the smile a little.
VEGA_WEIGHT_FLOOR = 0.01

#: Fewest points an expiry needs to be fitted (five SVI parameters).
MIN_POINTS_PER_EXPIRY = 5

#: Tolerance on ``w_{i+1}(k) - w_i(k)`` below which adjacent slices are flagged (total variance).
CALENDAR_TOLERANCE = 1e-12

#: Points of the log-moneyness grid on which calendar arbitrage is checked.
CALENDAR_GRID_POINTS = 401


def liquid_mask(bid: ArrayLike, ask: ArrayLike, delta: ArrayLike) -> BoolArray:
    """Liquid quotes: ``bid > 0``, ``ask > 0`` and ``0.05 <= |delta| <= 0.95`` (NaN -> False).

    ``bid``/``ask`` in any price unit (only their sign matters); ``delta`` the Black delta of the
    quoted option (calls in [0, 1], puts in [-1, 0]).
    """
    b = np.asarray(bid, dtype=np.float64)
    a = np.asarray(ask, dtype=np.float64)
    d = np.abs(np.asarray(delta, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        ok = (b > 0.0) & (a > 0.0) & (d >= LIQUID_DELTA_MIN) & (d <= LIQUID_DELTA_MAX)
    return np.asarray(ok, dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class CalendarCheck:
    """Calendar-arbitrage check between two adjacent expiries.

    ``min_variance_gap`` is ``min_k (w_long(k) - w_short(k))`` (total variance) over
    ``CALENDAR_GRID_POINTS`` points spanning the log-moneyness range quoted in both expiries, at
    ``k_at_min``; negative means calendar arbitrage there.
    """

    time_short: float
    time_long: float
    k_low: float
    k_high: float
    min_variance_gap: float
    k_at_min: float

    @property
    def calendar_arbitrage(self) -> bool:
        """True when the longer expiry's total variance falls below the shorter one's."""
        return self.min_variance_gap < -CALENDAR_TOLERANCE


def _readonly(x: ArrayLike) -> FloatArray:
    arr = np.array(x, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class VolSurface:
    """An immutable implied-volatility surface of one underlying (see module docstring).

    ``times`` (n,) strictly increasing expiries in years; ``params`` (n, 5) raw SVI parameters
    ``[a, b, rho, m, sigma]`` per expiry; ``k_low``/``k_high`` (n,) the log-moneyness range quoted
    in each expiry (used by the calendar check; [-1, 1] when built without data). Arrays are
    read-only copies.
    """

    underlying: str
    times: FloatArray
    params: FloatArray
    k_low: FloatArray = field(default_factory=lambda: np.empty(0))
    k_high: FloatArray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64)
        params = np.asarray(self.params, dtype=np.float64)
        if times.ndim != 1 or times.size == 0:
            raise SolventInputError("times", "need a non-empty 1-D array of expiries")
        if not np.all(np.isfinite(times) & (times > 0.0)) or np.any(np.diff(times) <= 0.0):
            raise SolventInputError("times", "must be finite, > 0 and strictly increasing")
        if params.shape != (times.size, 5):
            raise SolventInputError("params", f"must have shape ({times.size}, 5)")
        for i, row in enumerate(params):
            try:
                SviParams(*(float(v) for v in row))
            except SolventInputError as exc:
                raise SolventInputError(f"params[{i}].{exc.field[4:]}", exc.message) from exc
        k_low = np.asarray(self.k_low, dtype=np.float64)
        k_high = np.asarray(self.k_high, dtype=np.float64)
        if k_low.size == 0 and k_high.size == 0:
            k_low, k_high = np.full(times.size, -1.0), np.full(times.size, 1.0)
        if k_low.shape != times.shape or k_high.shape != times.shape or np.any(k_low > k_high):
            raise SolventInputError("k_low", "quoted ranges must be (n,) with k_low <= k_high")
        object.__setattr__(self, "times", _readonly(times))
        object.__setattr__(self, "params", _readonly(params))
        object.__setattr__(self, "k_low", _readonly(k_low))
        object.__setattr__(self, "k_high", _readonly(k_high))

    @classmethod
    def from_slices(
        cls,
        underlying: str,
        times: ArrayLike,
        slices: tuple[SviParams, ...] | list[SviParams],
        k_low: ArrayLike | None = None,
        k_high: ArrayLike | None = None,
    ) -> VolSurface:
        """Build a surface from SVI slices (one per expiry, in the order of ``times``)."""
        params = np.array([s.as_array() for s in slices], dtype=np.float64).reshape(-1, 5)
        empty = np.empty(0)
        return cls(
            underlying,
            np.asarray(times, dtype=np.float64),
            params,
            empty if k_low is None else np.asarray(k_low, dtype=np.float64),
            empty if k_high is None else np.asarray(k_high, dtype=np.float64),
        )

    @property
    def n_expiries(self) -> int:
        """Number of fitted expiries."""
        return int(self.times.size)

    def slice(self, i: int) -> SviParams:
        """The SVI parameters of expiry ``i``."""
        return SviParams(*(float(v) for v in self.params[i]))

    def total_variance(self, log_moneyness: ArrayLike, time: ArrayLike) -> FloatArray:
        """Total implied variance ``w(k, T)`` (dimensionless); arguments broadcast.

        ``time`` in years, finite and >= 0 (``w(k, 0) = 0``). Exactly the fitted slice at a fitted
        expiry; linear in ``T`` between expiries; ``w_1(k) T / T_1`` before the first and
        ``w_n(k) T / T_n`` after the last.
        """
        k = np.asarray(log_moneyness, dtype=np.float64)
        t = np.asarray(time, dtype=np.float64)
        if not np.all(np.isfinite(k)):
            raise SolventInputError("log_moneyness", "must be finite")
        if not np.all(np.isfinite(t) & (t >= 0.0)):
            raise SolventInputError("time", "must be finite and >= 0")
        k, t = np.broadcast_arrays(k, t)
        return self._total_variance(k, t)

    def _total_variance(self, k: FloatArray, t: FloatArray) -> FloatArray:
        times, p = self.times, self.params
        n = times.size
        j = np.searchsorted(times, t, side="right") - 1  # last expiry <= t, -1 before the first
        lo = np.clip(j, 0, n - 1)
        hi = np.clip(j + 1, 0, n - 1)
        w_lo = svi_total_variance(k, p[lo, 0], p[lo, 1], p[lo, 2], p[lo, 3], p[lo, 4])
        w_hi = svi_total_variance(k, p[hi, 0], p[hi, 1], p[hi, 2], p[hi, 3], p[hi, 4])
        t_lo, t_hi = times[lo], times[hi]
        span = np.where(hi > lo, t_hi - t_lo, 1.0)
        theta = np.where(hi > lo, (t - t_lo) / span, 0.0)
        inside = (1.0 - theta) * w_lo + theta * w_hi
        before = w_hi * t / times[0]  # j == -1: lo == hi == 0
        after = w_lo * t / times[-1]  # j == n - 1: lo == hi == n - 1
        w = np.where(j < 0, before, np.where(j >= n - 1, after, inside))
        return np.asarray(np.maximum(w, 0.0), dtype=np.float64)

    def implied_vol_k(self, log_moneyness: ArrayLike, time: ArrayLike) -> FloatArray:
        """Implied vol (decimal) at log-moneyness ``k`` and ``time`` years; arguments broadcast.

        ``sqrt(w(k, T) / T)``; at ``T = 0`` the limit ``sqrt(w_1(k) / T_1)`` (flat before the
        first expiry).
        """
        k = np.asarray(log_moneyness, dtype=np.float64)
        t = np.asarray(time, dtype=np.float64)
        if not np.all(np.isfinite(k)):
            raise SolventInputError("log_moneyness", "must be finite")
        if not np.all(np.isfinite(t) & (t >= 0.0)):
            raise SolventInputError("time", "must be finite and >= 0")
        k, t = np.broadcast_arrays(k, t)
        t_eval = np.where(t > 0.0, t, self.times[0])
        w = self._total_variance(k, t_eval)
        return np.asarray(np.sqrt(w / t_eval), dtype=np.float64)

    def implied_vol(self, strike: ArrayLike, time: ArrayLike, forward: ArrayLike) -> FloatArray:
        """Implied vol (decimal) of strikes ``K`` (USD) at ``time`` years on forwards ``F`` (USD).

        Arguments broadcast; strikes and forwards must be finite and > 0.
        """
        K = np.asarray(strike, dtype=np.float64)
        F = np.asarray(forward, dtype=np.float64)
        if not np.all(np.isfinite(K) & (K > 0.0)):
            raise SolventInputError("strike", "must be finite and > 0")
        if not np.all(np.isfinite(F) & (F > 0.0)):
            raise SolventInputError("forward", "must be finite and > 0")
        return self.implied_vol_k(np.log(K / F), time)

    def calendar_checks(self) -> tuple[CalendarCheck, ...]:
        """Calendar-arbitrage check of every pair of adjacent expiries (see :class:`CalendarCheck`).

        The grid spans the log-moneyness range quoted in both expiries (their union if the two
        ranges do not overlap).
        """
        checks = []
        for i in range(self.times.size - 1):
            lo = max(float(self.k_low[i]), float(self.k_low[i + 1]))
            hi = min(float(self.k_high[i]), float(self.k_high[i + 1]))
            if lo > hi:
                lo = min(float(self.k_low[i]), float(self.k_low[i + 1]))
                hi = max(float(self.k_high[i]), float(self.k_high[i + 1]))
            grid = np.linspace(lo, hi, CALENDAR_GRID_POINTS)
            gap = self.slice(i + 1).total_variance(grid) - self.slice(i).total_variance(grid)
            at = int(np.argmin(gap))
            checks.append(
                CalendarCheck(
                    time_short=float(self.times[i]),
                    time_long=float(self.times[i + 1]),
                    k_low=lo,
                    k_high=hi,
                    min_variance_gap=float(gap[at]),
                    k_at_min=float(grid[at]),
                )
            )
        return tuple(checks)


@dataclass(frozen=True, slots=True)
class SliceReport:
    """Fit of one expiry. IV errors are model minus mark, in decimal vol (0.01 = 1 vol point).

    ``rms_iv_error_liquid`` is NaN when the expiry has no liquid point; ``min_g`` the minimum of
    Gatheral-Jacquier's ``g(k)`` on the slice's butterfly check grid.
    """

    time: float
    params: SviParams
    n_points: int
    n_liquid: int
    rms_iv_error: float
    rms_iv_error_liquid: float
    max_abs_iv_error: float
    max_abs_iv_error_liquid: float
    min_g: float
    butterfly_arbitrage: bool
    method: FitMethod


@dataclass(frozen=True, slots=True)
class SurfaceFitReport:
    """Fit diagnostics of one underlying's surface: per expiry and per adjacent pair."""

    underlying: str
    slices: tuple[SliceReport, ...]
    calendar: tuple[CalendarCheck, ...]
    rms_iv_error: float
    rms_iv_error_liquid: float

    @property
    def worst_slice(self) -> SliceReport:
        """The expiry with the largest RMS IV error on liquid strikes (all points if none)."""

        def key(s: SliceReport) -> float:
            v = s.rms_iv_error_liquid
            return s.rms_iv_error if math.isnan(v) else v

        return max(self.slices, key=key)

    @property
    def butterfly_arbitrage(self) -> bool:
        """True if any fitted slice has ``g < 0`` on its check grid."""
        return any(s.butterfly_arbitrage for s in self.slices)

    @property
    def calendar_arbitrage(self) -> bool:
        """True if any adjacent pair of slices crosses on their common quoted range."""
        return any(c.calendar_arbitrage for c in self.calendar)


@dataclass(frozen=True, slots=True)
class SurfaceFit:
    """A fitted surface and its report."""

    surface: VolSurface
    report: SurfaceFitReport


def _check_array(name: str, x: ArrayLike, n: int | None, positive: bool) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or (n is not None and arr.size != n):
        raise SolventInputError(name, "must be a 1-D array with one value per point")
    bad = ~np.isfinite(arr) | ((arr <= 0.0) if positive else np.zeros(arr.shape, dtype=bool))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        what = "finite and > 0" if positive else "finite"
        raise SolventInputError(f"{name}[{i}]", f"must be {what}, got {arr[i]!r}")
    return arr


def fit_vol_surface(
    underlying: str,
    time_to_expiry: ArrayLike,
    strike: ArrayLike,
    forward: ArrayLike,
    implied_vol: ArrayLike,
    liquid: ArrayLike | None = None,
) -> SurfaceFit:
    """Fit an SVI surface to mark implied vols of one underlying's option chain.

    One point per quote (calls and puts may both appear). ``time_to_expiry`` in years (> 0; the
    points of one expiry share exactly the same value), ``strike`` and ``forward`` in USD (> 0;
    the forward may differ between points of an expiry), ``implied_vol`` decimal (> 0),
    ``liquid`` an optional boolean mask (default: every point counts as liquid; see
    :func:`liquid_mask`). The mask only selects the points of the liquid error figures: every
    point is fitted, with Black-76 vega weights (normalised per expiry, floored at
    ``VEGA_WEIGHT_FLOOR``). Raises :class:`SolventInputError` naming the field on bad input, with
    nothing built.
    """
    T = _check_array("time_to_expiry", time_to_expiry, None, positive=True)
    n = T.size
    K = _check_array("strike", strike, n, positive=True)
    F = _check_array("forward", forward, n, positive=True)
    iv = _check_array("implied_vol", implied_vol, n, positive=True)
    if liquid is None:
        liq = np.ones(n, dtype=bool)
    else:
        liq = np.asarray(liquid)
        if liq.shape != (n,) or liq.dtype != np.bool_:
            raise SolventInputError("liquid", "must be a boolean array with one value per point")
    times, group = np.unique(T, return_inverse=True)
    counts = np.bincount(group, minlength=times.size)
    if np.any(counts < MIN_POINTS_PER_EXPIRY):
        i = int(np.flatnonzero(counts < MIN_POINTS_PER_EXPIRY)[0])
        raise SolventInputError(
            "time_to_expiry",
            f"expiry T={times[i]!r} has {counts[i]} points; an SVI fit needs at least "
            f"{MIN_POINTS_PER_EXPIRY}",
        )
    k_all = np.log(K / F)
    vega = black76_greeks(F, K, T, iv, True).vega
    params, k_low, k_high, reports = [], [], [], []
    sq_all, sq_liq, n_liq_total = 0.0, 0.0, 0
    for i, t in enumerate(times):
        sel = group == i
        k, v, ve, lq = k_all[sel], iv[sel], vega[sel], liq[sel]
        top = float(ve.max())
        weights = np.maximum(ve / top, VEGA_WEIGHT_FLOOR) if top > 0.0 else np.ones_like(ve)
        fit = fit_svi_slice(k, v, float(t), weights)
        err = fit.params.implied_vol(k, float(t)) - v
        n_lq = int(lq.sum())
        sq_all += float(err @ err)
        sq_liq += float(err[lq] @ err[lq])
        n_liq_total += n_lq
        reports.append(
            SliceReport(
                time=float(t),
                params=fit.params,
                n_points=int(k.size),
                n_liquid=n_lq,
                rms_iv_error=math.sqrt(float(np.mean(err * err))),
                rms_iv_error_liquid=(
                    math.sqrt(float(np.mean(err[lq] ** 2))) if n_lq else float("nan")
                ),
                max_abs_iv_error=float(np.max(np.abs(err))),
                max_abs_iv_error_liquid=(float(np.max(np.abs(err[lq]))) if n_lq else float("nan")),
                min_g=fit.min_g,
                butterfly_arbitrage=fit.butterfly_arbitrage,
                method=fit.method,
            )
        )
        params.append(fit.params)
        k_low.append(float(k.min()))
        k_high.append(float(k.max()))
    surface = VolSurface.from_slices(underlying, times, params, k_low, k_high)
    report = SurfaceFitReport(
        underlying=underlying,
        slices=tuple(reports),
        calendar=surface.calendar_checks(),
        rms_iv_error=math.sqrt(sq_all / n),
        rms_iv_error_liquid=math.sqrt(sq_liq / n_liq_total) if n_liq_total else float("nan"),
    )
    return SurfaceFit(surface=surface, report=report)
