"""``account show`` as one document, for the CLI and the HTTP API alike: the account's balances,
positions and margin unit's health (:func:`solvent.engine.views.account_json`) with its
liquidation prices on every underlying it holds (docs/formats.md 9 and 10)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from solvent.accounts.service import AccountService
from solvent.engine.liquidation_price import account_liquidation_prices, underlying_prices_json
from solvent.engine.views import account_json
from solvent.liquidation.price import LiquidationPrice
from solvent.market.snapshot import MarketSnapshot


def account_show_json(
    service: AccountService, account_id: str, market: MarketSnapshot
) -> dict[str, Any]:
    """``solvent account show ID`` / ``GET /v1/accounts/{id}``."""
    view = service.show(account_id, market)
    prices = account_liquidation_prices(service, account_id, market)
    return account_json(view, service.ledger.assets) | {
        "liquidation_prices": underlying_prices_json(prices)
    }


def liquidation_distance(prices: Sequence[LiquidationPrice]) -> float | None:
    """The smallest relative move of any underlying, either way, that takes the unit to its
    maintenance margin (0.12 = 12 %); ``None`` when no liquidation price exists."""
    moves = [abs(d) for p in prices for d in (p.distance_down, p.distance_up) if d is not None]
    return min(moves) if moves else None
