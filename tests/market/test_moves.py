"""Market moves (docs/formats.md 10, ``liquidation-price``): one underlying to another price, every
instrument on it scaled by the same ratio, options at their mark IV (sticky strike)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import BTC, ETH, market
from solvent.errors import SolventInputError
from solvent.margin.moved import move_priced
from solvent.margin.protocol import PricedMarket
from solvent.market.moves import move_underlying, move_underlyings, restrict
from solvent.market.order_book import OrderBook
from solvent.pricing.black76 import black76_price
from solvent.pricing.columns import MarketColumns

CALL = "BTC-27MAR26-110000-C"
PUT = "BTC-27MAR26-90000-P"
LINEAR = "BTC_USDC-27MAR26-100000-C"


def test_every_instrument_on_the_underlying_scales_by_the_ratio() -> None:
    m = market([{"name": LINEAR, "mark_iv": 0.5}])
    moved = move_underlying(m, "BTC", 80_000.0)
    r = 0.8
    assert moved.index["BTC"] == 80_000.0
    assert moved.index["ETH"] == m.index["ETH"]
    for name in ("BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC-27MAR26"):
        assert moved.quote(name).mark_price == pytest.approx(m.quote(name).mark_price * r)
        assert moved.quote(name).forward == pytest.approx(m.quote(name).forward * r)
    for name in (CALL, PUT, LINEAR):
        before, after = m.quote(name), moved.quote(name)
        assert after.forward == pytest.approx(before.forward * r, rel=1e-15)
        assert after.mark_iv == before.mark_iv  # sticky strike
        assert after.time_to_expiry == before.time_to_expiry
        usd = black76_price(
            after.forward,
            after.instrument.strike,
            after.time_to_expiry,
            after.mark_iv,
            after.instrument.option_type == "call",
        )
        expected = usd / after.forward if after.instrument.is_inverse else usd
        assert after.mark_price == pytest.approx(float(expected), rel=1e-12)
    # a call loses value when the underlying falls, a put gains
    assert moved.quote(CALL).mark_price_usd < m.quote(CALL).mark_price_usd
    assert moved.quote(PUT).mark_price_usd > m.quote(PUT).mark_price_usd
    # other underlyings untouched, the input unchanged
    assert moved.quote("ETH-PERPETUAL") == m.quote("ETH-PERPETUAL")
    assert moved.quote("ETH-27MAR26-4000-C") == m.quote("ETH-27MAR26-4000-C")
    assert m.index["BTC"] == BTC and m.quote("BTC-PERPETUAL").mark_price == BTC
    assert moved.as_of == m.as_of and moved.rates == m.rates


def test_a_move_and_back_restores_the_marks() -> None:
    m = market()
    back = move_underlying(move_underlying(m, "BTC", 37_123.5), "BTC", BTC)
    for name, quote in m.quotes.items():
        assert back.quote(name).mark_price == pytest.approx(quote.mark_price, rel=1e-12)
        assert back.quote(name).forward == pytest.approx(quote.forward, rel=1e-12)


def test_the_order_book_of_the_underlying_moves_too() -> None:
    m = market()
    book = OrderBook(
        np.array([99_990.0, 99_900.0]),
        np.array([1.0, 2.0]),
        np.array([100_010.0]),
        np.array([3.0]),
    )
    m = dataclasses.replace(m, order_books={"BTC": book})
    moved = move_underlying(m, "BTC", 50_000.0)
    assert moved.order_books["BTC"].bid_prices.tolist() == [49_995.0, 49_950.0]
    assert moved.order_books["BTC"].ask_sizes.tolist() == [3.0]
    assert m.order_books["BTC"].bid_prices[0] == 99_990.0


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf"), 1e13, "1", True])
def test_a_bad_price_is_refused_naming_the_field(price: object) -> None:
    with pytest.raises(SolventInputError) as err:
        move_underlying(market(), "BTC", price)  # type: ignore[arg-type]
    assert err.value.field == "price"
    with pytest.raises(SolventInputError) as err:
        move_underlyings(market(), {"ETH": 3_000.0, "BTC": price})  # type: ignore[dict-item]
    assert err.value.field == "prices.BTC"


def test_an_unknown_underlying_is_refused() -> None:
    with pytest.raises(SolventInputError, match="no index price"):
        move_underlying(market(), "DOGE", 1.0)


def test_several_underlyings_and_a_new_time() -> None:
    m = market()
    later = m.as_of + timedelta(days=10)
    moved = move_underlyings(m, {"BTC": 90_000.0, "ETH": 4_400.0}, as_of=later)
    assert moved.as_of == later
    call = moved.quote("ETH-27MAR26-4000-C")
    assert call.forward == pytest.approx(ETH * 1.1)
    assert call.time_to_expiry == pytest.approx(m.quote(CALL).time_to_expiry - 10 / 365)
    assert moved.quote("BTC-27MAR26").mark_price == pytest.approx(BTC * 1.01 * 0.9)
    with pytest.raises(SolventInputError, match="expired") as err:
        move_underlyings(m, {}, as_of=m.as_of + timedelta(days=365))
    assert err.value.field == "as_of"


def test_restrict_keeps_only_the_named_instruments() -> None:
    m = market()
    small = restrict(m, ["BTC-PERPETUAL", CALL])
    assert list(small.quotes) == ["BTC-PERPETUAL", CALL]
    assert small.index == m.index
    with pytest.raises(SolventInputError):
        restrict(m, ["NOPE-PERPETUAL"])


def _assert_same(a: PricedMarket, b: PricedMarket) -> None:
    assert a.table.names == b.table.names
    for f in dataclasses.fields(MarketColumns):
        np.testing.assert_allclose(getattr(a.columns, f.name), getattr(b.columns, f.name), 1e-14)
    np.testing.assert_allclose(a.settlement_usd, b.settlement_usd, rtol=1e-15)
    assert a.snapshot.index == b.snapshot.index


@settings(max_examples=40, deadline=None)
@given(ratio=st.floats(0.01, 10.0), asset=st.sampled_from(["BTC", "ETH", "USDC"]))
def test_the_fast_path_equals_resolving_the_moved_snapshot(ratio: float, asset: str) -> None:
    m = market([{"name": LINEAR, "mark_iv": 0.5}])
    names = ["BTC-PERPETUAL", CALL, LINEAR, PUT, "ETH-27MAR26-4000-C", "BTC-27MAR26"]
    priced = PricedMarket.resolve(m, names)
    price = m.price_usd(asset) * ratio
    slow = PricedMarket.resolve(move_underlying(m, asset, price), names)
    _assert_same(move_priced(priced, asset, price), slow)
