"""``--model simm``: a crypto book as CRIF sensitivities, margined with ISDA SIMM."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import BTC, market, portfolio
from solvent.margin.protocol import Detail
from solvent.margin.protocol import margin_book as one_shot
from solvent.margin.result import BookMargin
from solvent.margin.simm.book_crif import TENOR_YEARS, BookSensitivities, tenor_weights
from solvent.margin.simm.calibration import load_calibration
from solvent.margin.simm.margin_model import MODEL
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book


def margin_book(
    book: Book, snapshot: MarketSnapshot, params: str | None = None, *, explain: bool = False
) -> BookMargin:
    """The simm model, one shot, with every account's detail."""
    detail = Detail.EXPLAIN if explain else Detail.ACCOUNTS
    return one_shot(MODEL, book, snapshot, params, detail=detail)


def test_tenor_weights_split_linearly_and_sum_to_one() -> None:
    t = np.array([0.001, 14 / 365, 0.375, 1.0, 50.0])
    w = tenor_weights(t)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert w[0, 0] == 1.0 and w[1, 0] == 1.0 and w[4, -1] == 1.0  # clamped at the ends
    assert w[2, 2] == pytest.approx(0.5) and w[2, 3] == pytest.approx(0.5)  # 3m..6m midpoint
    assert w[3, 4] == pytest.approx(1.0)
    np.testing.assert_allclose(w @ TENOR_YEARS, [14 / 365, 14 / 365, 0.375, 1.0, 30.0])


def test_delta_sensitivity_is_one_percent_of_the_usd_delta() -> None:
    book = Book.from_portfolios(
        [portfolio("a", ("BTC-PERPETUAL", 2.0), ("BTC_USDC-PERPETUAL", -0.5))]
    )
    sens = BookSensitivities(book, market())
    assert sens.underlyings == ("BTC",)
    assert sens.delta[0, 0] == pytest.approx(0.01 * 1.5 * BTC)
    assert not sens.vega.any()


def test_single_delta_is_risk_weight_times_sensitivity() -> None:
    calibration = load_calibration("2.6-crypto", 1)
    rw = float(calibration.commodity.delta_rw[calibration.commodity.buckets.index("1")])
    result = margin_book(Book.from_portfolios([portfolio("a", ("BTC-PERPETUAL", 1.0))]), market())
    assert result.initial_margin_usd[0] == pytest.approx(rw * 0.01 * BTC, rel=1e-12)
    assert result.maintenance_margin_usd[0] == pytest.approx(0.8 * rw * 0.01 * BTC, rel=1e-12)


def test_euler_shares_add_up_to_the_margin() -> None:
    pf = portfolio(
        "a", ("BTC-27MAR26-110000-C", -2.0), ("BTC-27MAR26-90000-P", 1.0), ("ETH-PERPETUAL", 3.0)
    )
    result = margin_book(Book.from_portfolios([pf]), market(), explain=True)
    assert result.detail is not None
    (pool,) = result.detail[0].pools
    shares = [c.initial_margin for c in pool.contributions or ()]
    assert sum(shares) == pytest.approx(pool.initial_margin, rel=1e-6)  # type: ignore[arg-type]
    c = pool.components
    assert pool.initial_margin == pytest.approx(
        c["delta"] + c["vega"] + c["curvature"] + c["other_risk_classes"], rel=1e-12
    )
    assert c["vega"] > 0 and c["curvature"] >= 0


def test_ten_day_parameter_set() -> None:
    pf = [portfolio("a", ("BTC-PERPETUAL", 1.0))]
    one = margin_book(Book.from_portfolios(pf), market()).initial_margin_usd[0]
    ten = margin_book(Book.from_portfolios(pf), market(), "simm-crypto-10d").initial_margin_usd[0]
    assert ten > one
