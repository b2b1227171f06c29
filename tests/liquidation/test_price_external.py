"""Liquidation prices count collateral held elsewhere (docs/cross-venue.md) as ``solvent margin``
does: admitted coins, moving with the price, after their location haircuts."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.engine.liquidation_price import external_collateral, portfolio_liquidation_price
from solvent.engine.margin import margin_accounts
from solvent.liquidation.price import TOLERANCE
from solvent.market.moves import move_underlying
from solvent.market.snapshot import parse_market
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.external import ExternalHolding
from solvent.portfolio.portfolio import parse_portfolio
from solvent.validation import iso_timestamp
from solvent.venues.attestation import public_key_hex, sign_attestation
from solvent.venues.locations import default_locations, parse_locations

AS_OF = "2026-01-05T15:30:00Z"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
MARKET = parse_market(
    {
        "as_of": AS_OF,
        "index": {"BTC": 100_000.0, "USDC": 1.0},
        "instruments": [{"name": "BTC_USDC-PERPETUAL", "mark_price": 100_000.0}],
    }
)


def _locations() -> Any:
    overlay = {"locations": {"ethereum": {"public_key": public_key_hex(KEY)}}}
    return parse_locations(overlay, "test", default_locations())


def _portfolio(external: bool) -> Any:
    holding = ExternalHolding("ethereum", "BTC", 1.0, iso_timestamp(AS_OF, "at"), None)
    raw: dict[str, Any] = {
        "account": "a",
        "collateral": {"USDC": 10_000.0},
        "positions": [
            {"instrument": "BTC_USDC-PERPETUAL", "quantity": 2.0, "entry_price": 100_000.0}
        ],
    }
    if external:
        raw["external"] = [
            {
                "location": "ethereum",
                "asset": "BTC",
                "amount": 1.0,
                "attested_at": AS_OF,
                "attestation": {"signature": sign_attestation(KEY, "a", holding)},
            }
        ]
    return parse_portfolio(raw)


def test_external_collateral_lowers_the_liquidation_price_and_meets_mm_there() -> None:
    locations = _locations()
    alone = portfolio_liquidation_price(_portfolio(False), MARKET, locations=locations)
    held = _portfolio(True)
    assert external_collateral(held, MARKET, locations) is not None
    with_btc = portfolio_liquidation_price(held, MARKET, locations=locations)
    assert with_btc["liquidation_price_down"] < alone["liquidation_price_down"]
    price = with_btc["liquidation_price_down"]
    moved = move_underlying(MARKET, "BTC", price)
    (report,) = margin_accounts(AccountBook.from_portfolios([held]), moved, locations=locations)
    mm = report.margin.maintenance_margin_usd
    assert report.equity_usd == pytest.approx(mm, abs=TOLERANCE * max(mm, 1.0))
