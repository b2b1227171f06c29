"""The Deribit option-chain decoder: ticker and book-summary messages, and the shipped chain
snapshot, become chain updates that drive the engine's surface refits."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.ledger.store import Ledger
from solvent.margin.protocol import changed_rows, reprepare
from solvent.margin.registry import get_model
from solvent.market.deribit import load_embedded_chain
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook, parse_account_book
from solvent.realtime.deribit import DeribitChainDecoder, is_option_name
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import ChainUpdate, FaultKind, FeedFault
from solvent.realtime.latency import TickTimer
from solvent.realtime.market_state import LiveMarket
from solvent.realtime.seed import seed_ledger
from solvent.realtime.sources import decoder_for, feed_source, load_feed

CHAIN = Path(__file__).resolve().parents[1] / "data" / "deribit-chain"
SNAPSHOT = CHAIN / "deribit_options_snapshot_20260115T153452Z.csv.gz"
T0 = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)


def _ticker(name: str, mark_iv: Any, stamp_ms: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {
            "channel": f"ticker.{name}.100ms",
            "data": {
                "timestamp": stamp_ms,
                "instrument_name": name,
                "mark_iv": mark_iv,
                "bid_iv": 40.1,
                "ask_iv": 41.3,
                "underlying_price": 96_874.03,
                "index_price": 95_945.08,
                "mark_price": 0.0802,
            },
        },
    }


def _csv_rows() -> list[dict[str, str]]:
    text = gzip.decompress(SNAPSHOT.read_bytes()).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_option_names() -> None:
    assert is_option_name("BTC-16JAN26-82000-C")
    assert is_option_name("BTC-6FEB26-100000-P")
    assert is_option_name("XRP_USDC-30JAN26-2d5-C")
    assert not is_option_name("BTC-PERPETUAL")
    assert not is_option_name("BTC-27MAR26")


def test_a_ticker_becomes_a_chain_update_in_decimal_vols() -> None:
    decoder = DeribitChainDecoder("deribit-options:BTC")
    events = decoder.decode(_ticker("BTC-27MAR26-95000-C", 40.41, 1_000), T0)
    (event,) = events
    assert isinstance(event, ChainUpdate)
    assert (event.seq, event.time, event.stream) == (0, T0, "deribit-options:BTC")
    assert dict(event.mark_iv) == {"BTC-27MAR26-95000-C": 40.41 / 100.0}  # percent -> decimal


def test_a_book_summary_is_one_update_and_skips_futures() -> None:
    decoder = DeribitChainDecoder("deribit-options:BTC")
    message = {
        "jsonrpc": "2.0",
        "id": 7,
        "result": [
            {"instrument_name": "BTC-27MAR26-95000-C", "mark_iv": 40.41},
            {"instrument_name": "BTC-27MAR26-95000-P", "mark_iv": 40.5},
            {"instrument_name": "BTC-27MAR26", "mark_price": 96_874.0},
            {"instrument_name": "BTC-PERPETUAL", "mark_price": 95_950.0},
        ],
    }
    (event,) = decoder.decode(message, T0)
    assert isinstance(event, ChainUpdate)
    assert dict(event.mark_iv) == {"BTC-27MAR26-95000-C": 40.41 / 100, "BTC-27MAR26-95000-P": 0.405}


@pytest.mark.parametrize("bad", [None, "43", float("nan"), float("inf"), 0.0, -5.0, True])
def test_an_invalid_mark_iv_is_dropped_with_a_fault(bad: Any) -> None:
    decoder = DeribitChainDecoder("deribit-options:BTC")
    message = {
        "result": [
            {"instrument_name": "BTC-27MAR26-95000-C", "mark_iv": bad},
            {"instrument_name": "BTC-27MAR26-95000-P", "mark_iv": 40.5},
        ]
    }
    fault, update = decoder.decode(message, T0)
    assert isinstance(fault, FeedFault) and fault.kind is FaultKind.INVALID
    assert "BTC-27MAR26-95000-C" in fault.detail
    assert isinstance(update, ChainUpdate)
    assert dict(update.mark_iv) == {"BTC-27MAR26-95000-P": 40.5 / 100}


def test_repeated_and_older_tickers_are_dropped() -> None:
    decoder = DeribitChainDecoder("deribit-options:BTC")
    name = "BTC-27MAR26-95000-C"
    assert len(decoder.decode(_ticker(name, 40.0, 2_000), T0)) == 1
    (dup,) = decoder.decode(_ticker(name, 41.0, 2_000), T0)
    (old,) = decoder.decode(_ticker(name, 42.0, 1_000), T0)
    assert isinstance(dup, FeedFault) and dup.kind is FaultKind.DUPLICATE
    assert isinstance(old, FeedFault) and old.kind is FaultKind.OUT_OF_ORDER
    (later,) = decoder.decode(_ticker(name, 43.0, 3_000), T0)
    assert isinstance(later, ChainUpdate) and later.mark_iv[name] == pytest.approx(0.43)


def test_other_messages_are_not_chain_events() -> None:
    decoder = DeribitChainDecoder("deribit-options:BTC")
    assert decoder.decode({"jsonrpc": "2.0", "method": "heartbeat"}, T0) == []
    assert decoder.decode({"jsonrpc": "2.0", "id": 1, "result": ["ticker.x"]}, T0) == []
    (fault,) = decoder.decode({"jsonrpc": "2.0", "error": {"code": 10028}}, T0)
    assert isinstance(fault, FeedFault) and fault.kind is FaultKind.INVALID


def test_streams_pick_their_venue_decoder() -> None:
    assert isinstance(decoder_for("deribit-options:BTC"), DeribitChainDecoder)
    assert not isinstance(decoder_for("binance-usdm:BTCUSDT", "BTC"), DeribitChainDecoder)


def test_a_recorded_ticker_file_replays_as_chain_updates(tmp_path: Path) -> None:
    ns = int(T0.timestamp() * 1e9)
    lines = [
        f"{ns} {json.dumps(_ticker('BTC-27MAR26-95000-C', 40.0, 1_000))}",
        f"{ns + 10**8} not json",
        f"{ns + 2 * 10**8} {json.dumps(_ticker('BTC-27MAR26-95000-P', 41.0, 1_100))}",
    ]
    (tmp_path / "deribit_options_btc_20260115.jsonl").write_text("\n".join(lines) + "\n")
    events = load_feed(tmp_path)
    assert [type(e).__name__ for e in events] == ["ChainUpdate", "FeedFault", "ChainUpdate"]
    assert [e.seq for e in events] == [1, 2, 3]
    assert {e.stream for e in events} == {"deribit-options:BTC"}


def test_the_shipped_snapshot_is_one_chain_update_of_every_option() -> None:
    events = load_feed(CHAIN)
    (update,) = events
    assert isinstance(update, ChainUpdate)
    assert update.seq == 1 and update.stream == "deribit-options"
    assert update.time == datetime(2026, 1, 15, 15, 34, 52, 226709, tzinfo=UTC)
    rows = _csv_rows()
    assert dict(update.mark_iv) == {
        r["instrument_name"]: float(r["implied_volatility"]) for r in rows
    }


def _option_book(market: MarketSnapshot) -> AccountBook:
    options = sorted(
        n
        for n, q in market.quotes.items()
        if q.instrument.is_option and q.instrument.underlying == "BTC" and q.time_to_expiry > 0.1
    )[:6]
    accounts, _ = parse_account_book(
        {
            "accounts": [
                {
                    "account": f"w{k}",
                    "collateral": {"BTC": 3.0},
                    "positions": [{"instrument": n, "quantity": -1.0 - k} for n in options],
                }
                for k in range(3)
            ]
        }
    )
    return accounts


def test_the_recorded_chain_refits_the_engine_surfaces(tmp_path: Path) -> None:
    """The 2026-01-05 embedded chain driven by the chain of ten days later: the IVs of the
    options both list replace the base's, the surfaces are refitted and the book re-margined."""
    market = load_embedded_chain()
    book = _option_book(market)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'chain.db'}")
    seed_ledger(ledger, book, market, "deribit-pm")
    engine = RealtimeEngine.from_ledger(
        ledger, market, EngineConfig(model="deribit-pm", dynamic=False)
    )

    asyncio.run(engine.run(feed_source(CHAIN)))
    recorded = {r["instrument_name"]: float(r["implied_volatility"]) for r in _csv_rows()}
    overrides = engine.live.to_state()["iv_overrides"]
    assert overrides == recorded
    held = book.instruments
    both = [n for n in held if n in recorded]
    assert both  # the book's options are still listed ten days later
    for name in both:
        before = market.quote(name)
        after = engine.market.quote(name)
        assert after.mark_iv != before.mark_iv  # re-marked from the refitted surface
        assert after.mark_iv == pytest.approx(recorded[name], abs=0.05)
    assert engine.health is not None
    ledger.close()


