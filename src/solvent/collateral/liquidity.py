"""Liquidity haircut: the slippage of selling a whole holding into the bid side of a book.

Pure array kernels (no I/O). A book side is an ``(n, 2)`` array of ``[price, size]`` rows, best
level first, sizes in coin and prices in the book's quote currency (USD-like).

For a holding of ``q`` coins, ``proceeds(q)`` walks the bids from the best one down; it is piecewise
linear in ``q`` (linear inside each level), so many holdings are valued at once with ``np.interp``
on the cumulative depth. The haircut is relative to the book's mid price:

    liquidity_haircut(q) = 1 - proceeds(q) / (q * mid)

so it already includes half the spread and grows as the holding eats into thinner levels. The part
of ``q`` beyond the visible depth is valued at ``mid * (1 - unfilled_haircut)`` (by default zero:
a book that cannot absorb the holding gives it no value beyond what it shows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError


@dataclass(frozen=True, slots=True)
class BidDepth:
    """Cumulative bid depth of one book: knots of the piecewise-linear proceeds function."""

    cumulative_size: FloatArray  # coin, starts at 0
    cumulative_proceeds: FloatArray  # quote currency, starts at 0
    mid: float  # quote currency per coin

    @property
    def depth(self) -> float:
        """Total visible bid size (coin)."""
        return float(self.cumulative_size[-1])


def _side(levels: object, field: str) -> FloatArray:
    array = np.asarray(levels, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise SolventInputError(field, "must be a list of [price, size] levels")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise SolventInputError(field, "prices and sizes must be finite and positive")
    return array


def bid_depth(bids: object, asks: object = (), field: str = "order_book") -> BidDepth:
    """Bid depth of a book; ``mid`` = (best bid + best ask) / 2, the best bid if no asks."""
    bid = _side(bids, f"{field}.bids")
    ask = _side(asks, f"{field}.asks")
    if bid.shape[0] == 0:
        raise SolventInputError(f"{field}.bids", "an order book needs at least one bid")
    if np.any(np.diff(bid[:, 0]) > 0):
        raise SolventInputError(f"{field}.bids", "bids must be sorted best (highest) first")
    best_bid = float(bid[0, 0])
    mid = 0.5 * (best_bid + float(ask[:, 0].min())) if ask.shape[0] else best_bid
    size = np.concatenate(([0.0], np.cumsum(bid[:, 1])))
    proceeds = np.concatenate(([0.0], np.cumsum(bid[:, 0] * bid[:, 1])))
    return BidDepth(size, proceeds, mid)


def sale_proceeds(
    depth: BidDepth, quantity: FloatArray, unfilled_haircut: float = 1.0
) -> FloatArray:
    """Proceeds (quote currency) of selling each ``quantity`` (coin, >= 0) into the bids."""
    q = np.asarray(quantity, dtype=np.float64)
    filled = np.minimum(q, depth.depth)
    proceeds = np.interp(filled, depth.cumulative_size, depth.cumulative_proceeds)
    rest = (q - filled) * depth.mid * (1.0 - unfilled_haircut)
    return np.asarray(proceeds + rest, dtype=np.float64)


def liquidity_haircut(
    depth: BidDepth, quantity: FloatArray, unfilled_haircut: float = 1.0
) -> FloatArray:
    """``1 - proceeds(q) / (q * mid)`` for each ``q`` (coin); 0 where ``q <= 0``.

    For an infinitesimal holding this is the half-spread (best bid vs mid)."""
    q = np.asarray(quantity, dtype=np.float64)
    positive = q > 0
    safe_q = np.where(positive, q, 1.0)
    proceeds = sale_proceeds(depth, safe_q, unfilled_haircut)
    haircut = 1.0 - proceeds / (safe_q * depth.mid)
    return np.asarray(np.where(positive, np.clip(haircut, 0.0, 1.0), 0.0), dtype=np.float64)
