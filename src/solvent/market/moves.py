"""Market moves: the snapshot with an underlying at another price (docs/formats.md 10).

Moving underlying ``U`` to the USD price ``P`` scales everything priced on ``U`` by the same ratio
``r = P / index[U]``, so bases and spreads are kept as ratios:

- ``index[U]`` becomes ``P``;
- futures, perpetuals and spot on ``U``: ``mark_price x r`` (and their forward, which is the mark);
- options on ``U``: ``forward x r``; strike, expiry, time and the mark implied volatility are
  unchanged (sticky strike), and the mark is recomputed with Black-76 at the new forward (coin per
  unit for inverse options: USD premium / forward; USD for linear ones), as the snapshot's own
  parser computes a mark from an IV;
- the order book of ``U`` (docs/formats.md 5), if any: every price ``x r``, sizes unchanged.

Time (``as_of``), rates and every other underlying stay as they were, unless
:func:`move_underlyings` is given a new ``as_of`` (a replay step): then every time to expiry is
measured from it and every option re-marked at its IV. A stablecoin the index does not list is
priced 1 USD by the snapshot; moving it adds it to the index.

Snapshots are immutable: a move returns a new one. :func:`restrict` keeps only the instruments an
account holds, so that moving it costs in proportion to the account, not the whole chain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

import numpy as np

from solvent.errors import SolventInputError
from solvent.market.order_book import OrderBook
from solvent.market.snapshot import (
    INDEX_BOUNDS,
    USD_ASSETS,
    InstrumentQuote,
    MarketSnapshot,
)
from solvent.pricing.black76 import black76_price
from solvent.validation import iso_utc, positive_number


def restrict(snapshot: MarketSnapshot, instruments: Iterable[str]) -> MarketSnapshot:
    """``snapshot`` with only ``instruments`` quoted (in that order; index, rates and order books
    kept). Raises :class:`~solvent.errors.SolventInputError` naming ``instruments`` for a name
    the snapshot does not quote."""
    names = list(dict.fromkeys(instruments))
    quotes = {n: snapshot.quote(n, "instruments") for n in names}
    return MarketSnapshot(
        as_of=snapshot.as_of,
        index=snapshot.index,
        rates=snapshot.rates,
        quotes=MappingProxyType(quotes),
        order_books=snapshot.order_books,
    )


def reference_price(snapshot: MarketSnapshot, underlying: str, field: str = "underlying") -> float:
    """The USD index price that a move of ``underlying`` scales from (1 USD for a stablecoin the
    index does not list)."""
    if underlying in snapshot.index:
        return float(snapshot.index[underlying])
    if underlying in USD_ASSETS:
        return 1.0
    raise SolventInputError(field, f"no index price for {underlying!r}")


def _checked_price(value: float, field: str) -> float:
    price = positive_number(value, field)
    lo, hi = INDEX_BOUNDS
    if not lo <= price <= hi:
        raise SolventInputError(field, f"must be in [{lo:g}, {hi:g}] USD, got {price!r}")
    return price


def move_underlying(
    snapshot: MarketSnapshot, underlying: str, price: float, *, field: str = "price"
) -> MarketSnapshot:
    """``snapshot`` with ``underlying`` at ``price`` USD (see the module docstring)."""
    return move_underlyings(snapshot, {underlying: price}, field=field)


def move_underlyings(
    snapshot: MarketSnapshot,
    prices: Mapping[str, float],
    *,
    as_of: datetime | None = None,
    field: str = "prices",
) -> MarketSnapshot:
    """``snapshot`` with each underlying of ``prices`` at its USD price (see the module
    docstring); ``as_of``: a new valuation time (default: unchanged). Errors name ``field``
    (``field.ASSET`` for a price), or the instrument that has expired at ``as_of``."""
    single = len(prices) == 1 and field == "price"
    ratio: dict[str, float] = {}
    index = dict(snapshot.index)
    for asset, value in prices.items():
        where = field if single else f"{field}.{asset}"
        new = _checked_price(value, where)
        ratio[asset] = new / reference_price(snapshot, asset, where)
        index[asset] = new
    when = snapshot.as_of if as_of is None else as_of
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise SolventInputError("as_of", "must be timezone-aware")
    quotes = _moved_quotes(snapshot, ratio, when)
    books = {
        asset: _scaled_book(book, ratio[asset]) if asset in ratio else book
        for asset, book in snapshot.order_books.items()
    }
    return MarketSnapshot(
        as_of=when,
        index=MappingProxyType(index),
        rates=snapshot.rates,
        quotes=MappingProxyType(quotes),
        order_books=MappingProxyType(books),
    )


def _scaled_book(book: OrderBook, r: float) -> OrderBook:
    return OrderBook(book.bid_prices * r, book.bid_sizes, book.ask_prices * r, book.ask_sizes)


def _moved_quotes(
    snapshot: MarketSnapshot, ratio: Mapping[str, float], as_of: datetime
) -> dict[str, InstrumentQuote]:
    """Every quote of ``snapshot`` moved by ``ratio`` per underlying, at ``as_of``."""
    retimed = as_of != snapshot.as_of
    quotes = dict(snapshot.quotes)
    options: list[tuple[str, InstrumentQuote, float]] = []
    for name, q in snapshot.quotes.items():
        inst = q.instrument
        r = ratio.get(inst.underlying, 1.0)
        if inst.expiry is not None and inst.expiry <= as_of:
            raise SolventInputError(
                "as_of", f"{name} expired at {iso_utc(inst.expiry)} (as_of {iso_utc(as_of)})"
            )
        if inst.is_option:
            if r != 1.0 or retimed:
                options.append((name, q, r))
        elif r != 1.0 or retimed:
            time = inst.time_to_expiry(as_of) if inst.expiry is not None else 0.0
            quotes[name] = InstrumentQuote(inst, q.mark_price * r, q.forward * r, q.mark_iv, time)
    if options:
        quotes.update(_remarked_options(snapshot, options, as_of))
    return quotes


def _remarked_options(
    snapshot: MarketSnapshot, options: list[tuple[str, InstrumentQuote, float]], as_of: datetime
) -> dict[str, InstrumentQuote]:
    """Options re-marked with Black-76 at their moved forward and unchanged IV (one vectorized
    call), as :func:`solvent.market.snapshot.build_snapshot` marks an option given its IV."""
    n = len(options)
    forward = np.fromiter((q.forward * r for _, q, r in options), np.float64, n)
    strike = np.fromiter((float(q.instrument.strike or math.nan) for _, q, _ in options), float, n)
    time = np.fromiter((q.instrument.time_to_expiry(as_of) for _, q, _ in options), np.float64, n)
    vol = np.fromiter((float(q.mark_iv or 0.0) for _, q, _ in options), np.float64, n)
    is_call = np.fromiter((q.instrument.option_type == "call" for _, q, _ in options), bool, n)
    inverse = np.fromiter((q.instrument.is_inverse for _, q, _ in options), bool, n)
    discount = np.exp(-snapshot.rates.get("USD", 0.0) * time)
    usd = black76_price(forward, strike, time, vol, is_call, discount)
    mark = np.where(inverse, usd / forward, usd)
    return {
        name: InstrumentQuote(
            q.instrument, float(mark[j]), float(forward[j]), q.mark_iv, float(time[j])
        )
        for j, (name, q, _) in enumerate(options)
    }
