"""Order books (docs/formats.md 5): price levels for liquidity haircuts and liquidation slippage."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from solvent.errors import SolventInputError


@dataclass(frozen=True, slots=True)
class OrderBook:
    """One side-by-side book: ``bid_prices``/``ask_prices`` in USD, sizes in coin, best level first.

    Bids are strictly decreasing in price and asks strictly increasing; sizes are positive.
    """

    bid_prices: NDArray[np.float64]
    bid_sizes: NDArray[np.float64]
    ask_prices: NDArray[np.float64]
    ask_sizes: NDArray[np.float64]


def _to_float(x: float) -> float:
    """``float(x)``, with JSON integers beyond the float range as infinity (rejected later)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf


def _levels(raw: object, field: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise SolventInputError(field, "must be a list of [price, size] levels")
    prices, sizes = [], []
    for i, level in enumerate(raw):
        if (
            not isinstance(level, Sequence)
            or isinstance(level, str)
            or len(level) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in level)
        ):
            raise SolventInputError(f"{field}[{i}]", "must be [price, size] numbers")
        price, size = _to_float(level[0]), _to_float(level[1])
        if not (math.isfinite(price) and price > 0):
            raise SolventInputError(f"{field}[{i}][0]", f"price must be > 0, got {level[0]!r}")
        if not (math.isfinite(size) and size > 0):
            raise SolventInputError(f"{field}[{i}][1]", f"size must be > 0, got {level[1]!r}")
        prices.append(price)
        sizes.append(size)
    return np.asarray(prices, dtype=np.float64), np.asarray(sizes, dtype=np.float64)


def parse_order_book(raw: object, field: str) -> OrderBook:
    """Validated :class:`OrderBook` from ``{"bids": [[p, s], ...], "asks": [...]}``."""
    if not isinstance(raw, dict):
        raise SolventInputError(field, "must be an object with bids and asks")
    unknown = set(raw) - {"bids", "asks"}
    if unknown:
        raise SolventInputError(f"{field}.{sorted(unknown)[0]}", "unknown field")
    bid_p, bid_s = _levels(raw.get("bids", []), f"{field}.bids")
    ask_p, ask_s = _levels(raw.get("asks", []), f"{field}.asks")
    if bid_p.size > 1 and not np.all(np.diff(bid_p) < 0):
        raise SolventInputError(f"{field}.bids", "prices must strictly decrease (best first)")
    if ask_p.size > 1 and not np.all(np.diff(ask_p) > 0):
        raise SolventInputError(f"{field}.asks", "prices must strictly increase (best first)")
    if bid_p.size and ask_p.size and bid_p[0] >= ask_p[0]:
        raise SolventInputError(field, "crossed book: best bid >= best ask")
    return OrderBook(bid_p, bid_s, ask_p, ask_s)
