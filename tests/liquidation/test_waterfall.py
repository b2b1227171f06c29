"""The loss waterfall end to end, numbers by hand: insurance fund, then ADL of opposite
positions in profit at the bankruptcy price (never below their MM), then socialized loss."""

from __future__ import annotations

from typing import Any

import pytest

from solvent.engine.liquidation import liquidate_accounts
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.outcome import Action, TransferReason
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import parse_account_book

PERP = "BTC_USDC-PERPETUAL"


def _acct(name: str, usdc: float, qty: float, entry: float) -> dict[str, Any]:
    return {
        "account": name,
        "collateral": {"USDC": usdc},
        "positions": [{"instrument": PERP, "quantity": qty, "entry_price": entry}],
    }


def _book(*accounts: dict[str, Any]) -> Any:
    return parse_account_book({"accounts": list(accounts)})[0]


# broke: long 2 from 110,000 at a mark of 100,000 with 1,000 USDC: equity -19,000
BROKE = _acct("broke", 1_000.0, 2.0, 110_000.0)


def test_fund_then_adl_in_bitmex_order_within_maintenance_margin(market: MarketSnapshot) -> None:
    book = _book(
        BROKE,
        _acct("s1", 50_000.0, -1.0, 120_000.0),  # +20,000, low leverage: score 0.238
        _acct("s2", 5_000.0, -3.0, 105_000.0),  # +15,000, leverage 15: score 0.714, first
        _acct("l1", 5_000.0, 1.0, 90_000.0),  # same side as broke: never deleveraged
    )
    out = liquidate_accounts(book, market, insurance_fund_usd=1_000.0)
    broke = out.accounts[0]
    assert broke.action is Action.BANKRUPT
    assert broke.deficit_usd == pytest.approx(19_000.0)
    (close,) = broke.steps
    assert close.price == pytest.approx(109_500.0)  # 100,000 + 19,000 / 2
    assert broke.insurance_covered_usd == pytest.approx(1_000.0)
    # 18,000 left: 18/19 of the 2 BTC (1.8947) deleveraged at 109,500 (9,500 a BTC)
    fills = {(f.account, round(f.quantity, 6)) for f in out.adl}
    # s2 first; 3 BTC would take it below its MM, 1.5 BTC (half) keeps it above: capacity 1.5
    assert fills == {("s2", 1.5), ("s1", round(2 * 18 / 19 - 1.5, 6))}
    assert all(f.price == pytest.approx(109_500.0) and f.against == "broke" for f in out.adl)
    assert broke.adl_covered_usd == pytest.approx(18_000.0, abs=0.01)
    assert broke.socialized_usd == 0.0 and out.socialized_loss_usd == 0.0
    assert out.insurance_fund.end_usd == pytest.approx(0.0, abs=1e-6)
    assert all(v == 0 for v in out.conservation.values())
    # the counterparties keep their maintenance margin; l1 and healthy accounts untouched
    assert [a.action for a in out.accounts[1:]] == [Action.NONE] * 3


def test_what_adl_cannot_cover_is_socialized_by_profit(market: MarketSnapshot) -> None:
    book = _book(
        BROKE,
        _acct("s1", 10_000.0, -0.5, 110_000.0),  # +5,000: deleveraged whole (4,750)
        _acct("l1", 100_000.0, 1.0, 80_000.0),  # +20,000 of profit, pays 3/4 of the rest
        _acct("l2", 100_000.0, 1.0, 93_333.3333),  # +6,666.67, pays 1/4
        _acct("flat", 1e6, 0.0001, 100_000.0),  # no profit: pays nothing
    )
    out = liquidate_accounts(book, market)
    broke = out.accounts[0]
    assert broke.insurance_covered_usd == 0.0
    assert broke.adl_covered_usd == pytest.approx(0.5 * 9_500.0, abs=0.01)
    rest = 19_000.0 - 4_750.0
    assert broke.socialized_usd == pytest.approx(rest, abs=0.01)
    paid = {c.account: c.amount_usd for c in out.socialized}
    assert set(paid) == {"l1", "l2"}
    assert paid["l1"] == pytest.approx(rest * 0.75, abs=0.01)
    assert paid["l2"] == pytest.approx(rest * 0.25, abs=0.01)
    assert out.socialized_loss_usd == pytest.approx(rest, abs=0.01)
    social = [t for t in out.transfers if t.reason is TransferReason.SOCIALIZED_LOSS]
    assert sum(t.units for t in social) == sum(c.units for c in out.socialized)
    assert all(v == 0 for v in out.conservation.values())


def test_socialized_by_equity(market: MarketSnapshot) -> None:
    book = _book(BROKE, _acct("a", 30_000.0, 0.0001, 100_000.0), _acct("b", 10_000.0, 0.0001, 1.0))
    out = liquidate_accounts(book, market, config=LiquidationConfig(socialize_basis="equity"))
    paid = {c.account: c.amount_usd for c in out.socialized}
    # equity 30,000 and 10,000 + 9.9999 of profit: 3 to 1 (to the cent)
    assert paid["a"] / paid["b"] == pytest.approx(30_000.0 / 10_010.0, rel=1e-3)
    assert sum(paid.values()) == pytest.approx(19_000.0, abs=0.01)


def test_a_payer_without_cash_is_not_charged_its_long_options_value(
    market: MarketSnapshot,
) -> None:
    """A socialized charge is paid in cash: a unit whose equity and profit are long options only
    (no balance at all) is charged nothing, whatever they are worth (the ledger could take
    nothing from it: the demo's crash once died on such a long straddle); the others pay."""
    calls = {
        "account": "calls",
        "collateral": {},
        "positions": [
            {"instrument": "BTC-27MAR26-110000-C", "quantity": 10.0, "entry_price": 1e-4}
        ],
    }
    book = _book(BROKE, calls, _acct("l1", 100_000.0, 1.0, 80_000.0))
    out = liquidate_accounts(book, market)
    paid = {c.account: c.amount_usd for c in out.socialized}
    assert set(paid) == {"l1"}
    assert paid["l1"] == pytest.approx(19_000.0, abs=0.01)
    assert out.accounts[0].socialized_usd == pytest.approx(19_000.0, abs=0.01)
    assert all(v == 0 for v in out.conservation.values())
