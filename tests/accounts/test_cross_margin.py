"""Cross vs isolated sub-accounts, withdrawal and trade refusals, and the what-if check, on
hand-computed cases. The margin requirement is injected: a flat 10 % IM / 5 % MM of each position's
USD notional at the mark, so every number below can be computed by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from helpers import flat_margin
from solvent.accounts.health import HealthState, health_codes
from solvent.accounts.service import AccountService, MarketFreshness, Order, trade_terms
from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.model import EXTERNAL, Reason, transfer
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.portfolio import SubAccountMode


def market(btc: float, eth: float) -> MarketSnapshot:
    perp = {"kind": "perpetual", "settlement": "linear", "settlement_asset": "USDC"}
    return parse_market(
        {
            "as_of": "2026-01-05T00:00:00Z",
            "index": {"BTC": btc, "ETH": eth, "USDC": 1.0},
            "instruments": [
                dict(perp, name="BTC_USDC-PERPETUAL", underlying="BTC", mark_price=btc),
                dict(perp, name="ETH_USDC-PERPETUAL", underlying="ETH", mark_price=eth),
            ],
        }
    )


ENTRY = market(50_000.0, 4_000.0)
NOW = market(60_000.0, 3_000.0)
AT_THE_MARKET = MarketFreshness(clock=lambda: NOW.as_of)  # the markets are not stale


def build(tmp_path: Path, mode: SubAccountMode) -> AccountService:
    ledger = Ledger.open(f"sqlite:///{tmp_path / f'{mode.value}.db'}")
    service = AccountService(ledger, flat_margin, freshness=AT_THE_MARKET)
    service.create("p")
    service.create("s1", parent="p", mode=mode)
    service.create("s2", parent="p", mode=mode)
    service.deposit("s2", "USDC", "1000")
    with ledger.transaction() as tx:  # positions opened when the market was at ENTRY
        tx.trade("s1", trade_terms(ENTRY, "BTC_USDC-PERPETUAL"), Decimal("0.5"), Decimal(50_000))
        tx.trade("s2", trade_terms(ENTRY, "ETH_USDC-PERPETUAL"), Decimal("2"), Decimal(4_000))
    return service


def test_cross_gains_cover_a_sibling_loss(tmp_path: Path) -> None:
    service = build(tmp_path, SubAccountMode.CROSS)
    # one portfolio: 1,000 USDC + BTC uPnL 0.5 x 10,000 - ETH uPnL 2 x 1,000 = 4,000 USD equity;
    # IM 10 % x (0.5 x 60,000 + 2 x 3,000) = 3,600; MM 1,800
    for name in ("p", "s1", "s2"):
        h = service.show(name, NOW).health
        assert h.equity_usd == pytest.approx(4_000.0)
        assert h.initial_margin_usd == pytest.approx(3_600.0)
        assert h.maintenance_margin_usd == pytest.approx(1_800.0)
        assert h.excess_usd == pytest.approx(400.0)
        assert h.margin_ratio == pytest.approx(0.45)
        assert h.state is HealthState.HEALTHY
    assert service.show("s2", NOW).unit == ("p", "s1", "s2")


def test_isolated_loss_is_not_covered(tmp_path: Path) -> None:
    service = build(tmp_path, SubAccountMode.ISOLATED)
    s1 = service.show("s1", NOW).health  # 5,000 USD of gains, IM 3,000
    assert (s1.equity_usd, s1.initial_margin_usd, s1.state) == pytest.approx(
        (5_000.0, 3_000.0, HealthState.HEALTHY)
    )
    s2 = service.show("s2", NOW).health  # 1,000 - 2,000 = -1,000 USD: bankrupt
    assert s2.equity_usd == pytest.approx(-1_000.0)
    assert s2.initial_margin_usd == pytest.approx(600.0)
    assert s2.margin_ratio is None and s2.state is HealthState.BANKRUPT
    assert service.show("p", NOW).health.initial_margin_usd == 0.0


def counts(service: AccountService) -> tuple[int, ...]:
    with service.ledger.engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (schema.operations, schema.entries, schema.trades)
        )


def test_withdrawal_and_trade_refused_below_im_nothing_written(tmp_path: Path) -> None:
    service = build(tmp_path, SubAccountMode.CROSS)
    before = counts(service)
    with pytest.raises(SolventInputError, match="below initial margin"):
        service.withdraw("s2", "USDC", "500", NOW)  # equity 3,500 < IM 3,600
    with pytest.raises(SolventInputError, match="below initial margin"):
        # +0.1 BTC at the mark: IM 4,200 > equity 4,000
        service.trade("s1", "BTC_USDC-PERPETUAL", "0.1", "60000", NOW)
    for bad in ("0", "-1", "0.0000001", "abc"):
        with pytest.raises(SolventInputError):
            service.withdraw("s2", "USDC", bad, NOW)
        with pytest.raises(SolventInputError):
            service.deposit("s2", "USDC", bad)
    with pytest.raises(SolventInputError, match="unknown asset"):
        service.deposit("s2", "NOPE", "1")
    with pytest.raises(SolventInputError, match="unknown account"):
        service.deposit("ghost", "USDC", "1")
    with pytest.raises(SolventInputError, match="insufficient"):
        service.withdraw("s1", "USDC", "1", NOW)  # s1 holds no USDC of its own
    assert counts(service) == before
    _, health = service.withdraw("s2", "USDC", "300", NOW)
    assert health.equity_usd == pytest.approx(3_700.0) and health.excess_usd == pytest.approx(100)
    assert service.ledger.audit().ok


def test_check_is_a_what_if_that_changes_nothing(tmp_path: Path) -> None:
    service = build(tmp_path, SubAccountMode.CROSS)
    before = counts(service)
    no = service.check("s1", [Order("BTC_USDC-PERPETUAL", Decimal("0.1"))], NOW)
    assert not no.accepted and no.health.initial_margin_usd == pytest.approx(4_200.0)
    assert no.health.excess_usd == pytest.approx(-200.0) and "exceed" in no.reason
    # selling ETH reduces IM: 10 % x (30,000 + 1 x 3,000) = 3,300
    yes = service.check("s1", [Order("ETH_USDC-PERPETUAL", Decimal("-1"))], NOW)
    assert yes.accepted and yes.health.initial_margin_usd == pytest.approx(3_300.0)
    assert counts(service) == before
    assert service.show("s1", NOW).health.initial_margin_usd == pytest.approx(3_600.0)


def test_health_states_vectorized_match_the_definitions() -> None:
    rng = np.random.default_rng(7)
    equity = rng.normal(0, 100, 10_000)
    mm = np.abs(rng.normal(0, 50, 10_000))
    im = mm * 1.5
    codes = health_codes(equity, im, mm)
    expected = np.select([equity < 0, equity < mm, equity < im], [3, 2, 1], 0)
    assert np.array_equal(codes, expected)


def test_deposit_balance_and_external_account(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'd.db'}")
    service = AccountService(ledger, flat_margin)
    service.create("x", model="deribit-pm")
    service.deposit("x", "BTC", "1.5")
    assert ledger.balances("x") == {"BTC": 150_000_000}
    assert ledger.balances(EXTERNAL) == {"BTC": -150_000_000}
    with pytest.raises(SolventInputError, match="model"):
        service.create("y", model="no-such-model")
    with pytest.raises(SolventInputError):
        ledger.post(transfer("x", EXTERNAL, "BTC", 1, Reason.FEE, "bad"))
