"""``--model span`` with risk arrays computed from the market, by hand."""

from __future__ import annotations

import pytest

from helpers import market, portfolio
from solvent.margin.protocol import Detail
from solvent.margin.protocol import margin_book as protocol_margin_book
from solvent.margin.result import BookMargin
from solvent.margin.span.model import MAINTENANCE_TO_INITIAL, MODEL
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book


def margin_book(book: Book, snapshot: MarketSnapshot) -> BookMargin:
    return protocol_margin_book(MODEL, book, snapshot, detail=Detail.ACCOUNTS)


def _pool(*positions: tuple[str, float]):  # type: ignore[no-untyped-def]
    result = margin_book(Book.from_portfolios([portfolio("a", *positions)]), market())
    assert result.detail is not None
    (pool,) = result.detail[0].pools
    return pool


def test_inverse_future_scan_risk_is_the_closed_form() -> None:
    pool = _pool(("BTC-PERPETUAL", 2.0))
    # worst of a 15 % fall (1/0.85 - 1) and 35 % of a 30 % fall (0.35 * (1/0.7 - 1)), per coin
    scan = 2.0 * max(1 / 0.85 - 1, 0.35 * (1 / 0.7 - 1))
    assert pool.components["scan_risk"] == pytest.approx(scan, rel=1e-12)
    assert pool.maintenance_margin == pytest.approx(scan, rel=1e-12)
    assert pool.initial_margin == pytest.approx(MAINTENANCE_TO_INITIAL * scan, rel=1e-12)


def test_calendar_spread_pays_the_intra_commodity_charge() -> None:
    m = market()
    t = m.quote("BTC-27MAR26").time_to_expiry
    pool = _pool(("BTC-PERPETUAL", 5.0), ("BTC-27MAR26", -5.0))
    assert pool.components["scan_risk"] == pytest.approx(0.0, abs=1e-12)
    # 5 coin of delta spread between tier 1 (perpetual) and tier 2 (March)
    charge = 5.0 * max(0.005, 0.0375 * t)
    assert pool.components["intra_spread_charge"] == pytest.approx(charge, rel=1e-9)
    assert pool.maintenance_margin == pytest.approx(charge, rel=1e-9)


def test_linear_pool_is_in_usd() -> None:
    pool = _pool(("BTC_USDC-PERPETUAL", -1.0))
    assert pool.currency == "USDC"
    assert pool.components["scan_risk"] == pytest.approx(0.15 * 100_000.0, rel=1e-12)


def test_short_option_minimum_binds_for_a_far_otm_short_option() -> None:
    far = {"name": "BTC-27MAR26-400000-C", "mark_iv": 0.5}
    result = margin_book(
        Book.from_portfolios([portfolio("a", ("BTC-27MAR26-400000-C", -1.0))]), market([far])
    )
    assert result.detail is not None
    c = result.detail[0].pools[0].components
    assert c["short_option_minimum_excess"] > 0.0
    assert result.detail[0].pools[0].maintenance_margin == pytest.approx(0.005, rel=1e-9)
