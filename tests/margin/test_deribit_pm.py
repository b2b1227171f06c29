"""deribit-pm against hand-computed cases and invariants (METHODOLOGY.md 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import BTC, ETH, market, portfolio
from solvent.errors import SolventInputError
from solvent.margin.deribit_pm import (
    combine_by_correlation,
    correlation_shares,
    load_params,
    margin_book,
)
from solvent.margin.protocol import Detail
from solvent.portfolio.book import Book

PARAMS = load_params()
XPM = load_params("deribit-xpm")


def _one(*positions: tuple[str, float], params=PARAMS):  # type: ignore[no-untyped-def]
    result = margin_book(Book.from_portfolios([portfolio("a", *positions)]), market(), params)
    assert result.detail is not None
    return result.detail[0]


def test_long_inverse_perpetual_by_hand() -> None:
    acct = _one(("BTC-PERPETUAL", 1.0))
    (pool,) = acct.pools
    worst = 1.0 / (1.0 - 0.16) - 1.0  # inverse loss of 1 coin long when BTC falls 16 %
    assert pool.currency == "BTC"
    assert pool.components["worst_case"] == pytest.approx(worst, rel=1e-12)
    assert pool.components["roll_shock"] == pytest.approx(0.01)  # perp: min_annualised_move
    assert pool.components["delta_shock"] == 0.0
    assert pool.initial_margin == pytest.approx(worst + 0.01)
    assert pool.maintenance_margin == pytest.approx(0.8 * (worst + 0.01))
    assert acct.initial_margin_usd == pytest.approx((worst + 0.01) * BTC)
    assert pool.worst_scenario is not None and pool.worst_scenario.label == "BTC -16% vol up"


def test_roll_shock_of_a_dated_future() -> None:
    m = market()
    t = m.quote("BTC-27MAR26").time_to_expiry
    acct = _one(("BTC-27MAR26", -2.0))
    assert acct.pools[0].components["roll_shock"] == pytest.approx(2 * max(0.01, 0.075 * t))


def test_hedged_delta_one_pair_has_zero_scenario_risk() -> None:
    acct = _one(("BTC-PERPETUAL", 1.5), ("BTC-27MAR26", -1.5))
    assert acct.pools[0].components["worst_case"] == pytest.approx(0.0, abs=1e-15)


def test_linear_position_in_usdc_pool() -> None:
    acct = _one(("BTC_USDC-PERPETUAL", -0.5))
    (pool,) = acct.pools
    assert pool.currency == "USDC"
    assert pool.components["worst_case"] == pytest.approx(0.5 * 0.16 * BTC)
    assert pool.components["roll_shock"] == pytest.approx(0.5 * 0.01 * BTC)


def test_delta_shock_beyond_threshold() -> None:
    qty = 300.0  # 30 M USD of delta: 10 M beyond the 20 M threshold
    acct = _one(("BTC_USDC-PERPETUAL", qty))
    excess = qty * BTC - 20_000_000.0
    assert acct.pools[0].components["delta_shock"] == pytest.approx(0.1 * excess)


def test_extended_table_dampener_by_hand() -> None:
    # 1,000 BTC long inverse perp: the -66 % extended scenario, scaled to the 16 % range and
    # dampened, beats the -16 % standard scenario.
    qty = 1000.0
    acct = _one(("BTC-PERPETUAL", qty))
    std = qty * (1 / 0.84 - 1)
    ratio = 0.66 / 0.16
    scaled = qty * (1 / 0.34 - 1) / ratio
    damp = (ratio - 1) * 100_000.0 / BTC
    ext = scaled - min(damp, scaled)
    assert acct.pools[0].components["worst_case"] == pytest.approx(max(std, ext), rel=1e-12)
    assert ext > std  # the extended table binds here
    assert "extended" in acct.pools[0].worst_scenario.label  # type: ignore[union-attr]


def test_gains_never_create_a_credit() -> None:
    # A long call gains in most scenarios; the requirement is never negative.
    acct = _one(("BTC-27MAR26-110000-C", 3.0))
    assert acct.pools[0].components["worst_case"] >= 0.0


def test_zero_quantity_position_changes_nothing() -> None:
    base = _one(("BTC-27MAR26-110000-C", -1.0), ("BTC-PERPETUAL", 0.3))
    with_zero = _one(("BTC-27MAR26-110000-C", -1.0), ("BTC-PERPETUAL", 0.3), ("BTC-27MAR26", 0.0))
    assert with_zero.initial_margin_usd == pytest.approx(base.initial_margin_usd, rel=1e-15)


@settings(max_examples=40, deadline=None)
@given(k=st.floats(min_value=0.05, max_value=3.0))
def test_scaling_the_portfolio_scales_the_scenario_risk(k: float) -> None:
    pos = [("BTC-27MAR26-110000-C", -1.0), ("BTC-27MAR26-90000-P", 0.5), ("BTC-PERPETUAL", 0.2)]
    base = _one(*pos).pools[0].components["worst_case"]
    scaled = _one(*[(n, q * k) for n, q in pos]).pools[0].components["worst_case"]
    assert scaled == pytest.approx(k * base, rel=1e-9)


def test_book_equals_accounts_margined_one_by_one() -> None:
    rng = np.random.default_rng(7)
    names = [
        "BTC-PERPETUAL",
        "ETH-PERPETUAL",
        "BTC_USDC-PERPETUAL",
        "BTC-27MAR26",
        "BTC-27MAR26-110000-C",
        "BTC-27MAR26-90000-P",
        "ETH-27MAR26-4000-C",
    ]
    pfs = [
        portfolio(f"a{i}", *[(n, float(rng.normal())) for n in rng.choice(names, 3, False)])
        for i in range(25)
    ]
    for params in (PARAMS, XPM):
        together = margin_book(Book.from_portfolios(pfs), market(), params, detail=Detail.TOTALS)
        alone = [
            margin_book(Book.from_portfolios([p]), market(), params, detail=Detail.TOTALS)
            for p in pfs
        ]
        np.testing.assert_allclose(
            together.initial_margin_usd, [r.initial_margin_usd[0] for r in alone], rtol=1e-12
        )


def test_cross_mode_values_coin_losses_at_the_scenario_price() -> None:
    seg = _one(("BTC-PERPETUAL", 1.0))
    cross = _one(("BTC-PERPETUAL", 1.0), params=XPM)
    worst_coin = seg.pools[0].components["worst_case"]
    assert cross.pools[0].currency == "USD"
    assert cross.pools[0].components["worst_case"] == pytest.approx(worst_coin * BTC * 0.84)


def test_cross_mode_offsets_a_correlated_hedge(tmp_path: Path) -> None:
    legs = [("BTC_USDC-PERPETUAL", 1.0), ("ETH-PERPETUAL", -BTC / ETH)]
    pair = _one(*legs, params=XPM).pools[0].components["worst_case"]
    btc = _one(legs[0], params=XPM).pools[0].components["worst_case"]
    eth = _one(legs[1], params=XPM).pools[0].components["worst_case"]
    assert pair < btc + eth  # a hedged pair needs less than the sum of its legs
    rho = XPM.correlation_of(("BTC", "ETH"))[0, 1]
    assert pair == pytest.approx(np.sqrt(btc**2 + eth**2 - 2 * rho * btc * eth), rel=1e-12)
    # Uncorrelated: never less than the worst single leg.
    override = tmp_path / "uncorrelated.toml"
    override.write_text(
        'mode = "cross"\n[correlation]\nassets = ["BTC", "ETH"]\n'
        "matrix = [[1.0, 0.0], [0.0, 1.0]]\n"
    )
    zero = _one(*legs, params=load_params(str(override))).pools[0].components["worst_case"]
    assert zero == pytest.approx(np.hypot(btc, eth), rel=1e-12)
    assert zero >= max(btc, eth)


def test_combine_by_correlation_edge_cases() -> None:
    corr = np.array([[1.0, 0.8], [0.8, 1.0]])
    losses = np.array([[3.0, 4.0], [3.0, 4.0], [3.0, 0.0]])
    dirs = np.array([[-1.0, -1.0], [-1.0, 0.0], [1.0, 0.0]])
    out = combine_by_correlation(losses, dirs, corr)
    same = np.sqrt(9 + 16 + 2 * 0.8 * 12)
    np.testing.assert_allclose(out, [same, same, 3.0])


def test_parameter_files_are_validated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[common]\nmm_factor = 7.0\n")
    with pytest.raises(SolventInputError, match=r"params\.common\.mm_factor"):
        load_params(str(bad))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[common]\nno_such_field = 1\n")
    with pytest.raises(SolventInputError, match=r"params\.common\.no_such_field: unknown field"):
        load_params(str(unknown))
    with pytest.raises(SolventInputError, match="unknown parameter set"):
        load_params("no-such-set")


def test_result_names_the_parameter_set() -> None:
    assert _one(("BTC-PERPETUAL", 1.0)).parameters == "deribit-pm@2026-02"


def test_shipped_correlation_is_reproduced_from_the_shipped_history() -> None:
    """The cross-mode matrix in the parameter file is the Pearson correlation of the embedded
    daily closes over the 1,095 joint returns to 2026-05-20 (solvent correlation)."""
    from solvent.market.history import embedded_price_history
    from solvent.scenarios.correlation import correlation_report

    report = correlation_report(embedded_price_history(), XPM.correlation_assets, window_days=1095)
    np.testing.assert_allclose(report.plain, XPM.correlation, atol=5e-5)


@pytest.mark.parametrize(
    "positions",
    [
        # two underlyings in the USDC pool: their worst losses add up
        (("BTC_USDC-PERPETUAL", 1.0), ("ETH_USDC-PERPETUAL", -10.0)),
        # the extended table binds: contributions share its scaling and dampening pro rata
        (("BTC-PERPETUAL", 1000.0), ("BTC-27MAR26-110000-C", -5.0)),
    ],
)
def test_explain_contributions_add_up_to_the_worst_case(
    positions: tuple[tuple[str, float], ...],
) -> None:
    m = market([{"name": "ETH_USDC-PERPETUAL", "mark_price": ETH}])
    book = Book.from_portfolios([portfolio("a", *positions)])
    detail = margin_book(book, m, PARAMS, detail=Detail.EXPLAIN).detail
    assert detail is not None
    (pool,) = detail[0].pools
    total = sum(c.pnl for c in pool.contributions or ())  # type: ignore[misc]
    assert -total == pytest.approx(pool.components["worst_case"], rel=1e-12)
    assert len(pool.contributions or ()) == len(positions)


def test_correlation_shares_are_the_euler_allocation() -> None:
    rng = np.random.default_rng(7)
    losses = rng.uniform(0.0, 1000.0, size=(50, 3))
    losses[0] = 0.0  # nothing to allocate: factor 1
    dirs = rng.choice([-1.0, 0.0, 1.0], size=(50, 3))
    corr = np.array([[1.0, 0.8, -0.3], [0.8, 1.0, 0.5], [-0.3, 0.5, 1.0]])
    total = combine_by_correlation(losses, dirs, corr)
    factor = correlation_shares(losses, dirs, corr, total)
    np.testing.assert_allclose((losses * factor).sum(axis=1), total, rtol=1e-12, atol=1e-9)
    assert np.all(factor[0] == 1.0)
    h = 1e-4
    for u in range(3):  # the factor is d(total)/d(L_u), by central differences
        up, down = losses.copy(), losses.copy()
        up[:, u] += h
        down[:, u] -= h
        fd = combine_by_correlation(up, dirs, corr) - combine_by_correlation(down, dirs, corr)
        np.testing.assert_allclose(factor[1:, u], fd[1:] / (2 * h), rtol=1e-6, atol=1e-8)
