"""Black-76 kernels on whole arrays: premium and greeks of European options on a forward.

Pure functions of numpy arrays (no clock, no I/O): every argument broadcasts against the others, so
one call prices a whole chain or a whole risk array. Units and signs:

- ``forward`` and ``strike`` in USD per 1 unit of the underlying; ``time`` in years (ACT/365);
  ``vol`` a decimal (0.45 = 45 %); ``is_call`` a boolean array; ``discount`` the discount factor
  ``exp(-r T)`` to the settlement date (1.0 when rates are zero, the crypto convention).
- ``black76_price`` is the USD premium of one option on 1 unit of the underlying (linear
  settlement). An inverse (coin-settled) option's premium in coin is that USD price divided by the
  forward: :func:`inverse_price`.
- Greeks are derivatives of the USD price: ``delta`` per 1 USD of forward (the Black delta, N(d1)
  for a call and N(d1) - 1 for a put when undiscounted), ``gamma`` per 1 USD of forward squared,
  ``vega`` per 1.00 of vol (divide by 100 for one vol point), ``theta`` per year of calendar time
  (negative for a long option when rates are zero; divide by 365 for one day).

At or after expiry (``time <= 0``) and at zero volatility the option is worth its discounted
intrinsic value on the forward; delta is then the step function (1/2 exactly at the money), and
gamma, vega and theta are zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from solvent.arrays import BoolArray, FloatArray

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
COMPILED_MIN_SIZE = 50_000
"""From this many options on, :func:`black76_greeks` runs the numba kernel of
:mod:`solvent.pricing.black76_compiled` (one fused parallel pass); below it, numpy."""


def norm_pdf(x: FloatArray) -> FloatArray:
    """Standard normal density."""
    out: FloatArray = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return out


def _as_float(x: ArrayLike) -> FloatArray:
    out: FloatArray = np.asarray(x, dtype=np.float64)
    return out


@dataclass(frozen=True, slots=True)
class Greeks:
    """Black-76 premium and greeks of one option on 1 unit of the underlying, all in USD.

    ``price`` USD; ``delta`` USD per USD of forward; ``gamma`` per USD of forward; ``vega`` USD per
    1.00 of vol; ``theta`` USD per year of calendar time.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


@dataclass(frozen=True, slots=True)
class VolTerms:
    """The part of Black-76 that depends on time and volatility only, not on the forward:
    ``safe`` is ``sigma sqrt(T)`` where it is > 0 (``live``) and 1.0 elsewhere,
    ``half_variance`` is ``0.5 * safe * safe``. Computed once, it prices any forwards
    (:func:`black76_price_at`): a forward-only move re-prices without recomputing it."""

    safe: FloatArray
    live: BoolArray
    half_variance: FloatArray


def vol_terms(time: ArrayLike, vol: ArrayLike) -> VolTerms:
    """:class:`VolTerms` of ``time`` (years) and ``vol`` (decimal), broadcast together."""
    sig_sqrt_t = _as_float(vol) * np.sqrt(np.maximum(_as_float(time), 0.0))
    live = np.asarray(sig_sqrt_t > 0.0)
    safe = np.asarray(np.where(live, sig_sqrt_t, 1.0), dtype=np.float64)
    return VolTerms(safe, live, 0.5 * safe * safe)


def _d1_d2_at(
    forward: FloatArray, strike: FloatArray, terms: VolTerms
) -> tuple[FloatArray, FloatArray]:
    """d1 and d2 of ``forward`` and ``strike`` with the vol terms ``terms``."""
    d1 = (np.log(forward / strike) + terms.half_variance) / terms.safe
    return d1, d1 - terms.safe


