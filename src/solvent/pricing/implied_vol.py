"""Vectorized Black-76 implied volatility.

Robust where naive Newton fails:

- an in-the-money price is turned into the out-of-the-money option of the same strike by put-call
  parity first, so deep ITM options do not lose their time value to cancellation;
- the solve runs on the log of the OTM price in total volatility ``s = vol * sqrt(T)``, where the
  function is smooth and nearly linear in the wings (tiny prices, near expiry), with Newton steps
  safeguarded by a bracket that bisection keeps shrinking when a step would leave it.

Prices that no volatility can produce (below intrinsic, above the forward or strike bound) and
options with no time left return NaN: the caller decides whether that is an error.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from solvent.arrays import FloatArray
from solvent.pricing.black76 import norm_pdf

_MAX_TOTAL_VOL = 20.0  # vol * sqrt(T); far beyond any market (e.g. 2000 % for 0.1 y)
_MAX_ITERATIONS = 100


def _otm_price_and_derivative(
    x: FloatArray, s: FloatArray, is_call_otm: FloatArray, forward: FloatArray, strike: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Undiscounted OTM price and its derivative in total vol s."""
    d1 = x / s + 0.5 * s
    d2 = d1 - s
    sign = np.where(is_call_otm > 0, 1.0, -1.0)
    price = sign * (forward * ndtr(sign * d1) - strike * ndtr(sign * d2))
    return price, forward * norm_pdf(d1)


def implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    is_call: ArrayLike,
    discount: ArrayLike = 1.0,
    tolerance: float = 1e-12,
) -> FloatArray:
    """Black-76 volatility (decimal) that reproduces ``price`` (USD, as :func:`black76_price`).

    Arguments broadcast; the result has their common shape. NaN where no volatility fits.
    """
    p, F, K, T, call, df = np.broadcast_arrays(
        np.asarray(price, dtype=np.float64),
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(time, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
        np.asarray(discount, dtype=np.float64),
    )
    shape = p.shape
    p, F, K, T, call, df = (a.ravel() for a in (p, F, K, T, call, df))
    undiscounted = p / df
    # Put-call parity: the OTM option of the same strike carries all the time value.
    call_is_otm = K >= F
    otm_price = np.where(
        call == call_is_otm, undiscounted, undiscounted - np.where(call, F - K, K - F)
    )
    upper_bound = np.where(call_is_otm, F, K)
    valid = (T > 0) & (otm_price > 0) & (otm_price < upper_bound) & np.isfinite(otm_price)
    result = np.full(p.shape, np.nan)
    if not valid.any():
        return result.reshape(shape)

    idx = np.flatnonzero(valid)
    f, k, target = F[idx], K[idx], otm_price[idx]
    otm_flag = call_is_otm[idx].astype(np.float64)
    x = np.log(f / k)
    log_target = np.log(target)
    lo = np.zeros_like(target)
    hi = np.full_like(target, _MAX_TOTAL_VOL)
    s = np.clip(np.maximum(np.sqrt(2.0 * np.abs(x)), target / f * np.sqrt(2.0 * np.pi)), 1e-8, 10.0)
    active = np.ones(idx.size, dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        sa = s[a]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            model, dmodel = _otm_price_and_derivative(x[a], sa, otm_flag[a], f[a], k[a])
            too_high = model > target[a]
            hi[a] = np.where(too_high, sa, hi[a])
            lo[a] = np.where(too_high, lo[a], sa)
            g = np.log(model) - log_target[a]
            step = g * model / dmodel
            newton = sa - step
        inside = np.isfinite(newton) & (newton >= lo[a]) & (newton <= hi[a])
        s_new = np.where(inside, newton, 0.5 * (lo[a] + hi[a]))
        s[a] = s_new
        converged = (np.abs(s_new - sa) <= tolerance * np.maximum(s_new, 1e-3)) | (
            hi[a] - lo[a] <= tolerance * np.maximum(s_new, 1e-3)
        )
        active[a[converged]] = False
    result[idx] = s / np.sqrt(T[idx])
    return result.reshape(shape)
