"""The one definition of equity (docs/glossary.md): positions marked into their settlement assets,
then valued with the collateral (haircuts on what is held, debts in full); the same in
``solvent margin``, the ledger's account health and ``solvent stress``."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from helpers import BTC, ETH, market, portfolio
from solvent.accounts.equity import book_equity, position_value_usd, unit_value_usd
from solvent.accounts.service import position_value
from solvent.collateral.valuation import value_collateral
from solvent.engine.margin import margin_portfolios
from solvent.ledger.model import PositionState
from solvent.margin.protocol import PricedMarket
from solvent.market.history import embedded_price_history
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio
from solvent.stress.apply import stress_book
from solvent.stress.library import StressScenario, stress_library

CALL = "BTC-27MAR26-110000-C"  # inverse: mark in BTC
LINEAR = "BTC_USDC-27MAR26-100000-C"  # linear: mark in USDC


def test_equity_values_options_in_their_settlement_asset_with_the_collateral() -> None:
    m = market([{"name": LINEAR, "mark_iv": 0.5}])
    pf = portfolio("a", (CALL, -2.0), (LINEAR, 3.0), ("BTC-PERPETUAL", 5.0), BTC=1.5, USDC=1e4)
    book = Book.from_portfolios([pf])
    priced = PricedMarket.resolve(m, book.instruments)
    equity = book_equity([[1.5, 1e4]], ["BTC", "USDC"], book.quantities, priced)
    inverse_mark = m.quote(CALL).mark_price  # BTC per option
    linear_mark = m.quote(LINEAR).mark_price  # USDC per option
    # the short inverse call is a BTC amount, the long linear call a USDC one; the perpetual adds
    # nothing (no entry price); then the marked balances are valued with haircuts
    marked = {"BTC": 1.5 - 2.0 * inverse_mark, "USDC": 1e4 + 3.0 * linear_mark}
    expected = value_collateral(marked, m)
    assert equity.equity_usd[0] == pytest.approx(expected.value_usd, rel=1e-12)
    assert (
        equity.collateral_value_usd[0] == value_collateral({"BTC": 1.5, "USDC": 1e4}, m).value_usd
    )
    assert equity.position_value_usd[0] == pytest.approx(
        -2.0 * inverse_mark * BTC + 3.0 * linear_mark, rel=1e-12
    )


def test_a_short_option_beyond_the_balance_is_a_debt_in_full() -> None:
    m = market()
    pf = portfolio("a", (CALL, -10.0), USDC=1e5)
    book = Book.from_portfolios([pf])
    priced = PricedMarket.resolve(m, book.instruments)
    equity = book_equity([[1e5]], ["USDC"], book.quantities, priced)
    debt = 10.0 * m.quote(CALL).mark_price * BTC  # BTC owed, no haircut benefit
    assert equity.equity_usd[0] == pytest.approx(
        value_collateral({"USDC": 1e5}, m).value_usd - debt, rel=1e-12
    )


def test_the_ledger_health_uses_the_same_equity() -> None:
    """``AccountService`` marks each position into its settlement asset (``position_value``) and
    values the result: the same number as :func:`book_equity` for the same holdings."""
    m = market([{"name": LINEAR, "mark_iv": 0.5}])
    holdings = {"BTC": 0.7, "USDC": 2_500.0}
    positions = [(CALL, -1.5), (LINEAR, 2.0), ("BTC-27MAR26-90000-P", 0.5)]
    marked = dict(holdings)
    for name, q in positions:
        state = PositionState(name, Decimal(repr(q)), Decimal(0), Decimal(0), "")
        asset, amount = position_value(state, m)
        marked[asset] = marked.get(asset, 0.0) + amount
    ledger_equity = value_collateral(marked, m).value_usd
    pf = portfolio("a", *positions, **holdings)
    (report,) = margin_portfolios([pf], m, "standard")
    assert report.equity_usd == pytest.approx(ledger_equity, rel=1e-12)


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
