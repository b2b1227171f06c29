"""The main job end to end (``make demo``), scaled down through ``accounts``: the same code path
(venue book, margin under every model, the crash replayed through the real-time engine on a
ledger, the solvency snapshot, the report), and the report's figures checked against the ledger
it leaves behind."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.collateral.assets import default_assets
from solvent.engine.demo import DemoResult
from solvent.engine.demo_report import read_figures
from solvent.ledger.store import Ledger
from solvent.realtime.demo import run_main_job
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
        scale = 10 ** default_assets().get("USDC", "asset").decimals
        fund = Decimal(balances.get(("@insurance", "USDC"), 0)) / scale
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
