"""``entry_price`` (docs/formats.md 2): parsed and validated, carried by the account and sparse
books, and in the one equity definition (unrealized P&L since entry per settlement type)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import BTC, market
from solvent.accounts.equity import book_equity
from solvent.accounts.service import AccountService, MarketFreshness, unit_portfolio
from solvent.cli.main import app
from solvent.collateral.valuation import value_collateral
from solvent.engine.margin import margin_portfolios
from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.margin.protocol import PricedMarket
from solvent.portfolio.account_book import AccountBook, parse_account_book
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import (
    Portfolio,
    Position,
    SubAccountMode,
    parse_portfolio_or_book,
)
from solvent.stress.apply import stress_book
from solvent.stress.library import StressKind, StressScenario

CALL = "BTC-27MAR26-110000-C"


def _raw(*positions: dict[str, Any], **collateral: float) -> dict[str, Any]:
    return {"account": "a", "collateral": dict(collateral), "positions": list(positions)}


def test_entry_price_is_parsed_by_both_loaders() -> None:
    raw = _raw(
        {"instrument": "BTC-PERPETUAL", "quantity": 2, "entry_price": 90_000},
        {"instrument": CALL, "quantity": -1.0},
        BTC=1.0,
    )
    (pf,), _ = parse_portfolio_or_book(raw)
    assert pf.positions == (
        Position("BTC-PERPETUAL", 2.0, 90_000.0),
        Position(CALL, -1.0, None),
    )
    fast, _ = parse_account_book(raw)
    assert fast.position_entry_price is not None
    assert fast.position_entry_price[0] == 90_000.0 and math.isnan(fast.position_entry_price[1])
    assert fast.portfolios() == [pf]
    assert AccountBook.from_portfolios([pf]).portfolios() == [pf]


def test_without_entry_price_nothing_is_carried() -> None:
    raw = _raw({"instrument": "BTC-PERPETUAL", "quantity": 2}, BTC=1.0)
    accounts, _ = parse_account_book(raw)
    assert accounts.position_entry_price is None
    assert accounts.account_book().entry is None


@pytest.mark.parametrize(
    "value", [0, -1.0, "90000", True, None, float("nan"), float("inf"), 1e13, [1], 10**400]
)
def test_a_bad_entry_price_is_refused_naming_the_field(value: object) -> None:
    raw = _raw(
        {"instrument": "BTC-PERPETUAL", "quantity": 1},
        {"instrument": "BTC-PERPETUAL", "quantity": 1, "entry_price": value},
    )
    with pytest.raises(SolventInputError) as slow:
        parse_portfolio_or_book(raw)
    with pytest.raises(SolventInputError) as fast:
        parse_account_book(raw)
    assert slow.value.field == fast.value.field == "portfolio.positions[1].entry_price"


def test_an_unknown_position_field_is_still_refused() -> None:
    raw = _raw({"instrument": "BTC-PERPETUAL", "quantity": 1, "entry": 5.0})
    with pytest.raises(SolventInputError, match="must be") as err:
        parse_account_book(raw)
    assert err.value.field == "portfolio.positions[0]"


def test_repeated_positions_add_their_entry_costs() -> None:
    pf = Portfolio(
        "a",
        {},
        (
            Position("BTC-PERPETUAL", 1.0, 100.0),
            Position("BTC-PERPETUAL", -1.0, 110.0),
            Position("BTC-PERPETUAL", 3.0),
            Position("ETH-PERPETUAL", 2.0, 50.0),
        ),
    )
    book = Book.from_portfolios([pf])
    assert book.entry is not None
    assert book.quantities.toarray().tolist() == [[3.0, 2.0]]
    assert book.entry.quantity.toarray().tolist() == [[0.0, 2.0]]
    assert book.entry.cost.toarray().tolist() == [[-10.0, 100.0]]
    assert book.slice(0, 1).entry is not None


def _equity(pf: Portfolio, **index: float) -> float:
    (report,) = margin_portfolios([pf], market(**index), "standard")
    return report.equity_usd


@pytest.mark.parametrize("entry", [80_000.0, 100_000.0, 123_456.0])
def test_linear_perpetual_adds_its_usd_pnl(entry: float) -> None:
    m = market()
    mark = m.quote("BTC_USDC-PERPETUAL").mark_price
    q = 1.5
    pf = Portfolio("a", {"USDC": 50_000.0}, (Position("BTC_USDC-PERPETUAL", q, entry),))
    expected = value_collateral({"USDC": 50_000.0 + q * (mark - entry)}, m).value_usd
    assert _equity(pf) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("q", [-2.0, 0.75])
def test_inverse_perpetual_adds_its_coin_pnl(q: float) -> None:
    m = market(BTC=95_000.0)
    entry = 100_000.0
    pf = Portfolio("a", {"BTC": 1.0}, (Position("BTC-PERPETUAL", q, entry),))
    coin = q * (1.0 - entry / 95_000.0)  # USD P&L q (M - E) paid in coin at M
    expected = value_collateral({"BTC": 1.0 + coin}, m).value_usd
    assert _equity(pf, BTC=95_000.0) == pytest.approx(expected, rel=1e-12)


def test_an_option_entry_price_does_not_change_equity() -> None:
    plain = Portfolio("a", {"BTC": 1.0}, (Position(CALL, -2.0),))
    entered = Portfolio("a", {"BTC": 1.0}, (Position(CALL, -2.0, 0.05),))
    assert _equity(entered) == _equity(plain)


def test_entry_at_the_mark_changes_nothing() -> None:
    m = market()
    mark = m.quote("BTC-27MAR26").mark_price
    plain = Portfolio("a", {"BTC": 1.0}, (Position("BTC-27MAR26", 3.0),))
    at_mark = Portfolio("a", {"BTC": 1.0}, (Position("BTC-27MAR26", 3.0, mark),))
    assert _equity(at_mark) == pytest.approx(_equity(plain), abs=1e-9)


def test_cross_subaccounts_net_their_entry_costs() -> None:
    parent = Portfolio("p", {"USDC": 10_000.0}, (Position("BTC_USDC-PERPETUAL", 1.0, 90_000.0),))
    child = Portfolio(
        "c",
        {},
        (Position("BTC_USDC-PERPETUAL", -1.0, 95_000.0),),
        parent="p",
        mode=SubAccountMode.CROSS,
    )
    reports = list(margin_portfolios([parent, child], market(), "standard"))
    # netted flat, 5,000 USD realized between the two legs
    expected = value_collateral({"USDC": 15_000.0}, market()).value_usd
    assert reports[0].equity_usd == pytest.approx(expected, rel=1e-12)
    assert reports[1].equity_usd == reports[0].equity_usd


def test_book_equity_takes_the_entry_of_the_book() -> None:
    pf = Portfolio("a", {"BTC": 1.0}, (Position("BTC-PERPETUAL", 2.0, 90_000.0),))
    book = Book.from_portfolios([pf])
    priced = PricedMarket.resolve(market(), book.instruments)
    without = book_equity([[1.0]], ["BTC"], book.quantities, priced).equity_usd[0]
    with_entry = book_equity([[1.0]], ["BTC"], book.quantities, priced, entry=book.entry)
    assert with_entry.equity_usd[0] > without
    assert with_entry.collateral_value_usd[0] == pytest.approx(without)


def test_stress_starts_from_the_equity_with_entry() -> None:
    pf = Portfolio("a", {"USDC": 20_000.0}, (Position("BTC-PERPETUAL", 1.0, 80_000.0),))
    m = market()
    scenario = StressScenario("crash", StressKind.HYPOTHETICAL, "BTC -30 %", {"BTC": -0.3})
    (res,) = stress_book([pf], m, [scenario])
    assert res.equity_usd[0] == pytest.approx(_equity(pf), rel=1e-12)
    # after the move, the position is worth q (1 - E / P1) coin at P1, i.e. q (P1 - E) USD: the
    # gross change from the equity is q (P1 - M)
    p1 = BTC * (1.0 + scenario.move("BTC"))
    usdc = 20_000.0 * scenario.stable_price("USDC")
    assert res.equity_after_usd[0] == pytest.approx(
        usdc - 20_000.0 + res.equity_usd[0] + (p1 - BTC), rel=1e-9
    )


def test_margin_cli_reports_the_equity_with_entry(tmp_path: Path) -> None:
    mpath = tmp_path / "market.json"
    mpath.write_text(json.dumps(_market_json()))
    out = []
    for entry in ({}, {"entry_price": 90_000.0}):
        pos = {"instrument": "BTC_USDC-PERPETUAL", "quantity": 1.0} | entry
        ppath = tmp_path / "p.json"
        ppath.write_text(json.dumps(_raw(pos, USDC=20_000.0)))
        result = CliRunner().invoke(app, ["margin", str(ppath), "--market", str(mpath)])
        assert result.exit_code == 0, result.output
        out.append(json.loads(result.stdout))
    gain = out[1]["equity_usd"] - out[0]["equity_usd"]
    assert gain == pytest.approx(10_000.0 * _usdc_value_ratio(), rel=1e-9)
    assert out[1]["margin_ratio"] < out[0]["margin_ratio"]


def _usdc_value_ratio() -> float:
    m = market()
    return value_collateral({"USDC": 1.0}, m).value_usd


def _market_json() -> dict[str, Any]:
    return {
        "as_of": "2026-01-05T08:00:00Z",
        "index": {"BTC": BTC, "USDC": 1.0},
        "instruments": [{"name": "BTC_USDC-PERPETUAL", "mark_price": BTC}],
    }


def test_the_ledger_unit_as_a_portfolio_has_the_health_equity(tmp_path: Path) -> None:
    m = market()
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}")
    service = AccountService(
        ledger,
        lambda p, mk, model: margin_portfolios([p], mk, model)[0].margin,
        freshness=MarketFreshness(clock=lambda: m.as_of),
    )
    service.create("a")
    service.create("b", parent="a", mode=SubAccountMode.CROSS)
    service.deposit("@venue", "BTC", "10")
    service.deposit("@venue", "USDC", "1000000")
    service.deposit("a", "BTC", "1")
    service.deposit("b", "USDC", "50000")
    service.trade("a", "BTC-PERPETUAL", "2", "98000", m)
    service.trade("b", "BTC-PERPETUAL", "-1", "101000", m)
    service.trade("b", "BTC_USDC-PERPETUAL", "0.5", "99500", m)
    service.trade("a", CALL, "-1", str(m.quote(CALL).mark_price), m)
    with ledger.transaction() as tx:
        ids = ["a", "b"]
        pf = unit_portfolio("a", tx.balances(ids), tx.positions(ids), m, ledger.assets)
    entries = sorted(p.entry_price or 0.0 for p in pf.positions)
    assert entries == pytest.approx(
        sorted([98_000.0, 101_000.0, 99_500.0, m.quote(CALL).mark_price]), rel=1e-12
    )
    health = service.show("a", m).health
    (report,) = margin_portfolios([pf], m, "standard")
    assert report.equity_usd == pytest.approx(health.equity_usd, rel=1e-12)
    assert report.margin.maintenance_margin_usd == pytest.approx(
        health.maintenance_margin_usd, rel=1e-12
    )
    assert service.portfolio("b", m) == (pf, "standard")
    btc = service.show("a", m).balances["BTC"] + service.show("b", m).balances.get("BTC", 0)
    assert Decimal(repr(pf.collateral["BTC"])) == Decimal(btc) / 10**8
