"""Fill prices of liquidation trades: walking the snapshot's order books (docs/formats.md 5).

A trade of ``quantity`` units of an instrument on underlying ``u`` is priced by its
delta-equivalent in the book of ``u``: ``coins = |quantity x contract_size x delta|`` (delta 1 for
futures, perpetuals and spot; the Black delta for options). The book side it walks is the one the
delta-equivalent trades against (a sale of delta walks the bids). The average fill of those coins
from ``offset`` (what the same account already took from that side in this run) gives a relative
impact against the book's mid, ``impact = |vwap / mid - 1|``, and the instrument's fill is

    price = mark -/+ |delta| x forward x impact    (USD per unit; an inverse option: / forward)

(a sale below the mark, a purchase above it; an option never sells below 0). The part beyond the
visible depth fills at the last level made ``beyond_depth_penalty`` worse. Without a book for the
underlying, trades fill at the mark (no slippage). Pure arrays, vectorized over trades.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.margin.protocol import PricedMarket
from solvent.market.order_book import OrderBook
from solvent.pricing.unit_greeks import table_greeks

_FAR = 1e30
"""Cumulative size of the virtual level beyond the visible book (coin)."""


@dataclass(frozen=True, slots=True)
class SideDepth:
    """Knots of one book side: cumulative size (coin) and notional (USD), from 0, with a last
    virtual level at the penalized worst price."""

    size: FloatArray
    notional: FloatArray


@dataclass(frozen=True, slots=True)
class Depths:
    """Every underlying's two sides (``None`` where the snapshot has no book) and mid (USD)."""

    bids: tuple[SideDepth | None, ...]
    asks: tuple[SideDepth | None, ...]
    mid: FloatArray


def _side(prices: FloatArray, sizes: FloatArray, worse: float) -> SideDepth | None:
    if prices.size == 0:
        return None
    size = np.concatenate(([0.0], np.cumsum(sizes)))
    notional = np.concatenate(([0.0], np.cumsum(prices * sizes)))
    last = float(prices[-1]) * worse
    size = np.append(size, size[-1] + _FAR)
    notional = np.append(notional, notional[-1] + _FAR * last)
    return SideDepth(size, notional)


def book_depths(market: PricedMarket, penalty: float) -> Depths:
    """The depth of every underlying of ``market`` (``table.underlyings`` order)."""
    bids: list[SideDepth | None] = []
    asks: list[SideDepth | None] = []
    mids: list[float] = []
    for u in market.table.underlyings:
        book: OrderBook | None = market.snapshot.order_books.get(u)
        if book is None or (book.bid_prices.size == 0 and book.ask_prices.size == 0):
            bids.append(None)
            asks.append(None)
            mids.append(np.nan)
            continue
        if book.bid_prices.size and book.ask_prices.size:
            mid = 0.5 * (float(book.bid_prices[0]) + float(book.ask_prices[0]))
        else:
            mid = float(book.bid_prices[0] if book.bid_prices.size else book.ask_prices[0])
        bids.append(_side(book.bid_prices, book.bid_sizes, 1.0 - penalty))
        asks.append(_side(book.ask_prices, book.ask_sizes, 1.0 + penalty))
        mids.append(mid)
    return Depths(tuple(bids), tuple(asks), np.asarray(mids, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class Pricing:
    """Per instrument of the market: ``delta`` (per unit of underlying), ``forward`` (USD),
    ``mark`` (price unit), ``contract_size``, and the book depths."""

    delta: FloatArray
    forward: FloatArray
    mark: FloatArray
    depths: Depths

    @classmethod
    def of(cls, market: PricedMarket, penalty: float) -> Pricing:
        """Greeks and depths of ``market``, computed once per run."""
        greeks = table_greeks(market.table, market.columns)
        return cls(
            np.asarray(greeks.delta, dtype=np.float64),
            np.asarray(market.columns.forward, dtype=np.float64),
            np.asarray(market.columns.mark_price, dtype=np.float64),
            book_depths(market, penalty),
        )


@dataclass(frozen=True, slots=True)
class Fills:
    """Fill of each trade: ``price`` (instrument price unit), ``coins`` walked in the book (delta
    equivalent), ``buys_delta`` (whether the asks were walked)."""

    price: FloatArray
    coins: FloatArray
    buys_delta: FloatArray


def fill_prices(
    market: PricedMarket,
    pricing: Pricing,
    cols: IntArray,
    trade: FloatArray,
    offset_bids: FloatArray,
    offset_asks: FloatArray,
) -> Fills:
    """Fill price of each trade ``trade[k]`` (signed units) of instrument ``cols[k]``, walking
    its underlying's book from the given offsets (coin already taken from each side)."""
    table = market.table
    delta = pricing.delta[cols]
    coins = np.abs(trade * table.contract_size[cols] * delta)
    buys = trade * delta > 0
    impact = np.zeros(len(cols), dtype=np.float64)
    u_of = table.underlying_code[cols]
    for u in np.unique(u_of).tolist():
        pick = np.flatnonzero(u_of == u)
        mid = float(pricing.depths.mid[u])
        for side, mask in (
            (pricing.depths.asks[u], buys[pick]),
            (pricing.depths.bids[u], ~buys[pick]),
        ):
            rows = pick[mask]
            if side is None or rows.size == 0:
                continue
            start = (offset_asks if side is pricing.depths.asks[u] else offset_bids)[rows]
            stop = start + coins[rows]
            notional = np.interp(stop, side.size, side.notional) - np.interp(
                start, side.size, side.notional
            )
            vwap = np.divide(
                notional, coins[rows], out=np.full(rows.size, mid), where=coins[rows] > 0
            )
            impact[rows] = np.abs(vwap / mid - 1.0)
    shift = np.abs(delta) * pricing.forward[cols] * impact
    inverse_option = table.is_option[cols] & table.is_inverse[cols]
    shift = np.where(inverse_option, shift / pricing.forward[cols], shift)
    mark = pricing.mark[cols]
    price = np.where(trade > 0, mark + shift, mark - shift)
    price = np.where(table.is_option[cols], np.maximum(price, 0.0), price)
    return Fills(price, coins, buys.astype(np.float64))


def trade_cash(
    market: PricedMarket, cols: IntArray, trade: FloatArray, price: FloatArray, mark: FloatArray
) -> FloatArray:
    """Cash (settlement asset, signed: ``> 0`` received) of each trade, the account's positions
    being valued at ``mark`` (unrealized P&L settled at the mark):

    - futures, perpetuals, spot, linear: ``-trade x (price - mark) x contract_size``;
    - inverse: that USD amount / ``price`` (coin, as the ledger realizes inverse P&L);
    - options: the premium ``-trade x price x contract_size`` (the position's mark value leaves
      the equity with it)."""
    table = market.table
    size = table.contract_size[cols]
    delta_one = -trade * (price - mark) * size
    delta_one = np.where(
        table.is_inverse[cols],
        np.divide(delta_one, price, out=np.zeros_like(price), where=price > 0),
        delta_one,
    )
    premium = -trade * price * size
    return np.asarray(np.where(table.is_option[cols], premium, delta_one), dtype=np.float64)


def mark_cash(
    market: PricedMarket, cols: IntArray, trade: FloatArray, mark: FloatArray
) -> FloatArray:
    """:func:`trade_cash` of the same trades at the mark (0 for delta-one, the premium at the
    mark for options): the cost of a trade is its cash at the mark minus its cash."""
    return trade_cash(market, cols, trade, mark, mark)
