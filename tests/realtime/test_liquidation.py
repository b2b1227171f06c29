"""Liquidations in the tick: the waterfall planned on the tick's prepared state, its steps
persisted with the checkpoint and booked on the ledger; the replay's summary counts them."""

from __future__ import annotations

import contextlib
from pathlib import Path

from solvent.ledger.liquidations import booked_steps
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.realtime.checkpoint import load_checkpoint, load_events
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import EventKind
from solvent.realtime.replay import REPLAY_STREAM, replay, waterfall_liquidator
from solvent.realtime.views import replay_json


def test_a_crash_path_liquidates_on_the_ledger(
    book: AccountBook, market: MarketSnapshot, price_path: Path, ledger_url: str
) -> None:
    result = replay(
        book,
        market,
        path=price_path,
        db=ledger_url,
        insurance_fund_usd=50_000.0,
        liquidator=waterfall_liquidator("partial"),
    )
    out = replay_json(result)
    assert out["audit"]["ok"] is True, out["audit"]["problems"]
    assert out["liquidated"] >= 1 and out["volume_usd"] > 0.0 and out["fees_usd"] >= 0.0
    assert out["insurance_fund"]["start_usd"] == 50_000.0
    fund = out["insurance_fund"]
    assert fund["min_usd"] <= min(fund["start_usd"], fund["end_usd"])
    ledger = Ledger.open(ledger_url)
    try:
        events = load_events(ledger, REPLAY_STREAM)
        liquidations = [e for e in events if e.kind is EventKind.LIQUIDATION]
        assert liquidations and all("outcome" in e.detail for e in liquidations)
        checkpoint = load_checkpoint(ledger, REPLAY_STREAM)
        assert checkpoint is not None and checkpoint.state["plan"] == []  # every step booked
        # the liquidated long perpetual was reduced on the ledger
        positions = ledger.replay_positions()
        assert positions[("lev-long", "BTC-PERPETUAL")].quantity < 1
    finally:
        ledger.close()


