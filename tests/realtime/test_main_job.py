"""The main job end to end (``make demo``), scaled down through ``accounts``: the same code path
(venue book, margin under every model, the crash replayed through the real-time engine on a
ledger, the solvency snapshot, the report), and the report's figures checked against the ledger
it leaves behind."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.collateral.assets import default_assets
from solvent.engine.demo import DemoResult
from solvent.engine.demo_report import read_figures
from solvent.ledger.store import Ledger
from solvent.liquidation.fund_history import insurance_fund_history
from solvent.realtime.demo import crash_end_market, run_main_job
from solvent.solvency.verifier import verify_proof

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, Path]:
    folder = tmp_path_factory.mktemp("demo") / "out"
    return run_main_job(accounts=40, seed=11, directory=folder), folder


def test_report_and_charts(job: tuple[DemoResult, Path]) -> None:
    result, folder = job
    assert result.report == folder / "index.html"
    for png in (
        "vol_surface.png",
        "margin_by_model.png",
        "accounts_by_state.png",
        "insurance_fund.png",
        "liquidation_waterfall.png",
    ):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


def test_figures_match_the_ledger(job: tuple[DemoResult, Path]) -> None:
    result, folder = job
    figures = read_figures(folder / "index.html")
    crash = figures["replay"]
    summary = crash["summary"]
    ledger = Ledger.open(crash["db"])
    try:
        audit = ledger.audit()
        assert audit.ok and summary["audit"]["ok"] is True
        balances = ledger.journal_balances()
        users = {a for a, _ in balances if not a.startswith("@")}
        assert users <= set(result.book.accounts.accounts)
        # the fund holds USDC and the liquidation fees paid in coin: valued at the crash's end
        end = crash_end_market(result.market)
        fund = sum(
            Decimal(units).scaleb(-default_assets().get(asset, "asset").decimals)
            * Decimal(repr(end.price_usd(asset)))
            for (account, asset), units in balances.items()
            if account == "@insurance"
        )
    finally:
        ledger.close()
    # the fund the report shows last is the fund on the ledger
    assert crash["series"]["insurance_fund_usd"][-1] == pytest.approx(float(fund), abs=0.01)
    assert summary["insurance_fund"]["end_usd"] == pytest.approx(float(fund), abs=0.01)
    assert summary["accounts"] == len(result.book.accounts)
    # every tick counts every margin unit once
    states = crash["series"]["states"]
    ticks = len(crash["series"]["insurance_fund_usd"])
    for t in range(ticks):
        assert sum(v[t] for v in states.values()) == len(result.side.units)
    assert figures["accounts"] == len(result.book.accounts)


def test_liquidations_in_the_report_are_the_ledgers(job: tuple[DemoResult, Path]) -> None:
    """The crash replays with the waterfall liquidator booking on the ledger (the default): the
    report's liquidations, fees, insurance fund covers and socialized loss are what the ledger
    holds, every booked step is whole and no user balance is negative."""
    _, folder = job
    crash = read_figures(folder / "index.html")["replay"]
    summary = crash["summary"]
    assert crash["liquidator"] is True
    database = crash["db"].removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        steps = db.execute(
            "SELECT kind, account_id, against_id, operation_id FROM liquidation_steps"
        ).fetchall()
        moved = dict(
            db.execute(
                "SELECT s.kind, SUM(e.amount) FROM liquidation_steps s JOIN entries e "
                "ON e.operation_id = s.operation_id AND e.account_id = s.account_id "
                "WHERE s.kind IN ('fee', 'socialized') GROUP BY s.kind"
            ).fetchall()
        )
        top = {
            account: parent if mode == "cross" else account
            for account, parent, mode in db.execute("SELECT id, parent_id, mode FROM accounts")
        }
        negative = db.execute(
            "SELECT COUNT(*) FROM balances WHERE amount < 0 AND account_id NOT LIKE '@%'"
        ).fetchone()[0]
    assert steps and all(op is not None for *_, op in steps)  # every claimed step is booked
    assert negative == 0
    # every unit the summary counts as liquidated has its steps on the ledger, and no other
    assert summary["liquidated"] == len({top[against] for _, _, against, _ in steps}) > 0
    assert 0 <= summary["bankrupt"] <= summary["liquidated"]
    ledger = Ledger.open(crash["db"])
    try:
        history = insurance_fund_history(ledger)
        fund = ledger.balances("@insurance")
    finally:
        ledger.close()
    # the fund's journal adds up: start + fees - covers = its balance, asset by asset
    start = {"USDC": 250_000 * 10**6}
    for asset in set(fund) | set(history.fees_in_units):
        expected = (
            start.get(asset, 0)
            + history.fees_in_units.get(asset, 0)
            - history.deficits_out_units.get(asset, 0)
        )
        assert fund.get(asset, 0) == expected, asset
    # the fees the report shows are the fee transfers booked, valued at the crash's prices
    assert -moved.get("fee", 0) == sum(history.fees_in_units.values())
    assets = default_assets()
    low = high = 0.0
    prices = crash_prices(crash)
    for asset, units in history.fees_in_units.items():
        coins = float(assets.get(asset, "asset").to_decimal(units))
        low += coins * min(prices[asset])
        high += coins * max(prices[asset])
    assert low - 0.01 <= summary["fees_usd"] <= high + 0.01
    # socialized charges are paid in USDC (the fund asset): the report's figure is the ledger's
    assert summary["socialized_loss_usd"] == pytest.approx(-moved.get("socialized", 0) / 1e6)
    waterfall = crash["waterfall"]
    assert waterfall["socialized"] == summary["socialized_loss_usd"]
    assert waterfall["covered by the fund"] <= waterfall["deficits"] + 0.01


def crash_prices(crash: dict[str, object]) -> dict[str, list[float]]:
    """Every asset's USD index along the replayed crash (stablecoins at 1)."""
    from solvent.engine.demo import demo_market
    from solvent.realtime.sources import load_path

    market = demo_market()
    prices: dict[str, list[float]] = {a: [p] for a, p in market.index.items()}
    for event in load_path(str(crash["path"]), market):
        for asset, price in event.prices.items():
            prices.setdefault(asset, []).append(price)
    for stable in ("USDC", "USDT"):
        prices.setdefault(stable, [1.0])
    return prices


def test_solvency_snapshot_verifies(job: tuple[DemoResult, Path]) -> None:
    _, folder = job
    solvency = read_figures(folder / "index.html")["solvency"]
    assert solvency["verified"] is True
    header = json.loads((folder / "solvency" / "header.json").read_text())
    assert header["root"]["hash"] == solvency["root"]
    proofs = sorted((folder / "solvency" / "proofs").glob("*.json"))
    assert len(proofs) == solvency["leaves"] == header["leaf_count"]
    # a holder checks any account's proof against the published header
    for proof in proofs[:3]:
        assert verify_proof(json.loads(proof.read_text()), header).valid


def test_served_market_is_written(job: tuple[DemoResult, Path]) -> None:
    _, folder = job
    market = json.loads((folder / "market.json").read_text())
    assert set(market["order_books"]) == {"BTC", "ETH"}
    assert "solvent serve --db sqlite:///" in read_figures(folder / "index.html")["serve"]
