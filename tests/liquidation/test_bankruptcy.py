"""Bankruptcy: remaining positions close at the bankruptcy price, the insurance fund covers what
it can and never goes negative."""

from __future__ import annotations

import pytest

from solvent.engine.liquidation import liquidate_accounts
from solvent.liquidation.outcome import Action, StepKind, TransferReason
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import parse_account_book

from .conftest import account

PERP = "BTC_USDC-PERPETUAL"


def _bankrupt_book() -> object:
    # a USDC debt of 3,000 and a long of 2 BTC: equity -3,000 USD at the mark
    return parse_account_book(
        {"accounts": [account("broke", -3_000.0, (PERP, 2.0)), account("ok", 1e6, (PERP, -2.0))]}
    )[0]


@pytest.mark.parametrize("fund", [0.0, 1_000.0, 10_000.0])
def test_bankrupt_account_closes_at_the_bankruptcy_price(
    market: MarketSnapshot, fund: float
) -> None:
    out = liquidate_accounts(_bankrupt_book(), market, insurance_fund_usd=fund)
    broke = out.accounts[0]
    assert broke.action is Action.BANKRUPT
    assert broke.deficit_usd == pytest.approx(3_000.0)
    (step,) = broke.steps
    assert step.kind is StepKind.BANKRUPTCY and step.quantity == -2.0
    # the long sells above the mark by the deficit per unit: the account ends at zero
    assert step.price == pytest.approx(100_000.0 + 1_500.0)
    assert step.equity_after_usd == pytest.approx(0.0, abs=1e-6)
    assert step.fee_usd == 0.0
    assert broke.insurance_covered_usd == pytest.approx(min(fund, 3_000.0), abs=1e-5)
    flow = out.insurance_fund
    assert flow.end_usd == pytest.approx(
        flow.start_usd + flow.fees_in_usd - flow.deficits_covered_usd
    )
    assert flow.end_usd >= 0.0
    covers = [t for t in out.transfers if t.reason is TransferReason.INSURANCE_COVER]
    assert sum(t.units for t in covers) == pytest.approx(min(fund, 3_000.0) * 1e6, abs=1)
    assert all(v == 0 for v in out.conservation.values())
    assert out.accounts[1].action is Action.NONE
