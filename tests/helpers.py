"""Small builders shared by tests: markets and portfolios with hand-checkable numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.portfolio import Portfolio, Position

AS_OF = "2026-01-05T08:00:00Z"
BTC = 100_000.0
ETH = 4_000.0


def market(extra: list[dict[str, Any]] | None = None, **index: float) -> MarketSnapshot:
    """BTC at 100,000 and ETH at 4,000 USD, perpetuals at the index, a March future, options."""
    prices = {"BTC": BTC, "ETH": ETH, "USDC": 1.0} | index
    instruments: list[dict[str, Any]] = [
        {"name": "BTC-PERPETUAL", "mark_price": prices["BTC"]},
        {"name": "ETH-PERPETUAL", "mark_price": prices["ETH"]},
        {"name": "BTC_USDC-PERPETUAL", "mark_price": prices["BTC"]},
        {"name": "BTC-27MAR26", "mark_price": prices["BTC"] * 1.01},
        {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
        {"name": "BTC-27MAR26-90000-P", "mark_iv": 0.55},
        {"name": "ETH-27MAR26-4000-C", "mark_iv": 0.6, "forward": prices["ETH"]},
    ]
    return parse_market(
        {"as_of": AS_OF, "index": prices, "instruments": instruments + (extra or [])}
    )


def portfolio(account: str, *positions: tuple[str, float], **collateral: float) -> Portfolio:
    return Portfolio(account, dict(collateral), tuple(Position(n, q) for n, q in positions))


@dataclass(frozen=True)
class Flat:
    initial_margin_usd: float
    maintenance_margin_usd: float


def flat_margin(portfolio: Portfolio, market: MarketSnapshot, model: str) -> Flat:
    """An injected margin requirement: 10 % IM / 5 % MM of each position's USD notional at the
    mark, so every number can be computed by hand."""
    notional = sum(
        abs(p.quantity) * market.quote(p.instrument).mark_price_usd for p in portfolio.positions
    )
    return Flat(0.10 * notional, 0.05 * notional)
