"""SVI slices and volatility surfaces: formulas against QuantLib and Breeden-Litzenberger, fits
against Deribit's own mark IVs, arbitrage checks and input validation.

Deribit chains: the embedded 2026-01-05 snapshot (src/solvent/data/deribit) and the four snapshots
in the workspace's shared data folder (skipped when absent).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.stats import norm

import solvent
import solvent.market.svi as svi_module
from solvent.errors import SolventInputError
from solvent.market.svi import (
    G_MARGIN,
    FitMethod,
    SviParams,
    butterfly_grid,
    fit_svi_slice,
    svi_g,
)
from solvent.market.vol_surface import (
    SurfaceFit,
    VolSurface,
    fit_vol_surface,
    liquid_mask,
)
from solvent.pricing.black76 import black76_price

EMBEDDED = (
    Path(solvent.__file__).resolve().parent
    / "data"
    / "deribit"
    / "deribit_options_snapshot_20260105T153329Z.csv"
)
SHARED_SNAPSHOTS = (
    "deribit_options_snapshot_20251230T173115Z.csv",
    "deribit_options_snapshot_20260105T153329Z.csv",
    "deribit_options_snapshot_20260115T153452Z.csv",
    "deribit_options_snapshot_20260125T152900Z.csv",
)
ONE_VOL_POINT = 0.01


# -- Deribit chain reading and fitting --


@dataclass(frozen=True)
class Chain:
    """One currency's options from a Deribit snapshot CSV."""

    time: NDArray[np.float64]
    strike: NDArray[np.float64]
    forward: NDArray[np.float64]
    iv: NDArray[np.float64]
    liquid: NDArray[np.bool_]


def _num(text: str) -> float:
    return float(text) if text != "" else math.nan


def read_chains(path: Path) -> dict[str, Chain]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    chains = {}
    for ccy in sorted({r["currency"] for r in rows}):
        sel = [r for r in rows if r["currency"] == ccy]

        def col(name: str, sel: list[dict[str, str]] = sel) -> NDArray[np.float64]:
            return np.array([_num(r[name]) for r in sel])

        chains[ccy] = Chain(
            time=col("time_to_maturity"),
            strike=col("strike"),
            forward=col("underlying"),
            iv=col("implied_volatility"),
            liquid=liquid_mask(col("bid_price"), col("ask_price"), col("delta")),
        )
    return chains


def fit_chain(ccy: str, chain: Chain) -> SurfaceFit:
    return fit_vol_surface(ccy, chain.time, chain.strike, chain.forward, chain.iv, chain.liquid)


def dense_min_g(params: SviParams, k: NDArray[np.float64]) -> float:
    """g on a grid ~100x denser than the fit's, over a wider range."""
    grid = butterfly_grid(k, params.m, params.sigma)
    lo, hi = float(grid.min()), float(grid.max())
    dense = np.concatenate(
        [
            np.linspace(lo - 3.0, hi + 3.0, 60001),
            params.m + params.sigma * np.linspace(-20.0, 20.0, 20001),
        ]
    )
    return float(np.min(params.density_g(dense)))


def price_convexity_min(params: SviParams, time: float, k: NDArray[np.float64]) -> float:
    """Smallest second difference of Black-76 call prices (forward 1) over the quoted range,
    divided by h^2: a discrete risk-neutral density, which must be >= 0 (no butterfly)."""
    strikes = np.linspace(math.exp(k.min()), math.exp(k.max()), 801)
    h = strikes[1] - strikes[0]
    vol = params.implied_vol(np.log(strikes), time)
    calls = black76_price(1.0, strikes, time, vol, np.ones_like(strikes, dtype=bool))
    return float(np.min(np.diff(calls, 2)) / (h * h))


