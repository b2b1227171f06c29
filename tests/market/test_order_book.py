"""Order books of docs/formats.md 5: best level first, positive finite levels, errors name the
level."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from solvent.errors import SolventInputError
from solvent.market.order_book import parse_order_book

REPO = Path(__file__).resolve().parents[2]
BINANCE = REPO / "tests" / "data" / "orderbook" / "binance_spot_btcusdt_20240808.json"


def test_parses_levels_best_first() -> None:
    book = parse_order_book(
        {"bids": [[100.0, 1.0], [99.5, 2.0], [99, 3]], "asks": [[100.5, 0.5], [101, 4.0]]}, "b"
    )
    np.testing.assert_array_equal(book.bid_prices, [100.0, 99.5, 99.0])
    np.testing.assert_array_equal(book.bid_sizes, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(book.ask_prices, [100.5, 101.0])
    np.testing.assert_array_equal(book.ask_sizes, [0.5, 4.0])
    assert book.bid_prices.dtype == np.float64


def test_one_sided_and_empty_books() -> None:
    assert parse_order_book({"bids": [[1.0, 1.0]]}, "b").ask_prices.size == 0
    empty = parse_order_book({}, "b")
    assert empty.bid_prices.size == empty.ask_prices.size == 0


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "order_books.BTC"),
        ({"bids": [], "asks": [], "depth": 5}, "order_books.BTC.depth"),
        ({"bids": "100x1"}, "order_books.BTC.bids"),
        ({"bids": [[100.0]]}, "order_books.BTC.bids[0]"),
        ({"bids": [[100.0, 1.0, 2.0]]}, "order_books.BTC.bids[0]"),
        ({"bids": [["100", 1.0]]}, "order_books.BTC.bids[0]"),
        ({"bids": [[True, 1.0]]}, "order_books.BTC.bids[0]"),
        ({"bids": [[100.0, 1.0], [float("nan"), 1.0]]}, "order_books.BTC.bids[1][0]"),
        ({"asks": [[-1.0, 1.0]]}, "order_books.BTC.asks[0][0]"),
        ({"asks": [[0.0, 1.0]]}, "order_books.BTC.asks[0][0]"),
        ({"asks": [[float("inf"), 1.0]]}, "order_books.BTC.asks[0][0]"),
        ({"asks": [[10**400, 1.0]]}, "order_books.BTC.asks[0][0]"),
        ({"asks": [[100, 10**400]]}, "order_books.BTC.asks[0][1]"),
        ({"asks": [[100.0, 0.0]]}, "order_books.BTC.asks[0][1]"),
        ({"asks": [[100.0, float("nan")]]}, "order_books.BTC.asks[0][1]"),
        ({"bids": [[99.0, 1.0], [100.0, 1.0]]}, "order_books.BTC.bids"),  # worst first
        ({"bids": [[99.0, 1.0], [99.0, 1.0]]}, "order_books.BTC.bids"),  # repeated level
        ({"asks": [[101.0, 1.0], [100.0, 1.0]]}, "order_books.BTC.asks"),
        ({"bids": [[100.0, 1.0]], "asks": [[100.0, 1.0]]}, "order_books.BTC"),  # crossed
    ],
)
def test_bad_books_name_the_field(raw: Any, field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        parse_order_book(raw, "order_books.BTC")
    assert err.value.field == field, str(err.value)


def test_real_binance_book_parses() -> None:
    """A real depth snapshot (tests/data/orderbook, see its README) passes validation."""
    if not BINANCE.is_file():
        pytest.skip("sample order book absent")
    raw = json.loads(BINANCE.read_text(encoding="utf-8"))
    bids = raw.get("bids") if isinstance(raw, dict) else None
    if bids is None:
        pytest.skip("sample order book is not in the bids/asks layout")
    levels = {
        side: [[float(p), float(s)] for p, s, *_ in raw[side] if float(s) > 0]
        for side in ("bids", "asks")
    }
    book = parse_order_book(levels, "order_books.BTC")
    assert book.bid_prices.size == len(levels["bids"]) > 0
    assert book.bid_prices[0] < book.ask_prices[0]
    assert np.all(np.diff(book.bid_prices) < 0) and np.all(np.diff(book.ask_prices) > 0)
