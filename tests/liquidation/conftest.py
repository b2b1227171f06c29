"""A market with a linear BTC perpetual and an order book, and small books to liquidate."""

from __future__ import annotations

from typing import Any

import pytest

from solvent.market.snapshot import MarketSnapshot, parse_market

AS_OF = "2026-01-05T08:00:00Z"


def liquidation_market(books: bool = True, btc: float = 100_000.0) -> MarketSnapshot:
    """BTC at ``btc`` USD: linear and inverse perpetuals at the index, a March call, and (with
    ``books``) a BTC order book 10 USD wide with 1 BTC a level, 50 USD apart."""
    raw: dict[str, Any] = {
        "as_of": AS_OF,
        "index": {"BTC": btc, "ETH": 4_000.0, "USDC": 1.0},
        "instruments": [
            {"name": "BTC_USDC-PERPETUAL", "mark_price": btc},
            {"name": "BTC-PERPETUAL", "mark_price": btc},
            {"name": "ETH_USDC-PERPETUAL", "mark_price": 4_000.0},
            {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
        ],
    }
    if books:
        raw["order_books"] = {
            "BTC": {
                "bids": [[btc - 5.0 - 50.0 * i, 1.0] for i in range(20)],
                "asks": [[btc + 5.0 + 50.0 * i, 1.0] for i in range(20)],
            }
        }
    return parse_market(raw)


@pytest.fixture
def market() -> MarketSnapshot:
    return liquidation_market()


def account(name: str, usdc: float, *positions: tuple[str, float]) -> dict[str, Any]:
    """A book account holding ``usdc`` and ``positions``."""
    return {
        "account": name,
        "collateral": {"USDC": usdc},
        "positions": [{"instrument": i, "quantity": q} for i, q in positions],
    }