def check_chain_fit(ccy: str, chain: Chain) -> list[str]:
    """Acceptance checks of one fitted chain; returns the failures (empty when all pass)."""
    fit = fit_chain(ccy, chain)
    failures = []
    assert sum(s.n_points for s in fit.report.slices) == chain.time.size
    for s in fit.report.slices:
        sel = chain.time == s.time
        k = np.log(chain.strike[sel] / chain.forward[sel])
        label = f"{ccy} T={s.time:.4f}"
        if not s.rms_iv_error_liquid < ONE_VOL_POINT:
            failures.append(f"{label}: liquid RMS {s.rms_iv_error_liquid:.4f}")
        if s.butterfly_arbitrage or s.min_g < G_MARGIN * (1 - 1e-9):
            failures.append(f"{label}: g on the fit grid {s.min_g:.3g}")
        if dense_min_g(s.params, k) < 0.0:
            failures.append(f"{label}: g < 0 on the dense grid")
        if price_convexity_min(s.params, s.time, k) < -1e-6:
            failures.append(f"{label}: call prices not convex in strike")
        if s.method is not FitMethod.QUASI_EXPLICIT:
            failures.append(f"{label}: fell back to {s.method}")
    return failures


@pytest.fixture(scope="module")
def embedded_chains() -> dict[str, Chain]:
    return read_chains(EMBEDDED)


@pytest.mark.parametrize("ccy", ["BTC", "ETH"])
def test_embedded_deribit_chain_fits_within_one_vol_point(
    embedded_chains: dict[str, Chain], ccy: str
) -> None:
    assert check_chain_fit(ccy, embedded_chains[ccy]) == []


@pytest.mark.parametrize("name", SHARED_SNAPSHOTS)
def test_shared_deribit_snapshots_fit_within_one_vol_point(shared_dir: Path, name: str) -> None:
    path = shared_dir / "data" / "deribit" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    failures = []
    for ccy, chain in read_chains(path).items():
        failures += check_chain_fit(ccy, chain)
    assert failures == []


def test_report_figures_are_consistent(embedded_chains: dict[str, Chain]) -> None:
    chain = embedded_chains["BTC"]
    fit = fit_chain("BTC", chain)
    rep = fit.report
    # the pooled liquid RMS is the point-weighted mean of the per-expiry ones
    pooled = math.sqrt(
        sum(s.rms_iv_error_liquid**2 * s.n_liquid for s in rep.slices)
        / sum(s.n_liquid for s in rep.slices)
    )
    assert rep.rms_iv_error_liquid == pytest.approx(pooled, rel=1e-12)
    assert sum(s.n_liquid for s in rep.slices) == int(chain.liquid.sum())
    assert rep.worst_slice.rms_iv_error_liquid == max(s.rms_iv_error_liquid for s in rep.slices)
    for s in rep.slices:
        assert s.max_abs_iv_error >= s.rms_iv_error
        assert s.max_abs_iv_error_liquid >= s.rms_iv_error_liquid
    # the report's errors are the surface's own errors at the quotes
    model = fit.surface.implied_vol(chain.strike, chain.time, chain.forward)
    err = model - chain.iv
    assert rep.rms_iv_error == pytest.approx(math.sqrt(float(np.mean(err**2))), rel=1e-9)
    assert len(rep.calendar) == len(rep.slices) - 1


# -- SVI formulas against outside references --


@pytest.mark.parametrize(
    ("a", "b", "rho", "m", "sigma", "time"),
    [
        (0.04, 0.4, -0.4, 0.05, 0.1, 0.5),
        (-0.01, 0.2, -0.7, 0.02, 0.15, 0.25),
        (0.0002, 0.03, 0.2, -0.01, 0.02, 0.005),
    ],
)
def test_svi_total_variance_matches_quantlib(
    a: float, b: float, rho: float, m: float, sigma: float, time: float
) -> None:
    params = SviParams(a, b, rho, m, sigma)
    forward = 95_000.0
    section = ql.SviSmileSection(time, forward, [a, b, sigma, rho, m])
    for strike in (50_000.0, 80_000.0, 95_000.0, 101_000.0, 160_000.0):
        k = math.log(strike / forward)
        assert params.total_variance(k) == pytest.approx(section.variance(strike), rel=1e-12)
        assert params.implied_vol(k, time) == pytest.approx(section.volatility(strike), rel=1e-12)


