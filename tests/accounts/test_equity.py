"""The one definition of equity (docs/glossary.md): haircut collateral + mark-to-market of options,
the same in ``solvent margin`` and ``solvent stress``."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import BTC, ETH, market, portfolio
from solvent.accounts.equity import book_equity, position_value_usd, unit_value_usd
from solvent.collateral.valuation import value_collateral
from solvent.engine.margin import margin_portfolios
from solvent.margin.protocol import PricedMarket
from solvent.market.history import embedded_price_history
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio
from solvent.stress.apply import stress_book
from solvent.stress.library import StressScenario, stress_library

CALL = "BTC-27MAR26-110000-C"  # inverse: mark in BTC
LINEAR = "BTC_USDC-27MAR26-100000-C"  # linear: mark in USDC


def test_equity_is_haircut_collateral_plus_option_marks_at_the_index() -> None:
    m = market([{"name": LINEAR, "mark_iv": 0.5}])
    pf = portfolio("a", (CALL, -2.0), (LINEAR, 3.0), ("BTC-PERPETUAL", 5.0), BTC=1.5, USDC=1e4)
    book = Book.from_portfolios([pf])
    priced = PricedMarket.resolve(m, book.instruments)
    equity = book_equity([[1.5, 1e4]], ["BTC", "USDC"], book.quantities, priced)
    inverse_mark = m.quote(CALL).mark_price  # BTC per option
    linear_mark = m.quote(LINEAR).mark_price  # USDC per option
    options = -2.0 * inverse_mark * BTC + 3.0 * linear_mark  # the perpetual adds nothing
    haircut = value_collateral({"BTC": 1.5, "USDC": 1e4}, m).value_usd
    assert haircut < 1.5 * BTC + 1e4  # the haircut applies
    assert equity.position_value_usd[0] == pytest.approx(options, rel=1e-12)
    assert equity.equity_usd[0] == pytest.approx(haircut + options, rel=1e-12)
    assert equity.collateral_value_usd[0] == haircut


def test_contract_size_scales_the_option_value() -> None:
    big = {
        "name": "BIG-C",
        "kind": "option",
        "underlying": "ETH",
        "settlement": "linear",
        "expiry": "2026-03-27T08:00:00Z",
        "strike": 4000.0,
        "option_type": "call",
        "mark_iv": 0.6,
        "forward": ETH,
        "contract_size": 10.0,
    }
    m = market([big])
    priced = PricedMarket.resolve(m, ["BIG-C"])
    unit = unit_value_usd(priced)
    assert unit[0] == pytest.approx(10.0 * m.quote("BIG-C").mark_price, rel=1e-12)
    assert position_value_usd(np.array([[2.0]]), priced)[0] == pytest.approx(2 * unit[0])


def test_margin_reports_this_equity() -> None:
    m = market([{"name": LINEAR, "mark_iv": 0.5}])
    pfs = [
        portfolio("a", (CALL, -1.0), (LINEAR, 2.0), BTC=2.0, USDC=5_000.0),
        portfolio("b", ("BTC-PERPETUAL", 1.0), USDC=-1_000.0, BTC=0.1),
        portfolio("c"),
    ]
    reports = list(margin_portfolios(pfs, m, "standard"))
    book = Book.from_portfolios(pfs)
    priced = PricedMarket.resolve(m, book.instruments)
    bal = [[p.collateral.get(s, 0.0) for s in ("BTC", "USDC")] for p in pfs]
    equity = book_equity(bal, ["BTC", "USDC"], book.quantities, priced)
    assert [r.equity_usd for r in reports] == equity.equity_usd.tolist()
    assert [r.option_value_usd for r in reports] == equity.position_value_usd.tolist()


def _stress_and_margin(
    pfs: list[Portfolio], scenario: StressScenario
) -> tuple[list[float], list[float]]:
    m = market([{"name": LINEAR, "mark_iv": 0.5}])
    (res,) = stress_book(pfs, m, [scenario])
    reports = margin_portfolios(pfs, m, "standard")
    return res.equity_usd.tolist(), [r.equity_usd for r in reports]


def test_stress_and_margin_report_the_same_equity() -> None:
    pfs = [
        portfolio("a", (CALL, -1.0), (LINEAR, 2.0), BTC=2.0, USDC=5_000.0),
        portfolio("b", ("BTC-PERPETUAL", 1.0), USDC=20_000.0),
    ]
    scenario = stress_library(embedded_price_history())["crash-40-vol-x2"]
    stressed, margined = _stress_and_margin(pfs, scenario)
    assert stressed == pytest.approx(margined, rel=1e-12)
