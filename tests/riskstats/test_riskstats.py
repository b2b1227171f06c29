"""The shared risk-statistics kernels: ES/VaR by hand and by sorting, EWMA by its recursion,
rolling windows and trailing volatility by direct sums (moved from the fhs-es tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.riskstats.ewma import (
    ewma_sigma,
    long_run_sigma,
    stressed_window,
    trailing_rms,
    window_sums,
)
from solvent.riskstats.tail import es_var, tail_count, tail_indices

# --- finite-sample ES / VaR ------------------------------------------------------------------


def test_es_var_of_uniform_losses_by_hand() -> None:
    losses = np.arange(1.0, 1001.0)  # 1, 2, ..., 1000
    m975 = es_var(losses, 0.975)
    assert m975.k == 25
    assert m975.var[0] == 976.0 and m975.es[0] == pytest.approx(np.mean(np.arange(976, 1001)))
    m99 = es_var(np.random.default_rng(1).permutation(losses), 0.99)
    assert m99.k == 10 and m99.var[0] == 991.0 and m99.es[0] == pytest.approx(995.5)


def test_tail_count_rounding() -> None:
    assert tail_count(1000, 0.975) == 25  # 1000 * 0.025 is 25.000000000000004 in floats
    assert tail_count(100, 0.99) == 1
    assert tail_count(101, 0.99) == 2  # ceil(1.01)
    assert tail_count(10, 0.999) == 1


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([0.9, 0.95, 0.975, 0.99]),
)
@settings(max_examples=60, deadline=None)
def test_es_is_the_mean_of_the_sorted_tail(values: list[float], c: float) -> None:
    x = np.asarray(values)
    k = math.ceil(round(len(x) * (1 - c), 9))
    k = max(1, k)
    tail = np.sort(x)[::-1][:k]
    m = es_var(x, c)
    assert m.es[0] == pytest.approx(tail.mean(), rel=1e-12, abs=1e-9)
    assert m.var[0] == tail[-1]
    assert m.es[0] >= m.var[0] - 1e-9


# --- EWMA and filtering ----------------------------------------------------------------------


def test_ewma_sigma_matches_the_recursion() -> None:
    r = np.random.default_rng(2).normal(0, 0.03, (200, 2))
    sig = ewma_sigma(r, 0.97, 30)
    var = np.mean(r[:30] ** 2, axis=0)
    assert sig[0] == pytest.approx(np.sqrt(var))
    for t in range(200):
        var = 0.97 * var + 0.03 * r[t] ** 2
        assert sig[t + 1] == pytest.approx(np.sqrt(var), rel=1e-12)


def test_stressed_window_finds_the_volatile_block() -> None:
    r = np.full((500, 1), 0.01)
    r[300:350] = 0.2
    assert stressed_window(r, 50) == (300, 350)


def test_window_sums_are_overlapping_sums() -> None:
    x = np.random.default_rng(4).normal(size=(40, 3))
    for h in (1, 2, 7):
        direct = np.array([x[t : t + h].sum(axis=0) for t in range(40 - h + 1)])
        assert window_sums(x, h) == pytest.approx(direct, rel=1e-12, abs=1e-12)


@given(st.integers(1, 60), st.integers(1, 30))
@settings(max_examples=40, deadline=None)
def test_trailing_rms_is_the_rms_of_the_last_window(n: int, window: int) -> None:
    r = np.random.default_rng(n).normal(0.0, 0.02, n)
    got = trailing_rms(r, window)
    for t in range(1, n + 1):
        last = r[max(0, t - window) : t]
        assert got[t - 1] == pytest.approx(math.sqrt(np.mean(last**2)), rel=1e-9)
    assert got[-1] == pytest.approx(long_run_sigma(r[:, None], window)[0], rel=1e-9)


def test_tail_indices_pick_the_largest_losses() -> None:
    losses = np.array([[5.0, 1.0, 9.0, 3.0, 7.0], [0.0, -1.0, -2.0, 4.0, 2.0]])
    picked = np.sort(tail_indices(losses, 0.6), axis=1)  # k = ceil(5 x 0.4) = 2
    assert picked.tolist() == [[2, 4], [3, 4]]


def test_ewma_sigma_is_the_first_order_filter_bit_for_bit() -> None:
    """The recursion run day by day gives scipy.signal.lfilter's figures exactly (the filter
    the fhs-es scenarios were first built with), on random returns and the shipped history."""
    from scipy.signal import lfilter

    from solvent.market.history import embedded_price_history

    real = np.array(embedded_price_history().log_returns(["BTC", "ETH"]).values)
    for r, lam, seed in (
        (np.random.default_rng(5).normal(0, 0.03, (500, 3)), 0.94, 30),
        (real, 0.97, 30),
        (real[:, :1], 0.9, 10),
    ):
        var0 = np.mean(r[:seed] ** 2, axis=0)
        var0 = np.where(var0 > 0.0, var0, 1e-12)
        y, _ = lfilter([1.0 - lam], [1.0, -lam], r**2, axis=0, zi=(lam * var0)[None, :])
        assert np.array_equal(ewma_sigma(r, lam, seed), np.sqrt(np.vstack([var0[None, :], y])))