def test_g_is_the_breeden_litzenberger_density() -> None:
    """Gatheral-Jacquier: d2C/dK2 = g(k) n(d2) / (K sqrt(w)) for Black-76 prices of the smile."""
    params = SviParams(0.02, 0.3, -0.5, 0.03, 0.12)
    time, forward = 0.4, 1.0
    strikes = np.linspace(0.6, 1.6, 201)
    h = 1e-4
    stencil = strikes[:, None] + h * np.array([-1.0, 0.0, 1.0])
    vol = params.implied_vol(np.log(stencil / forward), time)
    calls = black76_price(forward, stencil, time, vol, np.ones_like(stencil, dtype=bool))
    numeric = (calls[:, 0] - 2 * calls[:, 1] + calls[:, 2]) / h**2
    k = np.log(strikes / forward)
    w = params.total_variance(k)
    d2 = -k / np.sqrt(w) - np.sqrt(w) / 2
    analytic = params.density_g(k) * norm.pdf(d2) / (strikes * np.sqrt(w))
    np.testing.assert_allclose(numeric, analytic, rtol=2e-4, atol=1e-6)


def test_g_flags_a_known_arbitrageable_slice() -> None:
    # b (1 + |rho|) near Lee's bound with a tight vertex: density negative in the wing
    bad = SviParams(0.1, 1.0, 0.5, 0.0, 0.3)
    assert float(np.min(bad.density_g(np.linspace(-3, 3, 2001)))) < -0.05
    # a flat smile (b = 0) has g = 1 exactly
    flat = SviParams(0.04, 0.0, 0.0, 0.0, 1.0)
    np.testing.assert_allclose(flat.density_g(np.linspace(-2, 2, 9)), 1.0)


# -- fitting synthetic smiles --


@pytest.mark.parametrize(
    ("params", "time", "k"),
    [
        (SviParams(0.04, 0.4, -0.4, 0.05, 0.1), 0.5, np.linspace(-0.5, 0.5, 41)),
        (SviParams(-0.01, 0.2, -0.7, 0.02, 0.15), 0.25, np.linspace(-0.6, 0.4, 30)),
        (SviParams(0.0002, 0.03, 0.2, -0.01, 0.02), 0.005, np.linspace(-0.08, 0.08, 31)),
        (SviParams(0.2, 0.5, 0.3, -0.1, 0.4), 1.0, np.linspace(-1.0, 1.0, 25)),
    ],
)
def test_fit_recovers_known_svi_parameters(
    params: SviParams, time: float, k: NDArray[np.float64]
) -> None:
    iv = params.implied_vol(k, time)
    fit = fit_svi_slice(k, iv, time)
    np.testing.assert_allclose(fit.params.as_array(), params.as_array(), rtol=1e-3, atol=2e-5)
    assert np.max(np.abs(fit.params.implied_vol(k, time) - iv)) < 1e-5
    assert not fit.butterfly_arbitrage


@settings(max_examples=30, deadline=None)
@given(
    atm_vol=st.floats(0.3, 1.2),
    time=st.floats(0.01, 1.5),
    rho=st.floats(-0.8, 0.8),
    skew_scale=st.floats(0.1, 0.6),
    sigma_scale=st.floats(0.3, 1.5),
)
def test_fit_reproduces_random_arbitrage_free_smiles(
    atm_vol: float, time: float, rho: float, skew_scale: float, sigma_scale: float
) -> None:
    atm_w = atm_vol**2 * time
    sigma = sigma_scale * math.sqrt(atm_w)
    b = min(skew_scale * math.sqrt(atm_w) / sigma, 1.5 / (1 + abs(rho)))
    a = atm_w - b * sigma * math.sqrt(1 - rho * rho) * 0.8
    params = SviParams(a, b, rho, 0.0, sigma)
    k = np.linspace(-2.5, 2.5, 35) * math.sqrt(atm_w)
    # only arbitrage-free truths can be recovered exactly
    assume(float(np.min(params.density_g(butterfly_grid(k, 0.0, sigma)))) >= 2 * G_MARGIN)
    iv = params.implied_vol(k, time)
    fit = fit_svi_slice(k, iv, time)
    assert np.max(np.abs(fit.params.implied_vol(k, time) - iv)) < 1e-4
    assert fit.min_g >= G_MARGIN * (1 - 1e-9)


def test_fit_of_an_arbitrageable_smile_is_arbitrage_free() -> None:
    bad = SviParams(0.1, 1.0, 0.5, 0.0, 0.3)
    k = np.linspace(-0.5, 0.5, 41)
    iv = bad.implied_vol(k, 1.0)
    fit = fit_svi_slice(k, iv, 1.0)
    assert fit.min_g >= G_MARGIN * (1 - 1e-9)
    assert dense_min_g(fit.params, k) >= 0.0
    # still close to the data it was given (within 1 vol point everywhere)
    assert np.max(np.abs(fit.params.implied_vol(k, 1.0) - iv)) < ONE_VOL_POINT


