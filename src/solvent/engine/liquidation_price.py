"""Liquidation prices for every interface (docs/formats.md 10 ``liquidation-price``, and the
optional ``liquidation_prices`` of ``account show``): the CLI and the HTTP API call these.

The computation is :mod:`solvent.liquidation.price`; this module picks the margin unit (a
portfolio file, or a ledger account's unit with its average prices as entry prices) and renders
the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from solvent.accounts.service import AccountService
from solvent.engine.margin import check_venues
from solvent.errors import SolventInputError
from solvent.ledger.model import AccountKind
from solvent.liquidation.price import (
    ExternalCollateral,
    LiquidationPrice,
    liquidation_price,
    liquidation_prices,
)
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.portfolio import Portfolio
from solvent.venues.external import admit_external, external_balances
from solvent.venues.locations import LocationSet, load_locations


def liquidation_price_json(result: LiquidationPrice) -> dict[str, Any]:
    """docs/formats.md 10 ``liquidation-price`` output (USD prices; distances relative: 0.12 =
    12 %; ``null`` where no price exists between 1 % and 10x the index)."""
    return {
        "account": result.account,
        "model": result.model,
        "underlying": result.underlying,
        "index": result.index,
        "liquidation_price_down": result.down,
        "liquidation_price_up": result.up,
        "distance_down": result.distance_down,
        "distance_up": result.distance_up,
    }


def underlying_prices_json(results: Sequence[LiquidationPrice]) -> list[dict[str, Any]]:
    """Per underlying, the fields of :func:`liquidation_price_json` without account and model
    (``account show``'s ``liquidation_prices``)."""
    return [
        {k: v for k, v in liquidation_price_json(r).items() if k not in ("account", "model")}
        for r in results
    ]


def one_portfolio(portfolios: Sequence[Portfolio]) -> Portfolio:
    """The one account of a portfolio file (a book of exactly one account is accepted)."""
    if len(portfolios) != 1:
        raise SolventInputError(
            "accounts",
            f"give one portfolio (this book has {len(portfolios)} accounts): a liquidation "
            "price is one margin unit's",
        )
    return portfolios[0]


def external_collateral(
    portfolio: Portfolio,
    market: MarketSnapshot,
    locations: LocationSet | str | None = None,
) -> ExternalCollateral | None:
    """The portfolio's collateral held elsewhere, admitted as ``solvent margin`` admits it
    (docs/cross-venue.md; ``locations``: the location set, default built-in), or ``None``."""
    if not portfolio.external and all(p.venue is None for p in portfolio.positions):
        return None
    accounts = AccountBook.from_portfolios([portfolio])
    known = locations if isinstance(locations, LocationSet) else load_locations(locations)
    check_venues(accounts, known)
    if not accounts.external:
        return None
    admission = admit_external(
        accounts.external, accounts.external_account, accounts.accounts, market.as_of, known
    )
    symbols = tuple(sorted(set(portfolio.collateral) | set(admission.assets)))
    balances = external_balances(admission, np.zeros(1, dtype=np.intp), 1, symbols)
    return ExternalCollateral(symbols, balances)


def portfolio_liquidation_price(
    portfolio: Portfolio,
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    underlying: str | None = None,
    locations: LocationSet | str | None = None,
) -> dict[str, Any]:
    """``solvent liquidation-price``: the JSON of one portfolio's liquidation prices (its
    admitted collateral held elsewhere included)."""
    external = external_collateral(portfolio, market, locations)
    return liquidation_price_json(
        liquidation_price(portfolio, market, model, params, underlying, external=external)
    )


def account_liquidation_prices(
    service: AccountService, account_id: str, market: MarketSnapshot
) -> list[LiquidationPrice]:
    """The liquidation prices of ``account_id``'s margin unit on every underlying it holds,
    under the unit's model (the ledger's average prices as entry prices). The venue's own
    accounts have no margin requirement: none."""
    with service.ledger.transaction() as tx:
        if tx.account(account_id).kind is not AccountKind.USER:
            return []
    unit, model = service.portfolio(account_id, market)
    return liquidation_prices(unit, market, model)
