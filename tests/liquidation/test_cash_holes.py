"""The holes between the planner's cash and the ledger's (issue 10, "money must never come from
nothing"): an inverse future's bankruptcy price solved in coin, ADL fills and socialized
charges never beyond a counterparty's cash, and an insurance fund that pays from every asset it
holds."""

from __future__ import annotations

from typing import Any

import pytest

from solvent.engine.liquidation import liquidate_accounts, liquidate_prepared, prepare_margin
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.outcome import Action, StepKind, TransferReason
from solvent.liquidation.policy import get_policy
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import parse_account_book

from .conftest import account, liquidation_market
from .test_invariants import _option_market

INVERSE = "BTC-PERPETUAL"
LINEAR = "BTC_USDC-PERPETUAL"
CALL = "BTC-27MAR26-110000-C"


def _position(name: str, quantity: float, entry: float) -> dict[str, Any]:
    return {"instrument": name, "quantity": quantity, "entry_price": entry}


def test_an_inverse_bankruptcy_close_brings_the_unit_to_zero_in_coin(
    market: MarketSnapshot,
) -> None:
    """Short 1 BTC-PERPETUAL entered at 80,000 with 0.1 BTC, the mark at 100,000: it owes
    0.2 BTC of P&L since entry, 0.1 BTC (10,000 USD) more than it holds. The close at p brings
    (100,000 - p) / p BTC, so the bankruptcy price is 100,000 / 1.1 (the mark less the deficit,
    90,000, would bring 0.111 BTC and leave the bankrupt unit 1,111 USD)."""
    book = parse_account_book(
        {
            "accounts": [
                {
                    "account": "broke",
                    "collateral": {"BTC": 0.1},
                    "positions": [_position(INVERSE, -1.0, 80_000.0)],
                },
                account("rich", 1e6),
            ]
        }
    )[0]
    out = liquidate_accounts(book, market, insurance_fund_usd=50_000.0)
    broke = out.accounts[0]
    assert broke.action is Action.BANKRUPT
    assert broke.deficit_usd == pytest.approx(10_000.0)
    (step,) = broke.steps
    assert step.kind is StepKind.BANKRUPTCY and step.quantity == 1.0
    assert step.price == pytest.approx(100_000.0 / 1.1)
    # zero but for the floor of the coin amounts to base units (a satoshi at most)
    assert step.equity_after_usd == pytest.approx(0.0, abs=2e-3)
    assert out.balances_after[0, out.assets.index("BTC")] == pytest.approx(0.0, abs=2e-8)
    assert broke.insurance_covered_usd == pytest.approx(10_000.0, abs=1e-2)
    assert all(v == 0 for v in out.conservation.values())


def _option_rich_cash_poor() -> Any:
    """``broke``: long 2 calls with a 30,000 USDC debt (bankrupt); ``winner``: short 2 calls in
    profit (sold at 0.1 BTC) and long 10 puts: equity ~91,000 USD, far above its MM, but its
    cash is 50 USDC (the rest of its value is the long puts')."""
    return parse_account_book(
        {
            "accounts": [
                {
                    "account": "broke",
                    "collateral": {"USDC": -30_000.0},
                    "positions": [_position(CALL, 2.0, 0.05)],
                },
                {
                    "account": "winner",
                    "collateral": {"USDC": 50.0},
                    "positions": [
                        _position(CALL, -2.0, 0.1),
                        _position("BTC-27MAR26-100000-P", 10.0, 0.05),
                    ],
                },
            ]
        }
    )[0]