def test_fit_falls_back_to_a_flat_smile_when_nothing_is_arbitrage_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # demand g >= 2 everywhere: no smile with curvature qualifies (a flat one has g = 1)
    monkeypatch.setattr(svi_module, "G_MARGIN", 2.0)
    k = np.linspace(-0.3, 0.3, 11)
    iv = SviParams(0.01, 0.1, -0.3, 0.0, 0.1).implied_vol(k, 0.2)
    fit = fit_svi_slice(k, iv, 0.2)
    assert fit.method is FitMethod.FLAT_FALLBACK
    assert fit.params.b == 0.0
    assert fit.min_g == pytest.approx(1.0)
    w = iv**2 * 0.2
    assert w.min() < fit.params.total_variance(0.0) < w.max()


def test_vega_weights_favour_the_weighted_points() -> None:
    params = SviParams(0.04, 0.4, -0.4, 0.05, 0.1)
    k = np.linspace(-0.5, 0.5, 41)
    iv = params.implied_vol(k, 0.5)
    noisy = iv + np.where(np.abs(k) > 0.3, 0.03, 0.0)  # corrupt the wings only
    weights = np.where(np.abs(k) > 0.3, 1e-3, 1.0)
    fit = fit_svi_slice(k, noisy, 0.5, weights)
    core = np.abs(k) <= 0.3
    assert np.max(np.abs(fit.params.implied_vol(k[core], 0.5) - iv[core])) < 2e-3


# -- the surface: interpolation, extrapolation, calendar checks --


@pytest.fixture(scope="module")
def surface() -> VolSurface:
    slices = [
        SviParams(0.002, 0.05, -0.3, 0.0, 0.05),
        SviParams(0.01, 0.1, -0.35, 0.01, 0.1),
        SviParams(0.05, 0.2, -0.4, 0.02, 0.2),
    ]
    return VolSurface.from_slices("BTC", [0.02, 0.1, 0.5], slices)


def test_surface_returns_the_fitted_slice_at_its_expiry(surface: VolSurface) -> None:
    k = np.linspace(-0.8, 0.8, 17)
    for i, t in enumerate(surface.times):
        expected = surface.slice(i).total_variance(k)
        np.testing.assert_array_equal(surface.total_variance(k, t), expected)
        forward = 90_000.0
        strikes = forward * np.exp(k)
        np.testing.assert_allclose(
            surface.implied_vol(strikes, t, forward),
            surface.slice(i).implied_vol(k, float(t)),
            rtol=1e-13,
        )


def test_surface_is_linear_in_total_variance_between_expiries(surface: VolSurface) -> None:
    k = np.linspace(-0.5, 0.5, 11)
    w1, w2 = surface.slice(1).total_variance(k), surface.slice(2).total_variance(k)
    for theta in (0.25, 0.5, 0.9):
        t = 0.1 + theta * (0.5 - 0.1)
        np.testing.assert_allclose(
            surface.total_variance(k, t), (1 - theta) * w1 + theta * w2, rtol=1e-13
        )


def test_surface_extrapolates_flat_vol_outside_the_expiries(surface: VolSurface) -> None:
    k = np.linspace(-0.5, 0.5, 11)
    first, last = surface.slice(0), surface.slice(2)
    for t in (1e-4, 0.005, 0.0199):
        np.testing.assert_allclose(surface.implied_vol_k(k, t), first.implied_vol(k, 0.02))
    np.testing.assert_allclose(surface.implied_vol_k(k, 0.0), first.implied_vol(k, 0.02))
    for t in (0.6, 2.0):
        np.testing.assert_allclose(surface.implied_vol_k(k, t), last.implied_vol(k, 0.5))
    np.testing.assert_array_equal(surface.total_variance(k, 0.0), 0.0)


def test_surface_evaluation_broadcasts(surface: VolSurface) -> None:
    strikes = np.array([[80_000.0], [100_000.0]])
    times = np.array([0.01, 0.05, 0.3, 1.0])
    vols = surface.implied_vol(strikes, times, 95_000.0)
    assert vols.shape == (2, 4)
    for i in range(2):
        for j in range(4):
            one = surface.implied_vol(strikes[i, 0], times[j], 95_000.0)
            assert vols[i, j] == one


