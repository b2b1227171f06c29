"""Black-76 premium and greeks against QuantLib, put-call parity, finite differences and the
closed-form limits at expiry, zero vol and the far wings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.pricing.black76 import (
    black76_greeks,
    black76_price,
    black76_price_at,
    inverse_price,
    premium_adjusted_delta,
    vol_terms,
)

N_RANDOM = 4000


def _random_inputs(n: int, seed: int) -> dict[str, np.ndarray]:
    """Wide inputs: forwards 1..200k USD, strikes e^-3..e^3 of the forward, 1 hour..5 years,
    vols 2 %..300 %, rates -2 %..10 %, calls and puts."""
    rng = np.random.default_rng(seed)
    F = np.exp(rng.uniform(0.0, np.log(2e5), n))
    T = np.exp(rng.uniform(np.log(1.0 / 8760.0), np.log(5.0), n))
    r = rng.uniform(-0.02, 0.10, n)
    return {
        "F": F,
        "K": F * np.exp(rng.uniform(-3.0, 3.0, n)),
        "T": T,
        "v": rng.uniform(0.02, 3.0, n),
        "call": rng.random(n) < 0.5,
        "r": r,
        "df": np.exp(-r * T),
    }


@pytest.fixture(scope="module")
def inputs() -> dict[str, np.ndarray]:
    return _random_inputs(N_RANDOM, seed=20260105)


@pytest.fixture(scope="module")
def quantlib(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """QuantLib's blackFormula and BlackCalculator on the same inputs, one option at a time."""
    F, K, T, v, call, df = (inputs[k] for k in ("F", "K", "T", "v", "call", "df"))
    out = {k: np.empty(F.size) for k in ("price", "delta", "gamma", "vega")}
    for i in range(F.size):
        kind = ql.Option.Call if call[i] else ql.Option.Put
        std = float(v[i] * math.sqrt(T[i]))
        out["price"][i] = ql.blackFormula(kind, float(K[i]), float(F[i]), std, float(df[i]))
        calc = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, float(K[i])), F[i], std, df[i])
        out["delta"][i] = calc.deltaForward()
        out["gamma"][i] = calc.gammaForward()
        out["vega"][i] = calc.vega(float(T[i]))
    return out


def test_price_matches_quantlib_black_formula(inputs, quantlib) -> None:
    F, K = inputs["F"], inputs["K"]
    ours = black76_price(F, K, inputs["T"], inputs["v"], inputs["call"], inputs["df"])
    scale = F + K
    np.testing.assert_allclose(ours / scale, quantlib["price"] / scale, rtol=1e-8, atol=1e-14)
    # Both calls and puts, in and out of the money, were exercised.
    assert 0.3 < inputs["call"].mean() < 0.7
    assert (ours > 0.5 * scale).any() and (ours < 1e-6 * scale).any()


