"""Perpetual marks from the venue perpetuals' basis: index + EMA of (perpetual mid - index),
clamped to the perpetual band; a price path leaves them moving with the index."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from solvent.ledger.store import Ledger
from solvent.market.marks import MarkConfig
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.binance import is_perpetual_stream
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import IndexPrices, VenueQuote
from solvent.realtime.latency import TickTimer
from solvent.realtime.market_state import LiveMarket, MarketConfig
from solvent.realtime.sources import feed_source, load_feed

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
T0 = datetime(2024, 8, 8, 23, 54, tzinfo=UTC)
PERPS = ("BTC-PERPETUAL", "BTC_USDC-PERPETUAL")


def test_perpetual_streams_are_told_from_spot_and_dated_futures() -> None:
    assert is_perpetual_stream("binance-usdm:BTCUSDT")
    assert is_perpetual_stream("binance-coinm:BTCUSD_PERP")
    assert not is_perpetual_stream("binance-coinm:BTCUSD_240927")
    assert not is_perpetual_stream("binance-usdm:BTCUSDT_240927")
    assert not is_perpetual_stream("binance-spot:BTCUSDT")
    assert not is_perpetual_stream("path")


def test_the_recorded_perpetuals_quote_as_perpetuals() -> None:
    quotes = [e for e in load_feed(FEEDS) if isinstance(e, VenueQuote)]
    kinds = {(q.stream, q.perpetual) for q in quotes}
    assert kinds == {
        ("binance-spot:BTCUSDT", False),
        ("binance-usdm:BTCUSDT", True),
        ("binance-coinm:BTCUSD_PERP", True),
    }


def _quote(seconds: float, stream: str, bid: float, ask: float) -> VenueQuote:
    return VenueQuote(
        0, T0 + timedelta(seconds=seconds), stream, "BTC", bid, ask, is_perpetual_stream(stream)
    )


def _tick(live: LiveMarket, *quotes: VenueQuote) -> None:
    for q in quotes:
        live.add(q)
    live.tick(TickTimer(), PERPS)


def test_a_constant_premium_marks_the_perpetuals_at_index_plus_basis(
    market: MarketSnapshot,
) -> None:
    live = LiveMarket(market)
    spot, perp = "binance-spot:BTCUSDT", "binance-usdm:BTCUSDT"
    for k in range(5):  # the spot and the perpetual, 60,090 over 60,000: a 0.15 % premium
        _tick(live, _quote(k, spot, 59_999.0, 60_001.0), _quote(k, perp, 60_089.0, 60_091.0))
    scale = market.index["BTC"] / live.to_state()["anchor"]["BTC"]
    expected = live.index["BTC"] + 90.0 * scale  # perpetual mid - spot mid, on the market's scale
    for name in PERPS:
        assert live.snapshot.quote(name).mark_price == pytest.approx(expected, rel=1e-12)
        assert live.snapshot.quote(name).forward == live.snapshot.quote(name).mark_price
    assert live.perpetual_marks.keys() == set(PERPS)
    # the base's own premium (100,050 on 100,000) is replaced by the venues'
    assert live.snapshot.quote("BTC-PERPETUAL").mark_price != pytest.approx(100_050.0)


def test_the_basis_is_smoothed_over_its_half_life_and_clamped_to_the_band(
    market: MarketSnapshot,
) -> None:
    config = MarketConfig(marks=MarkConfig(half_life_s=10.0, perpetual_band=0.005))
    live = LiveMarket(market, config)
    spot, usdm, coinm = "binance-spot:BTCUSDT", "binance-usdm:BTCUSDT", "binance-coinm:BTCUSD_PERP"
    at = [_quote(0, s, 59_999.0, 60_001.0) for s in (spot, usdm, coinm)]
    _tick(live, *at)  # no basis: every venue at 60,000
    mark0 = live.snapshot.quote("BTC-PERPETUAL").mark_price
    assert mark0 == pytest.approx(live.index["BTC"], rel=1e-12)
    # 10 s later both perpetuals quote 1 % over the spot: the basis observed is 600 USD on the
    # feed's scale, half of it taken in one half-life; the mark stays within 0.5 % of the index.
    _tick(
        live,
        _quote(10, spot, 59_999.0, 60_001.0),
        _quote(10, usdm, 60_599.0, 60_601.0),
        _quote(10, coinm, 60_599.0, 60_601.0),
    )
    index = live.index["BTC"]
    scale = market.index["BTC"] / live.to_state()["anchor"]["BTC"]
    ema = 0.5 * 600.0 * scale  # alpha = 1 - exp(-ln 2) after one half-life
    mark = live.snapshot.quote("BTC-PERPETUAL").mark_price
    assert mark == pytest.approx(min(index + ema, index * 1.005), rel=1e-12)
    assert live.to_state()["basis"]["BTC-PERPETUAL"][0] == pytest.approx(ema, rel=1e-12)
    for k in range(2, 12):  # the premium lasts: the EMA reaches it, the clamp holds the mark
        _tick(
            live,
            _quote(10 * k, spot, 59_999.0, 60_001.0),
            _quote(10 * k, usdm, 61_199.0, 61_201.0),
            _quote(10 * k, coinm, 61_199.0, 61_201.0),
        )
    index = live.index["BTC"]
    assert live.snapshot.quote("BTC-PERPETUAL").mark_price == pytest.approx(index * 1.005)


def test_stale_perpetual_quotes_leave_the_basis_where_it_was(market: MarketSnapshot) -> None:
    live = LiveMarket(market)
    spot, spot2, perp = "binance-spot:BTCUSDT", "okx-spot:BTCUSDT", "binance-usdm:BTCUSDT"
    _tick(
        live,
        _quote(0, spot, 59_999.0, 60_001.0),
        _quote(0, spot2, 59_999.0, 60_001.0),
        _quote(0, perp, 60_029.0, 60_031.0),
    )
    before = live.to_state()["basis"]
    assert set(before) == set(PERPS)
    # only the spot venues quote on: after max_age_s the perpetual's quote is stale
    _tick(live, _quote(30, spot, 59_999.0, 60_001.0), _quote(30, spot2, 59_999.0, 60_001.0))
    assert live.to_state()["basis"] == before
    # the spot falls 10 % meanwhile: the perpetuals' marks follow the index at the basis held
    _tick(live, _quote(31, spot, 53_999.0, 54_001.0), _quote(31, spot2, 53_999.0, 54_001.0))
    assert live.to_state()["basis"] == before
    for name in PERPS:
        mark = live.snapshot.quote(name).mark_price
        assert mark == pytest.approx(live.index["BTC"] + before[name][0], rel=1e-12)
        assert live.perpetual_marks[name] == mark


def test_a_price_path_moves_the_perpetuals_with_the_index(market: MarketSnapshot) -> None:
    live = LiveMarket(market)
    live.add(IndexPrices(1, T0, "path", {"BTC": 90_000.0}))
    live.tick(TickTimer(), PERPS)
    assert live.perpetual_marks == {}
    assert live.snapshot.quote("BTC-PERPETUAL").mark_price == pytest.approx(100_050.0 * 0.9)


def test_the_basis_can_be_switched_off(market: MarketSnapshot) -> None:
    live = LiveMarket(market, MarketConfig(perpetual_basis=False))
    _tick(
        live,
        _quote(0, "binance-spot:BTCUSDT", 59_999.0, 60_001.0),
        _quote(0, "binance-usdm:BTCUSDT", 60_299.0, 60_301.0),
    )
    assert live.perpetual_marks == {}
    ratio = live.index["BTC"] / market.index["BTC"]
    assert live.snapshot.quote("BTC-PERPETUAL").mark_price == pytest.approx(100_050.0 * ratio)


def test_a_checkpoint_restores_the_basis(market: MarketSnapshot) -> None:
    live = LiveMarket(market)
    for k in range(3):
        _tick(
            live,
            _quote(k, "binance-spot:BTCUSDT", 59_999.0 + k, 60_001.0 + k),
            _quote(k, "binance-usdm:BTCUSDT", 60_049.0 + 3 * k, 60_051.0 + 3 * k),
        )
    again = LiveMarket(market)
    again.restore(live.to_state())
    for name in PERPS:
        assert again.snapshot.quote(name).mark_price == live.snapshot.quote(name).mark_price
    assert again.to_state() == live.to_state()


def test_the_recorded_feed_marks_the_perpetuals_from_the_venue_perpetuals(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = RealtimeEngine.from_ledger(seeded_ledger, market, EngineConfig(dynamic=False))
    asyncio.run(engine.run(feed_source(FEEDS)))
    index = engine.live.index["BTC"]
    basis = engine.live.to_state()["basis"]
    assert set(basis) == set(PERPS)
    for name in PERPS:
        mark = engine.market.quote(name).mark_price
        assert mark == pytest.approx(index + basis[name][0], rel=1e-12)
        assert abs(mark / index - 1.0) <= 0.005
    # not the base's 0.05 % premium carried along: the venues' (perpetual mid - spot mid)
    assert abs(engine.market.quote("BTC-PERPETUAL").mark_price / index - 1.0005) > 1e-5