@settings(max_examples=60, deadline=None)
@given(k=st.floats(-1.5, 1.5), t1=st.floats(0.0, 2.0), t2=st.floats(0.0, 2.0))
def test_ordered_surface_total_variance_never_decreases_in_time(
    surface: VolSurface, k: float, t1: float, t2: float
) -> None:
    assert all(not c.calendar_arbitrage for c in surface.calendar_checks())
    lo, hi = min(t1, t2), max(t1, t2)
    assert surface.total_variance(k, hi) >= surface.total_variance(k, lo) - 1e-15


def test_calendar_arbitrage_is_detected_on_a_crossing_pair() -> None:
    short = SviParams(0.01, 0.1, -0.3, 0.0, 0.1)
    # a longer expiry whose smile is flatter: its wings fall below the short expiry's
    long = SviParams(0.03, 0.02, 0.0, 0.0, 0.1)
    bad = VolSurface.from_slices("ETH", [0.1, 0.2], [short, long], [-0.8, -0.8], [0.8, 0.8])
    (check,) = bad.calendar_checks()
    k = np.linspace(-0.8, 0.8, 401)
    gap = long.total_variance(k) - short.total_variance(k)
    assert check.calendar_arbitrage
    assert check.min_variance_gap == pytest.approx(float(gap.min()))
    assert abs(check.k_at_min) == pytest.approx(0.8)
    # restricted to the money, where the pair is ordered, no arbitrage is reported
    near = VolSurface.from_slices("ETH", [0.1, 0.2], [short, long], [-0.1, -0.1], [0.1, 0.1])
    assert not near.calendar_checks()[0].calendar_arbitrage


def test_fit_reports_calendar_arbitrage_in_inverted_quotes() -> None:
    k = np.linspace(-0.3, 0.3, 13)
    short = SviParams(0.01, 0.1, -0.3, 0.0, 0.1)
    long = SviParams(0.004, 0.04, -0.3, 0.0, 0.1)  # lower total variance at every k
    times = np.repeat([0.1, 0.2], k.size)
    forward = 3000.0
    strikes = forward * np.exp(np.tile(k, 2))
    iv = np.concatenate([short.implied_vol(k, 0.1), long.implied_vol(k, 0.2)])
    fit = fit_vol_surface("ETH", times, strikes, np.full(times.size, forward), iv)
    assert fit.report.calendar_arbitrage
    assert not fit.report.butterfly_arbitrage
    # a proper term structure is not flagged
    long_ok = SviParams(0.03, 0.12, -0.3, 0.0, 0.1)
    iv_ok = np.concatenate([short.implied_vol(k, 0.1), long_ok.implied_vol(k, 0.2)])
    fit_ok = fit_vol_surface("ETH", times, strikes, np.full(times.size, forward), iv_ok)
    assert not fit_ok.report.calendar_arbitrage


# -- liquidity, immutability and bad input --


def test_liquid_mask_definition() -> None:
    bid = np.array([0.01, 0.0, 0.01, 0.01, np.nan, 0.01, 0.01])
    ask = np.array([0.02, 0.02, 0.02, 0.02, 0.02, 0.0, 0.02])
    delta = np.array([0.5, 0.5, 0.04, -0.96, -0.3, 0.3, -0.05])
    np.testing.assert_array_equal(
        liquid_mask(bid, ask, delta), [True, False, False, False, False, False, True]
    )