def test_greeks_match_quantlib_black_calculator(inputs, quantlib) -> None:
    F = inputs["F"]
    g = black76_greeks(
        F, inputs["K"], inputs["T"], inputs["v"], inputs["call"], inputs["df"], inputs["r"]
    )
    np.testing.assert_allclose(g.delta, quantlib["delta"], rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(g.gamma * F, quantlib["gamma"] * F, rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(g.vega / F, quantlib["vega"] / F, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(
        g.price,
        black76_price(F, inputs["K"], inputs["T"], inputs["v"], inputs["call"], inputs["df"]),
        rtol=0,
        atol=0,
    )


def test_put_call_parity(inputs) -> None:
    F, K, T, v, df = (inputs[k] for k in ("F", "K", "T", "v", "df"))
    call = black76_price(F, K, T, v, True, df)
    put = black76_price(F, K, T, v, False, df)
    np.testing.assert_allclose((call - put) / (F + K), df * (F - K) / (F + K), atol=1e-14)
    g_call = black76_greeks(F, K, T, v, True, df)
    g_put = black76_greeks(F, K, T, v, False, df)
    np.testing.assert_allclose(g_call.delta - g_put.delta, df, atol=1e-14)
    np.testing.assert_allclose(g_call.gamma, g_put.gamma, rtol=1e-12, atol=0)
    np.testing.assert_allclose(g_call.vega, g_put.vega, rtol=1e-12, atol=0)


def test_greeks_match_finite_differences() -> None:
    """Central differences of the price itself: delta and gamma in F, vega in vol, theta in
    calendar time (the discount factor exp(-r T) moves with T too)."""
    p = _random_inputs(3000, seed=7)
    # Keep to options with time value a bump can see (finite differences are noisy otherwise).
    keep = (np.abs(np.log(p["F"] / p["K"])) < 1.5 * p["v"] * np.sqrt(p["T"])) & (p["T"] > 0.01)
    F, K, T, v, call, r = (p[k][keep] for k in ("F", "K", "T", "v", "call", "r"))
    assert F.size > 400

    def price(F_: np.ndarray, T_: np.ndarray, v_: np.ndarray) -> np.ndarray:
        return black76_price(F_, K, T_, v_, call, np.exp(-r * T_))

    g = black76_greeks(F, K, T, v, call, np.exp(-r * T), r)
    h = 1e-4 * F
    hd = 1e-6 * F
    delta = (price(F + hd, T, v) - price(F - hd, T, v)) / (2 * hd)
    gamma = (price(F + h, T, v) - 2 * price(F, T, v) + price(F - h, T, v)) / h**2
    dv = 1e-5
    vega = (price(F, T, v + dv) - price(F, T, v - dv)) / (2 * dv)
    dt = 1e-5 * T
    theta = -(price(F, T + dt, v) - price(F, T - dt, v)) / (2 * dt)
    np.testing.assert_allclose(g.delta, delta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g.gamma * F, gamma * F, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g.vega / F, vega / F, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g.theta / F, theta / F, rtol=1e-5, atol=1e-9)
    # A long option loses value with time when rates are zero.
    assert np.all(black76_greeks(F, K, T, v, call).theta < 0)


def test_theta_has_the_rate_term() -> None:
    """theta = r * price - df * F * n(d1) * vol / (2 sqrt(T)) (calendar-time derivative)."""
    F, K, T, v, r = 100.0, 120.0, 0.5, 0.3, 0.05
    df = math.exp(-r * T)
    g = black76_greeks(F, K, T, v, True, df, r)
    d1 = (math.log(F / K) + 0.5 * v * v * T) / (v * math.sqrt(T))
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    expected = r * float(g.price) - df * F * pdf * v / (2 * math.sqrt(T))
    assert float(g.theta) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("time", [0.0, -0.25])
def test_at_and_after_expiry_the_option_is_intrinsic(time: float) -> None:
    F = np.array([90.0, 100.0, 110.0])
    K = 100.0
    g_call = black76_greeks(F, K, time, 0.5, True, 0.97)
    g_put = black76_greeks(F, K, time, 0.5, False, 0.97)
    np.testing.assert_array_equal(g_call.price, 0.97 * np.array([0.0, 0.0, 10.0]))
    np.testing.assert_array_equal(g_put.price, 0.97 * np.array([10.0, 0.0, 0.0]))
    np.testing.assert_array_equal(g_call.delta, 0.97 * np.array([0.0, 0.5, 1.0]))
    np.testing.assert_array_equal(g_put.delta, 0.97 * np.array([-1.0, -0.5, 0.0]))
    for g in (g_call, g_put):
        np.testing.assert_array_equal(g.gamma, 0.0)
        np.testing.assert_array_equal(g.vega, 0.0)
        np.testing.assert_array_equal(g.theta, 0.0)
        assert np.all(np.isfinite(g.price))


def test_zero_vol_is_discounted_intrinsic_and_continuous() -> None:
    F = np.array([80.0, 100.0, 125.0])
    for is_call, intrinsic in ((True, [0.0, 0.0, 25.0]), (False, [20.0, 0.0, 0.0])):
        np.testing.assert_array_equal(
            black76_price(F, 100.0, 1.0, 0.0, is_call, 0.9), 0.9 * np.array(intrinsic)
        )
        tiny = black76_price(F, 100.0, 1.0, 1e-9, is_call, 0.9)
        np.testing.assert_allclose(tiny, 0.9 * np.array(intrinsic), atol=1e-7)
    g = black76_greeks(F, 100.0, 1.0, 0.0, True)
    assert np.all(np.isfinite(g.delta)) and np.all(g.gamma == 0) and np.all(g.vega == 0)


def test_tiny_time_tends_to_intrinsic_without_nans() -> None:
    F = np.array([99.0, 100.0, 101.0])
    for T in (1e-6, 1e-10, 1e-14):
        g = black76_greeks(F, 100.0, T, 0.8, True)
        assert np.all(np.isfinite([g.price, g.delta, g.gamma, g.vega, g.theta]))
        # The ATM call is worth F * vol * sqrt(T / 2 pi) to first order.
        assert g.price[1] == pytest.approx(100.0 * 0.8 * math.sqrt(T / (2 * math.pi)), rel=1e-6)
        np.testing.assert_allclose(g.price[[0, 2]], [0.0, 1.0], atol=1e-9)
        # ATM delta is N(vol sqrt(T) / 2), a shade above 1/2.
        atm_delta = 0.5 * (1.0 + math.erf(0.8 * math.sqrt(T) / 2 / math.sqrt(2)))
        assert g.delta[1] == pytest.approx(atm_delta, abs=1e-12)


def test_deep_wings_are_finite_and_bounded() -> None:
    F = 50_000.0
    K = F * np.exp(np.array([-60.0, -20.0, -8.0, 8.0, 20.0, 60.0]))
    for is_call in (True, False):
        g = black76_greeks(F, K, 0.5, 0.6, is_call)
        for arr in (g.price, g.delta, g.gamma, g.vega, g.theta):
            assert np.all(np.isfinite(arr))
        intrinsic = np.maximum((F - K) if is_call else (K - F), 0.0)
        upper = F if is_call else K
        assert np.all(g.price >= intrinsic) and np.all(g.price <= upper)
        assert np.all(g.gamma >= 0) and np.all(g.vega >= 0)
    deep_itm_call = black76_greeks(F, K[0], 0.5, 0.6, True)
    assert float(deep_itm_call.price) == pytest.approx(F - K[0], rel=1e-15)
    assert float(deep_itm_call.delta) == 1.0
    deep_otm_call = black76_greeks(F, K[-1], 0.5, 0.6, True)
    assert float(deep_otm_call.price) == 0.0 and float(deep_otm_call.delta) == 0.0
    # Infinite vol: the call is worth the (discounted) forward, the put the strike.
    assert float(black76_price(F, 60_000.0, 1.0, 80.0, True, 0.9)) == pytest.approx(0.9 * F)
    assert float(black76_price(F, 60_000.0, 1.0, 80.0, False, 0.9)) == pytest.approx(0.9 * 60_000)


def test_broadcasting_and_shapes() -> None:
    strikes = np.linspace(50.0, 150.0, 11)
    vols = np.array([[0.2], [0.5], [1.0]])
    g = black76_greeks(100.0, strikes, 0.25, vols, strikes > 100.0)
    assert g.price.shape == g.delta.shape == g.theta.shape == (3, 11)
    row = black76_price(100.0, strikes, 0.25, 0.5, strikes > 100.0)
    np.testing.assert_array_equal(g.price[1], row)
    assert black76_price(100.0, 100.0, 1.0, 0.2, True).shape == ()


@settings(max_examples=200, deadline=None)
@given(
    log_moneyness=st.floats(-2.0, 2.0),
    time=st.floats(1e-3, 3.0),
    vol=st.floats(0.05, 2.0),
    bump=st.floats(1e-3, 0.5),
)
def test_price_is_monotone_in_vol_and_strike(
    log_moneyness: float, time: float, vol: float, bump: float
) -> None:
    F = 1000.0
    K = F * math.exp(log_moneyness)
    for is_call in (True, False):
        lo = float(black76_price(F, K, time, vol, is_call))
        hi = float(black76_price(F, K, time, vol + bump, is_call))
        assert hi >= lo - 1e-12 * F
    # Calls fall and puts rise with the strike.
    k2 = K * (1 + bump)
    assert (
        float(black76_price(F, k2, time, vol, True))
        <= float(black76_price(F, K, time, vol, True)) + 1e-12 * F
    )
    assert (
        float(black76_price(F, k2, time, vol, False))
        >= float(black76_price(F, K, time, vol, False)) - 1e-12 * F
    )


def test_inverse_premium_and_premium_adjusted_delta() -> None:
    """An inverse option is worth C/F coin; its coin delta per relative move of F is
    F * d(C/F)/dF = delta - C/F (checked by bumping F)."""
    p = _random_inputs(1000, seed=11)
    F, K, T, v, call = (p[k] for k in ("F", "K", "T", "v", "call"))
    g = black76_greeks(F, K, T, v, call)
    coin = inverse_price(g.price, F)
    np.testing.assert_allclose(coin * F, g.price, rtol=1e-15, atol=1e-300)
    h = 1e-5 * F

    def coin_value(F_: np.ndarray) -> np.ndarray:
        return black76_price(F_, K, T, v, call) / F_

    fd = F * (coin_value(F + h) - coin_value(F - h)) / (2 * h)
    pad = premium_adjusted_delta(g.delta, coin)
    np.testing.assert_allclose(pad, fd, atol=1e-7)
    # A call's coin delta is below its Black delta by exactly its premium in coin.
    np.testing.assert_allclose(g.delta - pad, coin, rtol=1e-12, atol=1e-16)


def test_vol_terms_price_any_forwards_as_black76_price_bit_for_bit() -> None:
    """A forward-only move re-prices from the vol terms computed once: the same figures,
    expired and zero-vol options included."""
    x = _random_inputs(N_RANDOM, 11)
    T = np.where(np.arange(N_RANDOM) % 50 == 0, 0.0, x["T"])  # some expired
    v = np.where(np.arange(N_RANDOM) % 70 == 1, 0.0, x["v"])  # some at zero vol
    terms = vol_terms(T, v)
    for ratio in (0.01, 0.8, 1.0, 1.3, 10.0):
        F = x["F"] * ratio
        expected = black76_price(F, x["K"], T, v, x["call"], x["df"])
        assert np.array_equal(black76_price_at(F, x["K"], terms, x["call"], x["df"]), expected)
