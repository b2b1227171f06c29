"""``solvent replay`` driven as a user would: the shipped example book and market along paths a
user writes by hand (found by driving the command with hostile inputs)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.market.snapshot import load_market
from solvent.portfolio.account_book import load_account_book
from solvent.realtime.replay import replay
from solvent.realtime.sources import load_path
from solvent.realtime.views import replay_json

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_the_example_book_liquidates_on_the_ledger_when_only_btc_moves(tmp_path: Path) -> None:
    """Every instrument of the example book settles in BTC or ETH, yet the liquidation fee and
    the insurance fund are in USDC: the liquidated account sells its coin to ``@venue`` for USDC,
    so the seeded venue must hold USDC (it once held none and the replay died half-way with
    "insufficient USDC in '@venue'")."""
    book, _ = load_account_book(EXAMPLES / "book.json")
    market = load_market(EXAMPLES / "market.json")
    path = tmp_path / "path.csv"
    path.write_text(
        "time,BTC\n2026-01-05T15:34:29Z,90000\n2026-01-05T15:35:29Z,80000\n", encoding="utf-8"
    )
    url = f"sqlite:///{tmp_path}/ledger.db"
    out = replay_json(replay(book, market, path=path, model="standard", db=url))
    assert out["steps"] == 2
    assert out["liquidated"] >= 1
    assert out["audit"]["ok"] is True
    ledger = Ledger.open(url)
    try:
        flows = ledger.journal_balances()
        assert flows[("@venue", "USDC")] > 0
        for asset in {a for _, a in flows}:  # conservation per asset: what came in is held
            assert sum(v for (acct, a), v in flows.items() if a == asset) == 0
    finally:
        ledger.close()


def test_a_path_column_the_market_cannot_price_is_refused_naming_it(tmp_path: Path) -> None:
    """A DOGE column on a BTC/ETH market was once ignored: the replay ran as if nothing moved."""
    market = load_market(EXAMPLES / "market.json")
    path = tmp_path / "path.csv"
    path.write_text("time,BTC,DOGE\n2026-01-05T15:34:29Z,90000,0.1\n", encoding="utf-8")
    with pytest.raises(SolventInputError) as caught:
        load_path(path, market)
    assert caught.value.field == "path.header[2]"
    path.write_text("time,BTC,USDC\n2026-01-05T15:34:29Z,90000,1\n", encoding="utf-8")
    assert [e.prices for e in load_path(path, market)] == [{"BTC": 90000.0, "USDC": 1.0}]


def test_the_gap_path_drops_four_percent_in_its_first_minute_then_reaches_minus_40() -> None:
    """``builtin:gap-40-hour`` (the demo's crash): the index, a -4 % gap at minute one, then a
    step a minute down to -40 % at one hour, then flat; ``minus-40-hour`` is unchanged."""
    market = load_market(EXAMPLES / "market.json")
    events = load_path("builtin:gap-40-hour", market)
    smooth = load_path("builtin:minus-40-hour", market)
    assert len(events) == len(smooth) == 91
    for asset, start in market.index.items():
        if asset not in events[0].prices:
            continue
        moves = [e.prices[asset] / start for e in events]
        assert moves[0] == pytest.approx(1.0)
        assert moves[1] == pytest.approx(0.96)
        assert moves[60] == pytest.approx(0.6)
        assert moves[60:] == pytest.approx([0.6] * 31)
        steps = [b / a - 1 for a, b in itertools.pairwise(moves[1:61])]
        assert all(-0.011 < s < 0 for s in steps)  # after the gap, one step a minute
        assert [e.prices[asset] / start for e in smooth][1] == pytest.approx(1 - 0.4 / 60)
    assert [e.time for e in events] == [e.time for e in smooth]