def test_a_plan_left_by_a_crash_is_booked_on_restart_once(
    seeded_ledger: Ledger, market: MarketSnapshot, price_path: Path
) -> None:
    import asyncio

    from solvent.realtime.liquidation import WaterfallLiquidator
    from solvent.realtime.sources import path_source

    class Crashing(WaterfallLiquidator):
        def execute(self, plan, market):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt  # the process dies after the plan was persisted

    config = EngineConfig(stream="crash", dynamic=False)
    engine = RealtimeEngine.from_ledger(
        seeded_ledger, market, config, liquidator=Crashing(seeded_ledger)
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(engine.run(path_source(price_path, market)))
    checkpoint = load_checkpoint(seeded_ledger, "crash")
    assert checkpoint is not None and checkpoint.state["plan"]
    before = seeded_ledger.journal_balances()
    resumed = RealtimeEngine.from_ledger(
        seeded_ledger, market, config, liquidator=WaterfallLiquidator(seeded_ledger)
    )
    assert resumed._plan == []
    after = seeded_ledger.journal_balances()
    assert after != before and seeded_ledger.audit().ok
    # booking the same plan again books nothing
    resumed.liquidator.execute(checkpoint.state["plan"], resumed.live.snapshot)  # type: ignore[union-attr]
    assert seeded_ledger.journal_balances() == after


def test_a_two_legged_unit_goes_bankrupt_on_the_ledger_without_asking_for_cash_it_lacks(
    market: MarketSnapshot, tmp_path: Path
) -> None:
    """A long BTC perpetual losing and a short ETH perpetual winning: the first tick buys back
    part of the short, the next finds the unit bankrupt. Its bankruptcy prices bring the whole
    unit to zero, so the winning leg's close must be booked before the losing one's (and each
    leg's P&L since entry settled first): the booking never asks for cash the unit lacks."""
    from solvent.market.snapshot import parse_market
    from solvent.portfolio.account_book import parse_account_book

    from .conftest import MARKET

    raw = {**MARKET, "instruments": [*MARKET["instruments"]]}
    raw["instruments"].append({"name": "ETH_USDC-PERPETUAL", "mark_price": 4_000.0})
    accounts, _ = parse_account_book(
        {
            "accounts": [
                {
                    "account": "saver",
                    "collateral": {"USDC": 1_000_000.0},
                    "positions": [{"instrument": "ETH_USDC-PERPETUAL", "quantity": 5.0}],
                },
                {
                    "account": "pair",
                    "collateral": {"USDC": 4_000.0},
                    "positions": [
                        {"instrument": "BTC_USDC-PERPETUAL", "quantity": 1.0, "entry_price": 1e5},
                        {"instrument": "ETH_USDC-PERPETUAL", "quantity": -20.0, "entry_price": 4e3},
                    ],
                },
            ]
        }
    )
    path = tmp_path / "path.csv"
    path.write_text(
        "time,BTC,ETH\n2026-01-05T08:01:00Z,99000,3990\n2026-01-05T08:02:00Z,96000,3900\n"
        "2026-01-05T08:03:00Z,93000,3800\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'pair.db'}"
    out = replay_json(
        replay(
            accounts,
            parse_market(raw),
            path=path,
            db=url,
            insurance_fund_usd=10_000.0,
            liquidator=waterfall_liquidator("partial"),
        )
    )
    assert out["audit"]["ok"] is True, out["audit"]["problems"]
    assert (out["liquidated"], out["bankrupt"]) == (1, 1)
    ledger = Ledger.open(url)
    try:
        assert all(v >= 0 for v in ledger.balances("pair").values())
        positions = ledger.replay_positions()
        assert all(p.quantity == 0 for (a, _), p in positions.items() if a == "pair")
    finally:
        ledger.close()


def test_a_put_spread_whose_cash_cannot_buy_back_its_short_leg_sells_its_long_leg_first(
    market: MarketSnapshot, tmp_path: Path
) -> None:
    """The full demo's failure, scaled down: a put spread (short 0.885 of the 80,000 put, long
    1.18 of the 90,000 put) on 0.02 BTC of cash, the index 100,000 -> 58,700 in one tick. Its
    equity is mostly the long put's value, not cash; buying back a slice of the short put costs
    0.085 BTC of premium, more than the account holds. The planner charges buy-backs against the
    ledger's cash: it sells the long leg first (the pro-rata slice, cash first), and every step
    books, with no balance below zero and no money created."""
    from solvent.portfolio.account_book import parse_account_book

    accounts, _ = parse_account_book(
        {
            "accounts": [
                {"account": "saver", "collateral": {"USDC": 1_000_000.0}, "positions": []},
                {
                    "account": "spread",
                    "collateral": {"BTC": 0.02},
                    "positions": [
                        {"instrument": "BTC-27MAR26-80000-P", "quantity": -0.885},
                        {"instrument": "BTC-27MAR26-90000-P", "quantity": 1.18},
                    ],
                },
            ]
        }
    )
    path = tmp_path / "path.csv"
    path.write_text("time,BTC,ETH\n2026-01-05T08:01:00Z,58700,3800\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'spread.db'}"
    out = replay_json(
        replay(
            accounts,
            market,
            path=path,
            db=url,
            insurance_fund_usd=10_000.0,
            liquidator=waterfall_liquidator("partial"),
        )
    )
    assert out["audit"]["ok"] is True, out["audit"]["problems"]
    assert (out["liquidated"], out["bankrupt"]) == (1, 0) and out["fees_usd"] > 0.0
    ledger = Ledger.open(url)
    try:
        checkpoint = load_checkpoint(ledger, REPLAY_STREAM)
        assert checkpoint is not None
        for run in checkpoint.state["plan"]:  # the last tick's plan: every step of it booked
            assert len(booked_steps(ledger, run["run_id"])) == len(run["steps"])
        balances = ledger.cached_balances()
        assert all(units >= 0 for (account, _), units in balances.items() if account[0] != "@")
        positions = ledger.replay_positions()
        short = positions[("spread", "BTC-27MAR26-80000-P")].quantity
        long = positions[("spread", "BTC-27MAR26-90000-P")].quantity
        assert -0.885 < short < 0 and 0 < long < 1.18  # both legs reduced, the hedge kept
    finally:
        ledger.close()