def test_surface_is_immutable(surface: VolSurface) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        surface.underlying = "ETH"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        surface.params[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        surface.times[0] = 1.0


def _good_inputs() -> dict[str, NDArray[np.float64]]:
    k = np.linspace(-0.2, 0.2, 6)
    params = SviParams(0.01, 0.1, -0.3, 0.0, 0.1)
    return {
        "time_to_expiry": np.full(6, 0.1),
        "strike": 100.0 * np.exp(k),
        "forward": np.full(6, 100.0),
        "implied_vol": params.implied_vol(k, 0.1),
    }


@pytest.mark.parametrize(
    ("name", "index", "value", "field"),
    [
        ("implied_vol", 3, math.nan, "implied_vol[3]"),
        ("implied_vol", 1, -0.2, "implied_vol[1]"),
        ("implied_vol", 0, math.inf, "implied_vol[0]"),
        ("strike", 2, -5.0, "strike[2]"),
        ("strike", 4, math.inf, "strike[4]"),
        ("forward", 5, 0.0, "forward[5]"),
        ("time_to_expiry", 0, 0.0, "time_to_expiry[0]"),
        ("time_to_expiry", 2, -0.1, "time_to_expiry[2]"),
        ("time_to_expiry", 1, math.nan, "time_to_expiry[1]"),
    ],
)
def test_fit_rejects_bad_values_naming_the_field(
    name: str, index: int, value: float, field: str
) -> None:
    inputs = _good_inputs()
    inputs[name] = inputs[name].copy()
    inputs[name][index] = value
    with pytest.raises(SolventInputError) as err:
        fit_vol_surface("BTC", **inputs)
    assert err.value.field == field


def test_fit_rejects_thin_expiries_and_malformed_arrays() -> None:
    inputs = _good_inputs()
    thin = {key: v[:4] for key, v in inputs.items()}
    with pytest.raises(SolventInputError) as err:
        fit_vol_surface("BTC", **thin)
    assert err.value.field == "time_to_expiry"
    with pytest.raises(SolventInputError) as err:
        fit_vol_surface("BTC", **{**inputs, "strike": inputs["strike"][:5]})
    assert err.value.field == "strike"
    with pytest.raises(SolventInputError) as err:
        fit_vol_surface("BTC", **inputs, liquid=np.ones(5, dtype=bool))
    assert err.value.field == "liquid"
    with pytest.raises(SolventInputError) as err:
        fit_svi_slice(np.zeros(4), np.full(4, 0.5), 0.1)
    assert err.value.field == "implied_vol"
    with pytest.raises(SolventInputError) as err:
        fit_svi_slice(np.zeros(6), np.full(6, 0.5), 0.0)
    assert err.value.field == "time"


def test_surface_rejects_bad_evaluation_input(surface: VolSurface) -> None:
    for kwargs, field in [
        ({"strike": -1.0, "time": 0.1, "forward": 100.0}, "strike"),
        ({"strike": 100.0, "time": 0.1, "forward": math.nan}, "forward"),
        ({"strike": 100.0, "time": -0.1, "forward": 100.0}, "time"),
        ({"strike": 100.0, "time": math.inf, "forward": 100.0}, "time"),
    ]:
        with pytest.raises(SolventInputError) as err:
            surface.implied_vol(**kwargs)
        assert err.value.field == field


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0.01, -0.1, 0.0, 0.0, 0.1), "svi.b"),
        ((0.01, 0.1, 1.5, 0.0, 0.1), "svi.rho"),
        ((0.01, 0.1, 0.0, 0.0, 0.0), "svi.sigma"),
        ((-0.5, 0.1, 0.0, 0.0, 0.1), "svi.a"),
        ((0.01, 1.5, 0.5, 0.0, 0.1), "svi.b"),  # Lee: b (1 + |rho|) = 2.25 > 2
        ((math.nan, 0.1, 0.0, 0.0, 0.1), "svi.a"),
    ],
)
def test_svi_parameter_bounds(args: tuple[float, ...], field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        SviParams(*args)
    assert err.value.field == field


def test_surface_rejects_unordered_expiries_and_bad_slices() -> None:
    ok = SviParams(0.01, 0.1, 0.0, 0.0, 0.1)
    with pytest.raises(SolventInputError) as err:
        VolSurface.from_slices("BTC", [0.2, 0.1], [ok, ok])
    assert err.value.field == "times"
    params = np.array([ok.as_array(), [0.01, 0.1, 2.0, 0.0, 0.1]])
    with pytest.raises(SolventInputError) as err:
        VolSurface("BTC", np.array([0.1, 0.2]), params)
    assert err.value.field == "params[1].rho"


def test_svi_g_is_minus_infinity_where_variance_is_not_positive() -> None:
    # a + b sigma sqrt(1 - rho^2) < 0 is rejected by SviParams, but the raw kernel must not lie
    g = svi_g(np.array([0.0]), -1.0, 0.1, 0.0, 0.0, 0.1)
    assert g[0] == -np.inf