def _d1_d2(
    forward: FloatArray, strike: FloatArray, time: FloatArray, vol: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """d1, d2 and sigma*sqrt(T) with safe values where the option has no time value."""
    terms = vol_terms(time, vol)
    d1, d2 = _d1_d2_at(forward, strike, terms)
    return d1, d2, terms.safe, terms.live


def black76_price(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    discount: ArrayLike = 1.0,
) -> FloatArray:
    """USD premium of a European option on 1 unit of the underlying (see module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = vol_terms(time, vol)
    return black76_price_at(forward, strike, terms, is_call, discount)


def black76_price_at(
    forward: ArrayLike,
    strike: ArrayLike,
    terms: VolTerms,
    is_call: ArrayLike,
    discount: ArrayLike = 1.0,
) -> FloatArray:
    """:func:`black76_price` with the time and volatility given as their :class:`VolTerms`
    (:func:`vol_terms`): the same figures, bit for bit."""
    F, K = _as_float(forward), _as_float(strike)
    call = np.asarray(is_call, dtype=bool)
    df = _as_float(discount)
    live = terms.live
    with np.errstate(divide="ignore", invalid="ignore"):
        d1, d2 = _d1_d2_at(F, K, terms)
    sign = np.where(call, 1.0, -1.0)
    value = sign * (F * ndtr(sign * d1) - K * ndtr(sign * d2))
    intrinsic = np.maximum(sign * (F - K), 0.0)
    return np.asarray(
        df * np.where(live, np.maximum(value, intrinsic), intrinsic), dtype=np.float64
    )


def black76_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    discount: ArrayLike = 1.0,
    rate: ArrayLike = 0.0,
) -> Greeks:
    """Premium, delta, gamma, vega and theta in one pass (see module docstring for units).

    ``rate`` is the continuously compounded rate behind ``discount``; it enters theta only
    (``theta = r * price - discount * F * n(d1) * vol / (2 sqrt(T))``).
    """
    F, K, T, v = _as_float(forward), _as_float(strike), _as_float(time), _as_float(vol)
    call = np.asarray(is_call, dtype=bool)
    df, r = _as_float(discount), _as_float(rate)
    shape = np.broadcast_shapes(F.shape, K.shape, T.shape, v.shape, call.shape, df.shape, r.shape)
    if math.prod(shape) >= COMPILED_MIN_SIZE:
        from solvent.pricing.black76_compiled import greeks_compiled

        size = math.prod(shape)

        def flat(a: NDArray[Any]) -> NDArray[Any]:
            # A 0-stride view for scalars and 1-D broadcasts (no copy); a copy only when a
            # multi-dimensional broadcast has to be flattened.
            view = np.broadcast_to(a, shape)
            return view if view.ndim == 1 else view.reshape(size)

        out = greeks_compiled(
            flat(F), flat(K), flat(T), flat(v), flat(np.asarray(is_call)), flat(df), flat(r)
        ).reshape((5, *shape))
        return Greeks(out[0], out[1], out[2], out[3], out[4])
    return _greeks_numpy(F, K, T, v, call, df, r)


def _greeks_numpy(
    F: FloatArray,
    K: FloatArray,
    T: FloatArray,
    v: FloatArray,
    call: BoolArray,
    df: FloatArray,
    r: FloatArray,
) -> Greeks:
    """The numpy path of :func:`black76_greeks` (any shapes that broadcast)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d1, d2, sig_sqrt_t, live = _d1_d2(F, K, T, v)
        sign = np.where(call, 1.0, -1.0)
        nd1 = ndtr(sign * d1)  # N(d1) for a call, N(-d1) for a put
        value = F * nd1
        value -= K * ndtr(sign * d2)
        value *= sign
        intrinsic = np.maximum(sign * (F - K), 0.0)
        price = df * np.where(live, np.maximum(value, intrinsic), intrinsic)
        # The density, zero where the option has no time value: gamma, vega and the decay term of
        # theta then vanish there without further masks.
        pdf = np.where(live, norm_pdf(d1), 0.0)
        pdf *= df
        # Black delta: N(d1) for a call, -N(-d1) = N(d1) - 1 for a put; at expiry the step.
        step = np.where(F > K, 1.0, np.where(F < K, 0.0, 0.5))
        delta = df * np.where(live, sign * nd1, np.where(call, step, step - 1.0))
        gamma = pdf / (F * sig_sqrt_t)
        vega = F * pdf
        vega *= np.sqrt(np.maximum(T, 0.0))
        # theta = r V - df F n(d1) vol / (2 sqrt T) = r V - (vol F)^2 gamma / 2.
        theta = r * price - 0.5 * (v * F) ** 2 * gamma
    return Greeks(
        price=np.asarray(price, dtype=np.float64),
        delta=np.asarray(delta, dtype=np.float64),
        gamma=np.asarray(gamma, dtype=np.float64),
        vega=np.asarray(vega, dtype=np.float64),
        theta=np.asarray(theta, dtype=np.float64),
    )


def inverse_price(usd_price: ArrayLike, forward: ArrayLike) -> FloatArray:
    """Coin premium of an inverse (coin-settled) option: the USD premium divided by the forward."""
    return np.asarray(_as_float(usd_price) / _as_float(forward), dtype=np.float64)


def premium_adjusted_delta(black_delta: ArrayLike, coin_price: ArrayLike) -> FloatArray:
    """Coin delta of an inverse option: Black delta minus its premium in coin.

    An inverse option's value in USD is ``coin_price * F``; the coin amount that hedges it is
    ``d(coin value)/d(ln F) = delta - coin_price`` (Deribit's "delta, premium adjusted").
    """
    return np.asarray(_as_float(black_delta) - _as_float(coin_price), dtype=np.float64)
