"""Implied volatility against QuantLib's blackFormulaImpliedStdDev and by round trip through
the Black-76 price, including near expiry and the deep wings; NaN where no volatility fits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.pricing.black76 import black76_greeks, black76_price
from solvent.pricing.implied_vol import implied_vol


def _random(n: int, seed: int, max_sd: float = 4.0) -> dict[str, np.ndarray]:
    """Random options whose log-moneyness is within ``max_sd`` total vols of the forward."""
    rng = np.random.default_rng(seed)
    F = np.exp(rng.uniform(0.0, np.log(2e5), n))
    T = np.exp(rng.uniform(np.log(1.0 / 8760.0), np.log(5.0), n))
    v = rng.uniform(0.05, 2.5, n)
    x = rng.uniform(-max_sd, max_sd, n) * v * np.sqrt(T)
    r = rng.uniform(0.0, 0.08, n)
    return {
        "F": F,
        "K": F * np.exp(-x),
        "T": T,
        "v": v,
        "call": rng.random(n) < 0.5,
        "df": np.exp(-r * T),
    }


def test_matches_quantlib_implied_std_dev() -> None:
    p = _random(3000, seed=3)
    F, K, T, v, call, df = (p[k] for k in ("F", "K", "T", "v", "call", "df"))
    price = black76_price(F, K, T, v, call, df)
    ours = implied_vol(price, F, K, T, call, df)
    theirs = np.full(F.size, np.nan)
    for i in range(F.size):
        kind = ql.Option.Call if call[i] else ql.Option.Put
        try:
            std = ql.blackFormulaImpliedStdDev(
                kind,
                float(K[i]),
                float(F[i]),
                float(price[i]),
                float(df[i]),
                0.0,
                float(v[i] * math.sqrt(T[i]) * 1.3),
                1e-12,
                1000,
            )
        except RuntimeError:  # QuantLib's solver gives up in the far wings
            continue
        theirs[i] = std / math.sqrt(T[i])
    solved = np.isfinite(theirs)
    assert solved.mean() > 0.9
    # Where the price pins the vol down (vega not lost in rounding), both agree closely.
    vega = black76_greeks(F, K, T, v, call, df).vega
    well_posed = solved & (vega > 1e-6 * (F + K))
    assert well_posed.sum() > 2000
    np.testing.assert_allclose(ours[well_posed], theirs[well_posed], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours[well_posed], v[well_posed], rtol=1e-9, atol=1e-11)


def test_round_trip_on_thousands_of_options() -> None:
    """vol -> price -> vol, both option types, 1 hour to 5 years, out to 4 total vols either
    side; the recovered vol reprices exactly everywhere, and equals the input vol to the
    precision that the price carries about it (eps * price scale / vega)."""
    p = _random(20_000, seed=5)
    F, K, T, v, call, df = (p[k] for k in ("F", "K", "T", "v", "call", "df"))
    price = black76_price(F, K, T, v, call, df)
    iv = implied_vol(price, F, K, T, call, df)
    assert np.all(np.isfinite(iv))
    np.testing.assert_allclose(
        black76_price(F, K, T, iv, call, df) / (F + K), price / (F + K), rtol=0, atol=1e-15
    )
    vega = black76_greeks(F, K, T, v, call, df).vega
    resolution = 50.0 * np.finfo(float).eps * (F + K) / vega
    assert np.all(np.abs(iv - v) <= 1e-10 * v + resolution)
    assert np.median(np.abs(iv - v)) < 1e-13


@pytest.mark.parametrize("time", [1e-8, 1e-6, 1.0 / 8760.0, 1.0 / 365.0])
def test_near_expiry(time: float) -> None:
    """Seconds to hours before expiry, strikes within 3 total vols of the forward."""
    F = 90_000.0
    vol = np.array([0.3, 0.6, 1.2, 2.5])[:, None]
    x = np.linspace(-3.0, 3.0, 13)[None, :] * vol * math.sqrt(time)
    K = F * np.exp(-x)
    for is_call in (True, False):
        price = black76_price(F, K, time, vol, is_call)
        iv = implied_vol(price, F, K, time, is_call)
        assert iv.shape == K.shape
        vega = black76_greeks(F, K, time, vol, is_call).vega
        ok = vega > 1e-9 * F
        assert ok.mean() > 0.8
        np.testing.assert_allclose(iv[ok], np.broadcast_to(vol, K.shape)[ok], rtol=1e-7)


def test_deep_wings_from_the_out_of_the_money_side() -> None:
    """OTM premiums down to 1e-200 of the forward (10 to 30 total vols away) still invert."""
    F, T, vol = 3_000.0, 0.5, 0.8
    sd = vol * math.sqrt(T)
    k_sd = np.array([5.0, 10.0, 20.0, 30.0])
    K_call = F * np.exp(k_sd * sd)  # OTM calls above the forward
    K_put = F * np.exp(-k_sd * sd)  # OTM puts below it
    for K, is_call in ((K_call, True), (K_put, False)):
        price = black76_price(F, K, T, vol, is_call)
        assert np.all(price > 0) and price.min() < 1e-100 * F
        np.testing.assert_allclose(implied_vol(price, F, K, T, is_call), vol, rtol=1e-9)


def test_deep_in_the_money_uses_parity() -> None:
    """A deep ITM call keeps its (small) time value; the vol comes back while it is resolvable,
    and agrees with the OTM put of the same strike."""
    F, T, vol = 100.0, 1.0, 0.5
    K = F * np.exp(-np.array([1.0, 1.5, 2.0]))  # ITM calls, 2-4 total vols deep
    call = black76_price(F, K, T, vol, True)
    put = black76_price(F, K, T, vol, False)
    np.testing.assert_allclose(implied_vol(call, F, K, T, True), vol, rtol=1e-8)
    np.testing.assert_allclose(implied_vol(put, F, K, T, False), vol, rtol=1e-11)


def test_no_vol_fits_gives_nan() -> None:
    F, K = 100.0, 90.0
    intrinsic_call = F - K
    cases = [
        (intrinsic_call - 0.01, 0.5, True),  # below intrinsic
        (intrinsic_call, 0.5, True),  # exactly intrinsic: no time value to explain
        (F, 0.5, True),  # call at the forward bound
        (F + 1, 0.5, True),  # above it
        (K, 0.5, False),  # put at the strike bound
        (0.0, 0.5, False),  # zero premium of an OTM put
        (-1.0, 0.5, False),  # negative premium
        (np.nan, 0.5, True),
        (np.inf, 0.5, True),
        (5.0, 0.0, True),  # no time left
        (5.0, -0.1, True),  # expired
    ]
    price = np.array([c[0] for c in cases])
    time = np.array([c[1] for c in cases])
    is_call = np.array([c[2] for c in cases])
    assert np.all(np.isnan(implied_vol(price, F, K, time, is_call)))
    # ... while a sane neighbour in the same call still solves.
    good = float(black76_price(F, K, 0.5, 0.4, True))
    out = implied_vol(np.append(price, good), F, K, np.append(time, 0.5), np.append(is_call, True))
    assert np.all(np.isnan(out[:-1])) and out[-1] == pytest.approx(0.4, rel=1e-12)


def test_discounting_and_shape() -> None:
    F = np.array([[100.0], [200.0]])
    K = np.array([80.0, 100.0, 150.0])
    df = math.exp(-0.05 * 2.0)
    price = black76_price(F, K, 2.0, 0.35, True, df)
    iv = implied_vol(price, F, K, 2.0, True, df)
    assert iv.shape == (2, 3)
    np.testing.assert_allclose(iv, 0.35, rtol=1e-11)
    assert implied_vol(float(price[0, 0]), 100.0, 80.0, 2.0, True, df).shape == ()


@settings(max_examples=300, deadline=None)
@given(
    sd_away=st.floats(-3.5, 3.5),
    time=st.floats(1e-4, 4.0),
    vol=st.floats(0.01, 4.0),
    is_call=st.booleans(),
)
def test_round_trip_property(sd_away: float, time: float, vol: float, is_call: bool) -> None:
    F = 65_000.0
    K = F * math.exp(sd_away * vol * math.sqrt(time))
    price = float(black76_price(F, K, time, vol, is_call))
    vega = float(black76_greeks(F, K, time, vol, is_call).vega)
    iv = float(implied_vol(price, F, K, time, is_call))
    assert abs(iv - vol) <= 1e-10 * vol + 50 * np.finfo(float).eps * (F + K) / vega
