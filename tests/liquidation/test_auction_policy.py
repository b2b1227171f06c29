"""The ``auction`` policy: Derive's Dutch auction of a fraction of every position, on margin
units (docs/methodology/adl-and-auctions.md)."""

from __future__ import annotations

import numpy as np
import pytest

from solvent.engine.liquidation import liquidate_accounts
from solvent.liquidation.auction import AuctionParams, discounts, elapsed_for
from solvent.liquidation.auction_policy import AuctionPolicy
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.outcome import Action, StepKind
from solvent.liquidation.policy import get_policy, policy_names
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook, parse_account_book

from .conftest import account

PERP = "BTC_USDC-PERPETUAL"
INVERSE = "BTC-PERPETUAL"
CALL = "BTC-27MAR26-110000-C"


def _book(*accounts: dict[str, object]) -> AccountBook:
    return parse_account_book({"accounts": list(accounts)})[0]


def test_registered() -> None:
    assert "auction" in policy_names()
    assert isinstance(get_policy("auction"), AuctionPolicy)


def test_schedule_inverse() -> None:
    params = AuctionParams()
    t = np.array([0.0, 100.0, 900.0, 5_000.0, 44_100.0])
    assert elapsed_for(params, discounts(params, t)) == pytest.approx(t)
    assert elapsed_for(params, np.array([1.0, -1.0])).tolist() == [0.0, 44_100.0]


def test_auction_takes_the_same_fraction_of_every_position(market: MarketSnapshot) -> None:
    """A hedged unit (long linear perpetual, short inverse perpetual, short call) keeps its
    shape: every position is cut by the same fraction, to the target, and the discount it pays
    is embedded in the fill prices."""
    book = _book(account("hedged", 6_000.0, (PERP, 6.0), (INVERSE, -2.0), (CALL, -0.5)))
    config = LiquidationConfig()
    out = liquidate_accounts(book, market, "standard", policy="auction", config=config)
    (acct,) = out.accounts
    assert acct.action is Action.PARTIAL
    assert all(s.kind is StepKind.AUCTION for s in acct.steps)
    start = {PERP: 6.0, INVERSE: -2.0, CALL: -0.5}
    first_round = acct.steps[:3]
    fractions = {s.instrument: -s.quantity / start[s.instrument] for s in first_round}
    assert set(fractions) == set(start)
    f = fractions[PERP]
    assert 0 < f < 1
    assert fractions[INVERSE] == pytest.approx(f) and fractions[CALL] == pytest.approx(f)
    # the discount: every trade at a price worse than the mark for the unit
    assert all(s.slippage_usd > 0 for s in first_round)
    last = acct.steps[-1]
    assert last.equity_after_usd >= last.maintenance_margin_after_usd * (1 + config.buffer) - 1e-6
    assert all(v == 0 for v in out.conservation.values())


def test_healthy_untouched_and_discount_matches_schedule(market: MarketSnapshot) -> None:
    book = _book(account("lev", 11_000.0, (PERP, 10.0)), account("ok", 50_000.0, (PERP, 1.0)))
    out = liquidate_accounts(book, market, "standard", policy="auction")
    lev, ok = out.accounts
    assert ok.action is Action.NONE and ok.steps == ()
    assert lev.action is Action.PARTIAL
    step = lev.steps[0]
    f = -step.quantity / 10.0
    # discount (1 - d) f E, paid through the price; d within Derive's schedule
    d = 1.0 - step.slippage_usd / (f * lev.equity_before_usd)
    params = AuctionParams()
    assert 0.0 <= d <= params.starting_mtm_percentage + 1e-12
    assert "Dutch auction bid" in step.reason


def test_auction_saves_what_fees_sink(market: MarketSnapshot) -> None:
    """The same unit under ``partial`` pays the per-notional liquidation fee on every slice and
    goes bankrupt; the auction charges only the discount the bidder needs and restores it."""
    book = _book(account("hedged", 6_000.0, (PERP, 6.0), (INVERSE, -2.0), (CALL, -0.5)))
    partial = liquidate_accounts(book, market, "standard", policy="partial").accounts[0]
    auction = liquidate_accounts(book, market, "standard", policy="auction").accounts[0]
    assert partial.action is Action.BANKRUPT
    assert auction.action is Action.PARTIAL and auction.deficit_usd == 0.0


def test_bankrupt_unit_goes_to_the_waterfall(market: MarketSnapshot) -> None:
    """A unit already below zero equity is not auctioned: the waterfall closes it at its
    bankruptcy price (the insurance fund covers the deficit)."""
    book = _book(account("gone", 3_000.0, (PERP, 6.0), (INVERSE, -2.0), (CALL, -4.0)))
    out = liquidate_accounts(
        book, market, "standard", policy="auction", insurance_fund_usd=1_000_000.0
    )
    (acct,) = out.accounts
    assert acct.action is Action.BANKRUPT
    assert all(s.kind is StepKind.BANKRUPTCY for s in acct.steps)
    assert acct.insurance_covered_usd == pytest.approx(acct.deficit_usd)
    assert all(v == 0 for v in out.conservation.values())
