"""Crash replay (FORMATS 10 ``solvent replay``): summary, ledger, determinism, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.realtime.checkpoint import load_events
from solvent.realtime.replay import REPLAY_STREAM, replay
from solvent.realtime.views import replay_json

FORMATS_FIELDS = {
    "steps",
    "accounts",
    "liquidated",
    "bankrupt",
    "volume_usd",
    "slippage_usd",
    "fees_usd",
    "insurance_fund",
    "adl_events",
    "socialized_loss_usd",
    "latency_ms",
    "audit",
    "report",
}


def _ledger_state(url: str) -> dict[str, Any]:
    ledger = Ledger.open(url)
    try:
        positions = ledger.replay_positions()
        return {
            "balances": ledger.journal_balances(),
            "positions": {k: (str(v.quantity), str(v.average_price)) for k, v in positions.items()},
            "events": [
                (e.seq, e.tick, e.kind.value, e.account, json.dumps(dict(e.detail), sort_keys=True))
                for e in load_events(ledger, REPLAY_STREAM)
            ],
        }
    finally:
        ledger.close()


def test_the_summary_has_formats_shape_and_the_ledger_audits(
    book: AccountBook, market: MarketSnapshot, price_path: Path, ledger_url: str
) -> None:
    result = replay(book, market, path=price_path, model="standard", db=ledger_url)
    out = replay_json(result)
    assert set(out) >= FORMATS_FIELDS
    assert set(out["insurance_fund"]) == {"start_usd", "end_usd", "min_usd"}
    assert set(out["latency_ms"]) == {"p50", "p99"}
    assert out["steps"] == 6 and out["accounts"] == len(book)
    assert out["audit"]["ok"] is True
    # lev-long (1 BTC long from 100,000 on 0.05 BTC) is bankrupt at 85,000; the saver never moves
    assert out["liquidated"] >= 1 and out["bankrupt"] >= 1
    assert out["latency_ms"]["p99"] >= out["latency_ms"]["p50"] > 0
    events = _ledger_state(ledger_url)["events"]
    accounts = {e[3] for e in events if e[2] == "liquidation"}
    assert "lev-long" in accounts and "saver" not in accounts


def test_the_same_path_twice_gives_the_same_states_events_and_ledger(
    book: AccountBook, market: MarketSnapshot, price_path: Path, tmp_path: Path
) -> None:
    urls = [f"sqlite:///{tmp_path / f'run{i}.db'}" for i in range(2)]
    results = [replay(book, market, path=price_path, model="deribit-pm", db=u) for u in urls]
    views = [replay_json(r) for r in results]
    for v in views:
        v.pop("latency_ms"), v.pop("db")
    assert views[0] == views[1]
    assert _ledger_state(urls[0]) == _ledger_state(urls[1])
    assert results[0].history == results[1].history


def test_the_book_is_on_the_ledger_as_stated(seeded_ledger: Ledger, book: AccountBook) -> None:
    # writer sold 3 puts: the premium it received was withdrawn, its BTC is the book's 1.0
    assert seeded_ledger.balances("writer") == {"BTC": 100_000_000}
    assert seeded_ledger.balances("saver") == {"USDC": 100_000_000_000}
    positions = seeded_ledger.replay_positions()
    long = positions[("lev-long", "BTC-PERPETUAL")]
    assert long.quantity == 1 and long.average_price == 100_000
    assert seeded_ledger.audit().ok


def test_a_bad_path_is_refused_before_anything_is_written(
    book: AccountBook, market: MarketSnapshot, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,BTC\n2026-01-05T08:01:00Z,NaN\n", encoding="utf-8")
    db = tmp_path / "never.db"
    with pytest.raises(SolventInputError, match=r"path\[1\]\.BTC"):
        replay(book, market, path=bad, db=f"sqlite:///{db}")
    assert not db.exists()
    with pytest.raises(SolventInputError, match="exactly one"):
        replay(book, market, db=f"sqlite:///{db}")


def test_the_report_has_its_page_and_charts(
    book: AccountBook, market: MarketSnapshot, price_path: Path, ledger_url: str, tmp_path: Path
) -> None:
    result = replay(book, market, path=price_path, db=ledger_url, report=tmp_path / "report")
    assert result.report == tmp_path / "report" / "index.html"
    page = result.report.read_text(encoding="utf-8")
    for chart in ("insurance_fund.png", "health_states.png", "liquidations.png"):
        assert chart in page
        assert (tmp_path / "report" / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_builtin_path_replays(book: AccountBook, market: MarketSnapshot, ledger_url: str) -> None:
    result = replay(book, market, path="builtin:minus-40-hour", db=ledger_url)
    assert result.steps == 91 and result.audit.ok
    assert result.history[60]["index"]["BTC"] == pytest.approx(60_000.0)
