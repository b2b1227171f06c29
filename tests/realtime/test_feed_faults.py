"""Recorded feeds: the shipped excerpt replays clean; each feed fault is detected, published and
handled as docs/engine.md says (gaps, duplicates, out of order, stale, crossed, NaN)."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
from pathlib import Path
from typing import Any

import pytest

from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import EventKind, FaultKind, FeedFault, VenueQuote
from solvent.realtime.sources import feed_source, load_feed

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
NS = 1_000_000_000
T0 = 1_723_161_254 * NS


def _line(seconds: float, message: dict[str, Any]) -> str:
    return f"{T0 + int(seconds * NS)} {json.dumps(message)}"


def _spot_diff(u0: int, u1: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    return {
        "stream": "btcusdt@depth@100ms",
        "data": {
            "e": "depthUpdate",
            "E": 1,
            "s": "BTCUSDT",
            "U": u0,
            "u": u1,
            "b": bids,
            "a": asks,
        },
    }


def _perp_diff(
    u0: int, u1: int, pu: int, bids: list[list[str]], asks: list[list[str]]
) -> dict[str, Any]:
    return {
        "stream": "btcusdt@depth@0ms",
        "data": {
            "e": "depthUpdate",
            "E": 1,
            "T": 1,
            "s": "BTCUSDT",
            "U": u0,
            "u": u1,
            "pu": pu,
            "b": bids,
            "a": asks,
        },
    }


def _snapshot(update: int, bid: str, ask: str, futures: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"lastUpdateId": update, "bids": [[bid, "5"]], "asks": [[ask, "5"]]}
    if futures:
        out.update(E=1, T=1)
    return out


def _trade(trade_id: int, price: str) -> dict[str, Any]:
    return {
        "stream": "btcusdt@trade",
        "data": {"e": "trade", "E": 1, "s": "BTCUSDT", "t": trade_id, "p": price, "q": "0.1"},
    }


def _write(directory: Path, name: str, lines: list[str]) -> None:
    (directory / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def _healthy_feed(directory: Path, spot: list[str], perp: list[str]) -> Path:
    _write(directory, "binance_spot_btcusdt_20240808.gz", spot)
    _write(directory, "binance_usdm_btcusdt_20240808.gz", perp)
    return directory


def _spot_lines() -> list[str]:
    """A spot venue: snapshot at update 100, then one diff a second raising the best bid."""
    return [
        _line(0.0, _snapshot(100, "60000", "60010", futures=False)),
        *(
            _line(1.0 + k, _spot_diff(101 + k, 101 + k, [[f"{60000 + 0.4 * k:.1f}", "1"]], []))
            for k in range(20)
        ),
    ]


def _perp_lines() -> list[str]:
    """A USD-M venue: snapshot at update 500, the first diff straddling it, then in sequence."""
    return [
        _line(0.0, _snapshot(500, "60010", "60020", futures=True)),
        _line(1.5, _perp_diff(498, 501, 497, [["60010.5", "1"]], [])),
        *(
            _line(
                2.5 + k,
                _perp_diff(502 + k, 502 + k, 501 + k, [[f"{60011 + 0.4 * k:.1f}", "1"]], []),
            )
            for k in range(19)
        ),
    ]


def test_the_crafted_feeds_are_clean(tmp_path: Path) -> None:
    events = load_feed(_healthy_feed(tmp_path, _spot_lines(), _perp_lines()))
    assert not _kinds(events)
    assert len([e for e in events if isinstance(e, VenueQuote)]) == 2 + 20 + 20


def _kinds(events: list[Any]) -> list[FaultKind]:
    return [e.kind for e in events if isinstance(e, FeedFault)]


def test_the_recorded_excerpt_decodes_without_a_fault_and_moves_the_index(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    events = load_feed(FEEDS)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert not _kinds(events)
    assert {e.stream for e in events if isinstance(e, VenueQuote)} == {
        "binance-spot:BTCUSDT",
        "binance-usdm:BTCUSDT",
        "binance-coinm:BTCUSD_PERP",
    }
    engine = RealtimeEngine.from_ledger(seeded_ledger, market, EngineConfig(dynamic=False))
    asyncio.run(engine.run(feed_source(FEEDS)))
    assert engine.tick_count > 50
    # the market's index follows the feed's relative moves from the market's own 100,000
    assert engine.live.index["BTC"] != 100_000.0
    assert abs(engine.live.index["BTC"] / 100_000.0 - 1.0) < 0.01


def test_a_gap_drops_the_venue_until_a_snapshot_resyncs_it(tmp_path: Path) -> None:
    perp = _perp_lines()
    perp[5] = _line(5.6, _perp_diff(505, 505, 499, [["60015", "1"]], []))  # pu does not follow
    perp.insert(9, _line(8.6, _snapshot(507, "60013", "60020", futures=True)))
    events = load_feed(_healthy_feed(tmp_path, _spot_lines(), perp))
    kinds = _kinds(events)
    assert FaultKind.GAP in kinds and FaultKind.RESYNC in kinds
    gap = next(e for e in events if isinstance(e, FeedFault) and e.kind is FaultKind.GAP)
    assert gap.withdrawn
    quotes = [
        e for e in events if isinstance(e, VenueQuote) and e.stream.startswith("binance-usdm")
    ]
    # no usdm quote between the gap and the resync
    resync = next(e for e in events if isinstance(e, FeedFault) and e.kind is FaultKind.RESYNC)
    assert not [q for q in quotes if gap.seq < q.seq < resync.seq]


def test_duplicates_and_out_of_order_messages_are_dropped(tmp_path: Path) -> None:
    spot = _spot_lines()
    spot.insert(4, spot[3])  # the same diff twice
    spot.insert(8, _line(0.5, _spot_diff(999, 999, [], [])))  # stamped before the previous line
    spot += [
        _line(30.0, _trade(7, "60010")),
        _line(30.1, _trade(7, "60010")),
        _line(30.2, _trade(5, "60010")),
    ]
    events = load_feed(_healthy_feed(tmp_path, spot, _perp_lines()))
    kinds = _kinds(events)
    assert kinds.count(FaultKind.DUPLICATE) == 2
    assert kinds.count(FaultKind.OUT_OF_ORDER) == 2


def test_nan_prices_and_crossed_books_are_refused_never_a_zero_price(
    tmp_path: Path, seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    spot = _spot_lines()
    spot[6] = _line(6.0, _spot_diff(106, 106, [["NaN", "1"]], []))
    spot.append(_line(25.0, "not json"))  # type: ignore[arg-type]
    perp = _perp_lines()
    perp[3] = _line(3.6, _perp_diff(503, 503, 502, [["70000", "1"]], []))  # bid above the ask
    perp.append(_line(30.0, _trade(1, "NaN")))
    events = load_feed(_healthy_feed(tmp_path, spot, perp))
    kinds = _kinds(events)
    assert FaultKind.CROSSED in kinds and kinds.count(FaultKind.INVALID) == 3
    engine = RealtimeEngine.from_ledger(seeded_ledger, market, EngineConfig(dynamic=False))
    asyncio.run(engine.run(feed_source(tmp_path)))
    faults = [e for e in engine.events_since(0) if e.kind is EventKind.FEED_FAULT]
    assert {f.detail["fault"] for f in faults} >= {"crossed", "invalid", "index_held"}
    assert math.isfinite(engine.live.index["BTC"]) and engine.live.index["BTC"] > 0


def test_a_venue_that_goes_quiet_is_stale_and_the_index_is_held(
    tmp_path: Path, seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    spot = _spot_lines()[:4]  # the spot venue stops after 3 s
    events = load_feed(_healthy_feed(tmp_path, spot, _perp_lines()))
    assert not _kinds(events)
    engine = RealtimeEngine.from_ledger(seeded_ledger, market, EngineConfig(dynamic=False))
    asyncio.run(engine.run(feed_source(tmp_path)))
    faults = [e.detail for e in engine.events_since(0) if e.kind is EventKind.FEED_FAULT]
    assert any(f["fault"] == "stale" and "binance-spot" in f["stream"] for f in faults)
    held = [f for f in faults if f["fault"] == "index_held"]
    assert held and "min_sources" in held[0]["detail"]
    last = engine.live.index["BTC"]
    assert last > 0 and last == pytest.approx(engine.history[-1]["index"]["BTC"])
