"""Market JSON written from a snapshot reads back as the same snapshot: the demo's market, a
moved one (index, futures and perpetual marks, option forwards and IVs, order books) and a
retimed one; option premiums are re-derived from their IVs by the reader (relative 1e-12)."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import numpy as np
import pytest

from solvent.engine.demo import demo_market
from solvent.market.moves import move_underlyings
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.market.writer import market_to_json

MARK_RTOL = 1e-12
"""Option premiums are rebuilt from ``mark_iv`` by the reader (module docstring of
``solvent.market.writer``); everything else round-trips exactly."""


def _round_trip(market: MarketSnapshot) -> MarketSnapshot:
    return parse_market(json.loads(json.dumps(market_to_json(market))))


def _assert_same(back: MarketSnapshot, market: MarketSnapshot) -> None:
    assert back.as_of == market.as_of
    assert dict(back.index) == dict(market.index)
    assert dict(back.rates) == dict(market.rates)
    assert list(back.quotes) == list(market.quotes)
    for name, quote in market.quotes.items():
        again = back.quotes[name]
        assert again.instrument == quote.instrument, name
        assert again.forward == quote.forward, name
        assert again.mark_iv == quote.mark_iv, name
        assert again.time_to_expiry == quote.time_to_expiry, name
        if quote.instrument.is_option:
            assert math.isclose(again.mark_price, quote.mark_price, rel_tol=MARK_RTOL, abs_tol=0)
        else:
            assert again.mark_price == quote.mark_price, name
    assert set(back.order_books) == set(market.order_books)
    for asset, book in market.order_books.items():
        again_book = back.order_books[asset]
        for side in ("bid_prices", "bid_sizes", "ask_prices", "ask_sizes"):
            assert np.array_equal(getattr(again_book, side), getattr(book, side)), (asset, side)


@pytest.fixture(scope="module")
def market() -> MarketSnapshot:
    return demo_market()


def test_the_demo_market_round_trips(market: MarketSnapshot) -> None:
    assert market.order_books and any(q.instrument.is_option for q in market.quotes.values())
    _assert_same(_round_trip(market), market)


@pytest.mark.parametrize("factor", [0.6, 0.96, 1.25])
def test_a_moved_market_round_trips(market: MarketSnapshot, factor: float) -> None:
    moved = move_underlyings(market, {a: p * factor for a, p in market.index.items()})
    assert moved.index["BTC"] == market.index["BTC"] * factor
    _assert_same(_round_trip(moved), moved)


def test_a_retimed_market_round_trips(market: MarketSnapshot) -> None:
    later = move_underlyings(
        market, {"BTC": market.index["BTC"] * 0.7}, as_of=market.as_of + timedelta(hours=1)
    )
    _assert_same(_round_trip(later), later)


def test_the_written_json_is_the_documented_format(market: MarketSnapshot) -> None:
    raw = market_to_json(market)
    assert set(raw) == {"as_of", "index", "rates", "instruments", "order_books"}
    assert raw["as_of"].endswith("Z")
    option = next(r for r in raw["instruments"] if r["kind"] == "option")
    assert {"mark_price", "mark_iv", "forward", "strike", "expiry", "option_type"} <= set(option)
    book = raw["order_books"]["BTC"]
    assert book["bids"][0][0] < book["asks"][0][0]