def test_solvent_replay_feed_drives_refits_from_the_recorded_chain(tmp_path: Path) -> None:
    market = load_embedded_chain()
    instruments = []
    for name, q in market.quotes.items():
        entry: dict[str, Any] = {"name": name}
        if q.instrument.is_option:
            entry.update(mark_iv=q.mark_iv, forward=q.forward)
        else:
            entry.update(mark_price=q.mark_price)
        instruments.append(entry)
    as_of = market.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z")
    market_file = tmp_path / "market.json"
    market_file.write_text(
        json.dumps({"as_of": as_of, "index": dict(market.index), "instruments": instruments})
    )
    book_file = tmp_path / "book.json"
    book_file.write_text(
        json.dumps(
            {
                "accounts": [
                    {
                        "account": "perp",
                        "collateral": {"BTC": 1.0},
                        "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 2.0}],
                    }
                ]
            }
        )
    )
    result = CliRunner().invoke(
        app,
        [
            "replay",
            str(book_file),
            "--market",
            str(market_file),
            "--feed",
            str(CHAIN),
            "--model",
            "deribit-pm",
            "--db",
            f"sqlite:///{tmp_path / 'r.db'}",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["steps"] == 1 and out["audit"]["ok"] is True


def test_a_chain_update_refits_only_its_underlying_and_reprepares_only_its_options() -> None:
    """A BTC chain update re-marks the BTC options from the refitted BTC surface and leaves
    every ETH instrument as it was: the risk-array stage then recomputes the BTC options only."""
    market = load_embedded_chain()
    instruments = tuple(sorted(market.quotes))
    live = LiveMarket(market)
    live.tick(TickTimer(), instruments)
    before = live.tick(TickTimer(), instruments).priced
    btc = sorted(
        n for n in instruments if market.quotes[n].instrument.is_option and n.startswith("BTC-")
    )
    bumped = {n: float(market.quotes[n].mark_iv or 0.5) * 1.05 for n in btc[:5]}
    live.add(ChainUpdate(1, market.as_of, "deribit-options:BTC", bumped))
    tick = live.tick(TickTimer(), instruments)
    assert tick.refit
    changed = changed_rows(before, tick.priced)
    names = {instruments[r] for r in changed.tolist()}
    assert names == set(btc)  # every BTC option re-marked from its surface, nothing else
    model = get_model("deribit-pm")
    params = model.load_params(None)
    prepared, count = reprepare(
        model, params, tick.priced, (before, model.prepare(before, instruments, params))
    )
    assert count == len(btc) < len(instruments)
    full = model.prepare(tick.priced, instruments, params)
    assert np.array_equal(prepared.risk.pnl, full.risk.pnl)
