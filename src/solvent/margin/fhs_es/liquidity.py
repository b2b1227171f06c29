"""Liquidity add-on: the cost of closing an account's net delta into the order book (USD).

For an underlying whose order book is in the market snapshot (docs/formats.md 5), an account with
net delta ``D`` coins (sum over its positions of quantity x delta per unit: 1 for delta-1, the
Black-76 forward delta for options, times the contract size) must sell ``D`` into the bids when
``D > 0`` and buy ``-D`` from the asks when ``D < 0``. The cost is measured against the mid::

    cost(D) = |D| * mid - proceeds_bids(D)        (D > 0, filled part)
    cost(D) = cost_asks(-D) - |D| * mid           (D < 0, filled part)
            + unfilled * mid * unfilled_slippage   (the part beyond the visible depth)

times ``factor``. Without a book for the underlying the add-on is 0 (documented: the scenarios
alone then carry the risk). Vectorized over accounts with ``np.interp`` on cumulative depth.
"""

from __future__ import annotations

import numpy as np

from solvent.arrays import FloatArray
from solvent.market.order_book import OrderBook


def _walk(prices: FloatArray, sizes: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(notional of the filled part, unfilled quantity) of taking ``q >= 0`` from one side."""
    cum_size = np.concatenate([[0.0], np.cumsum(sizes)])
    cum_notional = np.concatenate([[0.0], np.cumsum(prices * sizes)])
    filled = np.minimum(q, cum_size[-1])
    return np.interp(filled, cum_size, cum_notional), q - filled


def close_out_cost(book: OrderBook, net_delta: FloatArray, unfilled_slippage: float) -> FloatArray:
    """USD cost (>= 0) of closing each net delta (coins, signed) into ``book`` (see module)."""
    d = np.asarray(net_delta, dtype=np.float64)
    has_bid, has_ask = book.bid_prices.size > 0, book.ask_prices.size > 0
    if has_bid and has_ask:
        mid = 0.5 * (float(book.bid_prices[0]) + float(book.ask_prices[0]))
    elif has_bid or has_ask:
        mid = float(book.bid_prices[0] if has_bid else book.ask_prices[0])
    else:
        return np.zeros_like(d)
    sell = np.maximum(d, 0.0)
    buy = np.maximum(-d, 0.0)
    cost = np.zeros_like(d)
    if has_bid:
        proceeds, unfilled_sell = _walk(book.bid_prices, book.bid_sizes, sell)
        cost += (sell - unfilled_sell) * mid - proceeds
    else:
        unfilled_sell = sell
    if has_ask:
        paid, unfilled_buy = _walk(book.ask_prices, book.ask_sizes, buy)
        cost += paid - (buy - unfilled_buy) * mid
    else:
        unfilled_buy = buy
    cost += (unfilled_sell + unfilled_buy) * mid * unfilled_slippage
    out: FloatArray = np.maximum(cost, 0.0)
    return out
