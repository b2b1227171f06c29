"""The live market: chain updates refit the surface at most once per throttle window; index moves
scale the delta-one marks and keep option IVs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.events import ChainUpdate, IndexPrices
from solvent.realtime.latency import TickTimer
from solvent.realtime.market_state import LiveMarket, MarketConfig

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
OPTION = "BTC-27MAR26-100000-C"


def test_chain_updates_are_refitted_at_most_once_per_window(market: MarketSnapshot) -> None:
    live = LiveMarket(market, MarketConfig(surface_refit_s=5.0))
    names = tuple(market.quotes)
    live.add(ChainUpdate(1, T0, "chain", {OPTION: 0.70}))
    first = live.tick(TickTimer(), names)
    assert first.refit
    iv_after_first = first.snapshot.quotes[OPTION].mark_iv
    before = market.quotes[OPTION].mark_iv
    assert before is not None and iv_after_first is not None
    assert iv_after_first > before + 0.01  # the fitted surface moved toward the new 70 %
    live.add(ChainUpdate(2, T0 + timedelta(seconds=1), "chain", {OPTION: 0.40}))
    held = live.tick(TickTimer(), names)
    assert not held.refit  # inside the window: the update waits
    assert held.snapshot.quotes[OPTION].mark_iv == iv_after_first
    live.add(IndexPrices(3, T0 + timedelta(seconds=6), "path", {"BTC": 100_000.0}))
    later = live.tick(TickTimer(), names)
    assert later.refit  # the pending update is applied once the window has passed
    assert later.snapshot.quotes[OPTION].mark_iv < iv_after_first


def test_an_index_move_scales_marks_and_keeps_ivs(market: MarketSnapshot) -> None:
    live = LiveMarket(market)
    names = tuple(market.quotes)
    live.add(IndexPrices(1, T0, "path", {"BTC": 90_000.0}))
    tick = live.tick(TickTimer(), names)
    assert tick.moved == frozenset({"BTC"})
    quotes = tick.snapshot.quotes
    assert quotes["BTC-PERPETUAL"].mark_price == pytest.approx(100_050.0 * 0.9)
    assert quotes[OPTION].mark_iv == market.quotes[OPTION].mark_iv
    assert quotes[OPTION].forward == pytest.approx(market.quotes[OPTION].forward * 0.9)
    # a refused index (out of bounds) keeps the previous one and says so
    live.add(IndexPrices(2, T0 + timedelta(seconds=1), "path", {"BTC": float("nan")}))
    held = live.tick(TickTimer(), names)
    assert (
        live.index["BTC"] == 90_000.0 and held.faults and held.faults[0].kind.value == "index_held"
    )