@pytest.mark.parametrize("basis", ["profit", "equity"])
def test_adl_and_socialized_charges_never_ask_more_cash_than_a_winner_holds(basis: str) -> None:
    """Buying back its short calls at the bankruptcy premium (0.156 BTC, 31,000 USD for two)
    would leave ``winner`` above its MM, but it cannot pay it: no fill; its socialized charge is
    at most its cash less the reserve; what nobody can pay stays with ``@venue``."""
    out = liquidate_accounts(
        _option_rich_cash_poor(),
        _option_market(100_000.0),
        config=LiquidationConfig(socialize_basis=basis),
    )
    broke, winner = out.accounts
    assert broke.action is Action.BANKRUPT and winner.action is Action.NONE
    assert not out.adl
    charged = sum(c.units for c in out.socialized if c.account == "winner")
    assert 0 < charged <= 50_000_000 - 100
    assert broke.uncovered_usd == pytest.approx(broke.deficit_usd - charged / 1e6, abs=1e-3)
    assert out.balances_after[1, out.assets.index("USDC")] >= 0.0
    assert all(v == 0 for v in out.conservation.values())


def _fund_run(fund: dict[str, int], *accounts: dict[str, Any]) -> Any:
    book = parse_account_book({"accounts": list(accounts)})[0]
    market = liquidation_market()
    return liquidate_prepared(
        book,
        prepare_margin(book, market),
        policy=get_policy("partial"),
        config=LiquidationConfig(),
        insurance_fund_units=fund,
    )


def test_a_fund_holding_only_coins_covers_a_usdc_loss_and_nothing_is_socialized() -> None:
    """The fund holds 0.1 BTC (fees it collected) and no USDC: ``@venue``'s 3,000 USD loss on
    ``broke``'s bankruptcy close is paid in BTC at the index (3,000 / 100,000 BTC, exact base
    units), nothing is socialized over ``payer``."""
    out = _fund_run(
        {"BTC": 10_000_000},
        account("broke", -3_000.0, (LINEAR, 2.0)),
        account("payer", 1e6),
    )
    broke = out.accounts[0]
    assert broke.action is Action.BANKRUPT
    assert broke.insurance_covered_usd == pytest.approx(3_000.0, abs=1e-3)
    assert broke.socialized_usd == 0.0 and not out.socialized
    (cover,) = [t for t in out.transfers if t.reason is TransferReason.INSURANCE_COVER]
    assert (cover.source, cover.destination, cover.asset) == ("@insurance", "@venue", "BTC")
    assert cover.units == 3_000_000
    assert out.insurance_fund.start_usd == pytest.approx(10_000.0)
    assert out.insurance_fund.end_usd == pytest.approx(7_000.0)
    assert all(v == 0 for v in out.conservation.values())


def test_a_fund_pays_a_units_coin_debt_in_that_coin_and_the_rest_from_any_asset() -> None:
    """``broke``, long 1 BTC-PERPETUAL entered at 500,000, owes 4 BTC at the mark of 100,000;
    its close can bring at most 0.8 BTC (at 5 x the mark, the bankruptcy price range), so
    3.2 BTC stay its own: the fund pays that debt in BTC, exactly, then ``@venue``'s loss
    (80,000 USD) from its USDC, then its BTC; the fund is rich enough, nothing is socialized."""
    out = _fund_run(
        {"BTC": 500_000_000, "USDC": 1_000_000_000},
        {
            "account": "broke",
            "collateral": {"BTC": 0.0},
            "positions": [_position(INVERSE, 1.0, 500_000.0)],
        },
        account("payer", 1e6),
    )
    broke = out.accounts[0]
    assert broke.action is Action.BANKRUPT
    covers = [t for t in out.transfers if t.reason is TransferReason.INSURANCE_COVER]
    (to_unit,) = [t for t in covers if t.destination == "broke"]
    assert to_unit.asset == "BTC" and to_unit.units == pytest.approx(320_000_000, abs=1)
    assert out.balances_after[0, out.assets.index("BTC")] == pytest.approx(0.0, abs=1e-8)
    assert [t.asset for t in covers if t.destination == "@venue"] == ["USDC", "BTC"]
    assert not out.socialized and broke.uncovered_usd == 0.0
    assert all(v == 0 for v in out.conservation.values())
