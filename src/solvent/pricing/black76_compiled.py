"""The Black-76 price-and-greeks kernel compiled with numba, for large flat arrays.

Same formulas, units and edge cases as :func:`solvent.pricing.black76.black76_greeks` (which
dispatches here for large inputs): one fused pass per option, parallel over the machine's cores,
with no temporaries. ``tests/pricing/test_black76_compiled.py`` checks it against the numpy path.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


@numba.njit(inline="always", cache=True)
def _ndtr(x: float) -> float:
    return 0.5 * math.erfc(-x * _INV_SQRT_2)


@numba.njit(parallel=True, cache=True, fastmath=False, error_model="numpy", boundscheck=False)
def _greeks_kernel(  # pragma: no cover - compiled; covered through black76_greeks
    forward: FloatArray,
    strike: FloatArray,
    time: FloatArray,
    vol: FloatArray,
    is_call: np.ndarray,
    discount: FloatArray,
    rate: FloatArray,
    out: FloatArray,
) -> None:
    n = forward.shape[0]
    for i in numba.prange(n):
        f = forward[i]
        k = strike[i]
        t = max(time[i], 0.0)
        v = vol[i]
        df = discount[i]
        sign = 1.0 if is_call[i] else -1.0
        s = v * math.sqrt(t)
        intrinsic = max(sign * (f - k), 0.0)
        if s > 0.0:
            d1 = (math.log(f / k) + 0.5 * s * s) / s
            d2 = d1 - s
            nd1 = _ndtr(sign * d1)
            value = sign * (f * nd1 - k * _ndtr(sign * d2))
            price = df * max(value, intrinsic)
            pdf = df * _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
            delta = df * sign * nd1
            gamma = pdf / (f * s)
            vega = f * pdf * math.sqrt(t)
            theta = rate[i] * price - 0.5 * (v * f) * (v * f) * gamma
        else:
            price = df * intrinsic
            step = 1.0 if f > k else (0.0 if f < k else 0.5)
            delta = df * (step if sign > 0 else step - 1.0)
            gamma = 0.0
            vega = 0.0
            theta = rate[i] * price
        out[0, i] = price
        out[1, i] = delta
        out[2, i] = gamma
        out[3, i] = vega
        out[4, i] = theta


def greeks_compiled(
    forward: NDArray[Any],
    strike: NDArray[Any],
    time: NDArray[Any],
    vol: NDArray[Any],
    is_call: NDArray[Any],
    discount: NDArray[Any],
    rate: NDArray[Any],
) -> FloatArray:
    """(5, n) array of price, delta, gamma, vega, theta for flat, equal-length 1-D inputs (any
    strides, e.g. 0-stride broadcasts of a scalar; ``is_call`` boolean or numeric)."""
    out = np.empty((5, forward.shape[0]), dtype=np.float64)
    _greeks_kernel(forward, strike, time, vol, is_call, discount, rate, out)
    return out
