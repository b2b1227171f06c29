"""Positions and balances held at other venues -> a portfolio (docs/formats.md 2 and 13).

:func:`import_ccxt` reads ccxt's unified structures (:mod:`solvent.venues.ccxt`),
:func:`import_export` a venue's own API export (:mod:`solvent.venues.exports`). Both map every
contract to one of our instruments by its terms (:mod:`solvent.venues.contracts`) and return the
portfolio as a JSON object: the venue's balances as ``collateral`` (docs/cross-venue.md says how
to count them as held at the venue instead) and every position with ``"venue"``. The venue must
be a known location (:mod:`solvent.venues.locations`), so that the portfolio can be margined.
"""

from __future__ import annotations

from typing import Any

from solvent.errors import SolventInputError
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.external import location_name
from solvent.venues.ccxt import read_ccxt
from solvent.venues.contracts import InstrumentMap, portfolio_json
from solvent.venues.exports import READERS
from solvent.venues.locations import LocationSet, default_locations


def _venue(name: str, locations: LocationSet, field: str) -> str:
    location_name(name, field)
    location = locations.get(name, field)
    return location.name


def import_ccxt(
    raw: object,
    *,
    account: str | None = None,
    market: MarketSnapshot | None = None,
    locations: LocationSet | None = None,
) -> dict[str, Any]:
    """The portfolio of a ccxt export ``{"exchange", "positions", "balance"}`` (parsed JSON);
    ``account`` defaults to the exchange id; with ``market``, every instrument must be in it."""
    locations = locations or default_locations()
    mapper = InstrumentMap(market)
    if isinstance(raw, dict) and isinstance(raw.get("exchange"), str):
        _venue(raw["exchange"], locations, "exchange")  # an unknown venue before any symbol
    exchange, positions, balances = read_ccxt(raw, mapper)
    venue = _venue(exchange, locations, "exchange")
    return portfolio_json(_account(account, venue), venue, positions, balances)


def import_export(
    venue: str,
    positions: object,
    balance: object = None,
    *,
    account: str | None = None,
    market: MarketSnapshot | None = None,
    locations: LocationSet | None = None,
) -> dict[str, Any]:
    """The portfolio of a venue's native export: ``positions`` (and optionally ``balance``) are
    the parsed responses of its endpoints (:mod:`solvent.venues.exports`)."""
    locations = locations or default_locations()
    reader = READERS.get(venue)
    if reader is None:
        known = ", ".join(sorted(READERS))
        raise SolventInputError("venue", f"no export reader for {venue!r} (known: {known})")
    _venue(venue, locations, "venue")
    mapped, balances = reader(positions, balance, InstrumentMap(market))
    return portfolio_json(_account(account, venue), venue, mapped, balances)


def _account(account: str | None, venue: str) -> str:
    if account is None:
        return venue
    if not account:
        raise SolventInputError("account", "must be a non-empty account id")
    return account
