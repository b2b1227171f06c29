"""``AccountService.check`` writes nothing: it applies the fills to a copy of the unit read once,
with the ledger's own rules. Pinned against the real thing: the health it reports is exactly the
health after booking the same fills, and an order the ledger would refuse is refused with the
ledger's own message. The margin of a long-running service (:class:`PreparedMargins`, prepared
states kept per snapshot and instrument set) gives :func:`registry_margin`'s figures exactly."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from helpers import market as helpers_market
from solvent.accounts.service import (
    AccountService,
    MarketFreshness,
    Order,
    PreparedMargins,
    registry_margin,
    trade_terms,
)
from solvent.ledger.store import InsufficientFundsError, Ledger
from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode

MARKET = helpers_market()
FRESH = MarketFreshness(clock=lambda: MARKET.as_of)


def _service(tmp_path: Path, name: str) -> AccountService:
    service = AccountService(
        Ledger.open(f"sqlite:///{tmp_path / name}.db"), registry_margin, freshness=FRESH
    )
    service.deposit("@venue", "BTC", "100")
    service.deposit("@venue", "USDC", "1000000")
    service.create("a")
    service.create("a-hedge", parent="a", mode=SubAccountMode.CROSS)
    service.deposit("a", "BTC", "2")
    service.deposit("a", "USDC", "20000")
    service.deposit("a-hedge", "BTC", "1")
    service.trade("a", "BTC-PERPETUAL", "1", "99000", MARKET)
    service.trade("a-hedge", "BTC-27MAR26-110000-C", "-1", "0.05", MARKET)
    return service


ORDERS = [
    [Order("BTC-PERPETUAL", Decimal("-1.5"))],  # closes the long (realizes P&L) and opens a short
    [Order("BTC-27MAR26-110000-C", Decimal("2")), Order("BTC-27MAR26-90000-P", Decimal("-1"))],
    [Order("BTC_USDC-PERPETUAL", Decimal("0.3")), Order("BTC-PERPETUAL", Decimal("-1"))],
]


@pytest.mark.parametrize("orders", ORDERS)
def test_check_reports_the_health_the_fills_would_book(tmp_path: Path, orders: list[Order]) -> None:
    service = _service(tmp_path, "c")
    result = service.check("a-hedge", orders, MARKET)
    for order in orders:  # the same fills, booked for real (at the mark, no fee)
        mark = Decimal(repr(MARKET.quote(order.instrument).mark_price))
        with service.ledger.transaction() as tx:
            tx.trade("a-hedge", trade_terms(MARKET, order.instrument), order.quantity, mark)
    assert service.show("a-hedge", MARKET).health == result.health


def test_an_order_the_ledger_refuses_is_refused_with_its_message(tmp_path: Path) -> None:
    service = _service(tmp_path, "r")
    big = [Order("BTC-27MAR26-110000-C", Decimal("500"))]  # a premium beyond a-hedge's BTC
    before = service.ledger.balances("a-hedge")
    result = service.check("a-hedge", big, MARKET)
    assert not result.accepted
    mark = Decimal(repr(MARKET.quote(big[0].instrument).mark_price))
    with pytest.raises(InsufficientFundsError) as refused, service.ledger.transaction() as tx:
        tx.trade("a-hedge", trade_terms(MARKET, big[0].instrument), big[0].quantity, mark)
    assert result.reason == f"order[0] would be refused: {refused.value.message}"
    assert service.ledger.balances("a-hedge") == before


def test_prepared_margins_are_registry_margin_exactly() -> None:
    margins = PreparedMargins(size=2)
    portfolios = [
        Portfolio("p", {}, (Position("BTC-PERPETUAL", 1.0), Position("BTC-27MAR26", -2.0))),
        Portfolio("q", {}, (Position("BTC-27MAR26-110000-C", -1.5),)),
        Portfolio("r", {}, (Position("ETH-27MAR26-4000-C", 3.0), Position("BTC-PERPETUAL", 1.0))),
        Portfolio("e", {}, ()),
    ]
    for model in ("standard", "deribit-pm", "span"):
        for _ in range(2):  # the second round margins from the kept prepared states
            for p in portfolios:
                got, want = margins(p, MARKET, model), registry_margin(p, MARKET, model)
                assert (got.initial_margin_usd, got.maintenance_margin_usd) == (
                    want.initial_margin_usd,
                    want.maintenance_margin_usd,
                )
