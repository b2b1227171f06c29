"""The numba kernel agrees with the numpy path of black76_greeks everywhere, edges included."""

from __future__ import annotations

import numpy as np

from solvent.pricing.black76 import COMPILED_MIN_SIZE, _greeks_numpy, black76_greeks
from solvent.pricing.black76_compiled import greeks_compiled


def _inputs(n: int, seed: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    F = rng.uniform(1.0, 200_000.0, n)
    K = F * np.exp(rng.normal(0.0, 1.0, n))
    T = rng.uniform(-0.01, 3.0, n)  # includes expired (T <= 0)
    v = np.where(rng.random(n) < 0.02, 0.0, rng.uniform(0.01, 3.0, n))  # includes zero vol
    K[:50] = F[:50]  # at the money at expiry: delta 1/2
    T[:50] = 0.0
    call = rng.random(n) < 0.5
    df = np.exp(-rng.uniform(0.0, 0.1, n) * np.maximum(T, 0.0))
    r = rng.uniform(0.0, 0.1, n)
    return F, K, T, v, call, df, r


def test_compiled_kernel_matches_numpy() -> None:
    F, K, T, v, call, df, r = _inputs(20_000)
    ref = _greeks_numpy(F, K, T, v, call, df, r)
    out = greeks_compiled(F, K, T, v, call, df, r)
    for row, expected in enumerate((ref.price, ref.delta, ref.gamma, ref.vega, ref.theta)):
        scale = np.maximum(np.abs(expected), 1e-12 * (F + K))
        np.testing.assert_array_less(np.abs(out[row] - expected) / scale, 1e-9)


def test_large_inputs_dispatch_to_the_kernel_with_broadcasting() -> None:
    F, K, T, v, call, _, _ = _inputs(COMPILED_MIN_SIZE)
    big = black76_greeks(F[:, None], K[:, None], T[:, None], v[:, None], call[:, None])
    small = _greeks_numpy(
        F[:, None],
        K[:, None],
        T[:, None],
        v[:, None],
        call[:, None],
        np.asarray(1.0),
        np.asarray(0.0),
    )
    assert big.price.shape == (COMPILED_MIN_SIZE, 1)
    np.testing.assert_allclose(big.price, small.price, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(big.delta, small.delta, rtol=1e-9, atol=1e-12)
