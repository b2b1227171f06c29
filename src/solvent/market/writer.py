"""The inverse of :func:`solvent.market.snapshot.parse_market`: a snapshot as market JSON
(docs/formats.md 1, order books as 5), so a market the engine built or moved (a stress move, the
end of a replayed crash) can be saved and read back by ``--market``.

Every instrument is written with its full terms (kind, underlying, settlement, settlement asset,
contract size, expiry, strike, option type) and its marks: ``mark_price`` for every instrument,
plus ``mark_iv`` and ``forward`` for options. Read back, index, rates, terms, futures and
perpetual marks, option IVs and forwards and order books are float-exact; an option's
``mark_price`` is re-derived by the reader from its ``mark_iv`` (Black-76, as both the reader and
:func:`solvent.market.moves.move_underlyings` mark options), equal to the written one within a
few ulps (relative 1e-12).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from solvent.market.order_book import OrderBook
from solvent.market.snapshot import InstrumentQuote, MarketSnapshot
from solvent.validation import iso_utc


def market_to_json(market: MarketSnapshot) -> dict[str, Any]:
    """``market`` as the market JSON :func:`~solvent.market.snapshot.parse_market` reads
    (prices in USD per unit of the asset, option marks in the settlement asset, IVs decimal)."""
    return {
        "as_of": iso_utc(market.as_of),
        "index": dict(market.index),
        "rates": dict(market.rates),
        "instruments": [_instrument_json(q) for q in market.quotes.values()],
        "order_books": {asset: _book_json(b) for asset, b in market.order_books.items()},
    }


def _instrument_json(quote: InstrumentQuote) -> dict[str, Any]:
    inst = quote.instrument
    record: dict[str, Any] = {
        "name": inst.name,
        "kind": inst.kind.value,
        "underlying": inst.underlying,
        "settlement": inst.settlement.value,
        "settlement_asset": inst.settlement_asset,
        "contract_size": inst.contract_size,
    }
    if inst.expiry is not None:
        record["expiry"] = iso_utc(inst.expiry)
    if inst.strike is not None:
        record["strike"] = inst.strike
    if inst.option_type is not None:
        record["option_type"] = inst.option_type.value
    record["mark_price"] = quote.mark_price
    if inst.is_option:
        record["mark_iv"] = quote.mark_iv
        record["forward"] = quote.forward
    return record


def _book_json(book: OrderBook) -> dict[str, list[list[float]]]:
    """``{"bids": [[price USD, size coin], ...], "asks": [...]}``, best level first."""
    return {
        "bids": np.column_stack((book.bid_prices, book.bid_sizes)).tolist(),
        "asks": np.column_stack((book.ask_prices, book.ask_sizes)).tolist(),
    }
