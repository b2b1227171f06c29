"""The main job end to end (``make demo``), scaled down through ``accounts``: the same code path
(venue book, margin under every model, the crash replayed through the real-time engine on a
ledger, the solvency snapshot, the report), and the report's figures checked against the ledger
it leaves behind."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from solvent.api.app import create_app
from solvent.api.keys import create_key
from solvent.api.state import Service, ServiceConfig
from solvent.collateral.assets import default_assets
from solvent.engine.demo import DEFAULT_ACCOUNTS, DemoResult
from solvent.engine.demo_report import read_figures
from solvent.ledger.store import Ledger
from solvent.liquidation.fund_history import insurance_fund_history
from solvent.market.snapshot import load_market
from solvent.realtime.demo import (
    DEMO_CRASH,
    INSURANCE_FUND_USD,
    crash_end_market,
    run_main_job,
)
from solvent.realtime.replay import REPLAY_STREAM
from solvent.realtime.sources import load_path
from solvent.solvency.verifier import verify_proof

pytestmark = pytest.mark.slow


ACCOUNTS = 150
FUND_USD = INSURANCE_FUND_USD * ACCOUNTS / DEFAULT_ACCOUNTS
"""The demo's fund for the smaller book: the same share of it as ``make demo``'s (the
default)."""


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, Path]:
    folder = tmp_path_factory.mktemp("demo") / "out"
    return run_main_job(accounts=ACCOUNTS, seed=11, directory=folder), folder


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
    start = {"USDC": round(FUND_USD * 10**6)}
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
    """``DIR/market.json`` (what the serve hint names) is the market at the crash's end: its
    index is the replay path's last, the replay's last tick's, and it reads back as the moved
    market the replay valued that tick at; ``DIR/market-before.json`` is the opening market."""
    result, folder = job
    market = json.loads((folder / "market.json").read_text())
    assert set(market["order_books"]) == {"BTC", "ETH"}
    figures = read_figures(folder / "index.html")
    assert f"--market {folder / 'market.json'}" in figures["serve"]
    assert "solvent serve --db sqlite:///" in figures["serve"]
    last = load_path(DEMO_CRASH, result.market)[-1].prices
    assert market["index"] == dict(last) != dict(result.market.index)
    series_index = figures["replay"]["series"]["index"]
    assert market["index"] == {asset: prices[-1] for asset, prices in series_index.items()}
    served, end = load_market(folder / "market.json"), crash_end_market(result.market)
    assert dict(served.index) == dict(end.index)
    for name, quote in end.quotes.items():
        assert served.quotes[name].mark_iv == quote.mark_iv
        assert served.quotes[name].mark_price == pytest.approx(quote.mark_price, rel=1e-12)
    before = load_market(folder / "market-before.json")
    assert dict(before.index) == dict(result.market.index)


def _ledger_rows(crash: dict[str, Any], query: str) -> list[tuple[Any, ...]]:
    database = str(crash["db"]).removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


def test_the_crash_goes_down_the_whole_waterfall(job: tuple[DemoResult, Path]) -> None:
    """The demo's crash (a 4 % gap, then on down to -40 %) leaves deficits the fund cannot
    cover alone: the fund runs dry and ADL takes the rest from profitable opposite positions,
    and the stages add up to the deficits."""
    _, folder = job
    crash = read_figures(folder / "index.html")["replay"]
    assert crash["path"] == "builtin:gap-40-hour"
    stages = crash["waterfall"]
    fund = crash["insurance_fund"]
    assert fund["start_usd"] == pytest.approx(FUND_USD)
    assert stages["deficits"] > fund["start_usd"]
    assert stages["covered by the fund"] > 0 and stages["covered by ADL"] > 0
    assert fund["min_usd"] < 0.01 * fund["start_usd"]
    assert crash["series"]["insurance_fund_usd"][
        crash["series"]["tick"].index(fund["lowest_tick"])
    ] == pytest.approx(fund["min_usd"])
    covered = sum(v for k, v in stages.items() if k != "deficits")
    assert covered == pytest.approx(stages["deficits"], abs=0.01 * len(crash["bankruptcies"]))
    bankrupt = crash["bankruptcies"]
    assert sum(b["deficit_usd"] for b in bankrupt) == pytest.approx(stages["deficits"])
    assert sum(b["adl_covered_usd"] for b in bankrupt) == pytest.approx(stages["covered by ADL"])
    assert len(crash["adl_fills"]) == crash["summary"]["adl_events"] > 0


def test_the_reported_fund_history_is_the_ledgers(job: tuple[DemoResult, Path]) -> None:
    """After every tick the liquidator booked, the fund balances the report shows are the
    ledger's journal of ``@insurance`` replayed up to the last step of that tick's runs, and the
    fund series (USD) is those balances at the tick's index; the index is the crash path's."""
    result, folder = job
    crash = read_figures(folder / "index.html")["replay"]
    series = crash["series"]
    path = load_path(str(crash["path"]), result.market)
    assert series["tick"] == list(range(1, len(path) + 1))
    for asset, prices in series["index"].items():
        assert prices == pytest.approx([e.prices[asset] for e in path])
    run_of = {
        op: run
        for run, op in _ledger_rows(crash, "SELECT run_id, operation_id FROM liquidation_steps")
    }
    ledger = Ledger.open(crash["db"])
    try:
        events = insurance_fund_history(ledger).events
    finally:
        ledger.close()
    seeded = [e for e in events if e.operation not in run_of]
    assert {e.kind for e in seeded} == {"deposit"}
    balance = {e.asset: e.balance_units for e in seeded}
    assert balance == crash["insurance_fund"]["start_units"]
    assets = default_assets()
    booked = crash["fund_history"]
    assert booked
    done = 0
    for tick in booked:
        runs = set(tick["runs"])
        for e in events:
            if run_of.get(e.operation) in runs:
                balance[e.asset] = e.balance_units
                done += 1
        assert {a: u for a, u in balance.items() if u} == tick["fund_units"], tick["tick"]
        t = series["tick"].index(tick["tick"])
        value = sum(
            float(assets.get(a, "asset").to_decimal(u))
            * (series["index"][a][t] if a in series["index"] else 1.0)
            for a, u in tick["fund_units"].items()
        )
        assert series["insurance_fund_usd"][t] == pytest.approx(value, abs=0.01)
    assert done == len(events) - len(seeded)  # every fund movement belongs to a booked tick


def test_the_reported_adl_fills_and_steps_are_the_ledgers(job: tuple[DemoResult, Path]) -> None:
    """Every ADL fill the report lists is a trade on the ledger (counterparty, instrument,
    quantity, price, the bankrupt unit it was against, in the tick it was booked) and no other;
    the steps by kind are the ledger's liquidation steps; the fund's covers booked, valued at
    their tick's index, are what the report says the fund covered."""
    result, folder = job
    crash = read_figures(folder / "index.html")["replay"]
    tick_of_run = {run: t["tick"] for t in crash["fund_history"] for run in t["runs"]}
    ledger_fills = sorted(
        (tick_of_run[run], account, against, instrument, Decimal(q), Decimal(p))
        for run, account, against, instrument, q, p in _ledger_rows(
            crash,
            "SELECT s.run_id, s.account_id, s.against_id, t.instrument, t.quantity, t.price "
            "FROM liquidation_steps s JOIN trades t ON t.operation_id = s.operation_id "
            "AND t.account_id = s.account_id WHERE s.kind = 'adl'",
        )
    )
    reported = sorted(
        (
            f["tick"],
            f["account"],
            f["against"],
            f["instrument"],
            Decimal(f["quantity"]),
            Decimal(f["price"]),
        )
        for f in crash["adl_fills"]
    )
    assert reported == ledger_fills and reported
    bankrupt = {b["account"] for b in crash["bankruptcies"]}
    assert {f[2] for f in reported} <= bankrupt
    assert not {f[1] for f in reported} & bankrupt  # a bankrupt unit is nobody's counterparty
    kinds = dict(
        _ledger_rows(
            crash,
            "SELECT kind, COUNT(*) FROM liquidation_steps WHERE operation_id IS NOT NULL "
            "GROUP BY kind",
        )
    )
    assert kinds == crash["steps_by_kind"]
    series = crash["series"]
    assets = default_assets()
    covered = 0.0
    for run, asset, amount in _ledger_rows(
        crash,
        "SELECT s.run_id, e.asset, e.amount FROM liquidation_steps s JOIN entries e ON "
        "e.operation_id = s.operation_id WHERE s.kind = 'cover' AND e.account_id = '@insurance'",
    ):
        t = series["tick"].index(tick_of_run[run])
        price = series["index"][asset][t] if asset in series["index"] else 1.0
        covered -= float(assets.get(asset, "asset").to_decimal(int(amount))) * price
    stages = crash["waterfall"]
    assert covered == pytest.approx(stages["covered by the fund"], abs=0.01)
    assert result.extras["replay"]["adl_fills"] == crash["adl_fills"]


def test_serve_shows_the_demos_ledger(job: tuple[DemoResult, Path]) -> None:
    """What the demo prints to run afterwards (``solvent key create --operator`` and ``solvent
    serve --db ... --market DIR/market.json``) serves the demo's ledger: the dashboard, every
    account of the book, the insurance fund as the ledger holds it, and the replay's engine
    events (its liquidations) on ``/v1/events``."""
    result, folder = job
    crash = read_figures(folder / "index.html")["replay"]
    service = Service(ServiceConfig(db=crash["db"]), load_market(folder / "market.json"))
    try:
        assert service.event_stream == REPLAY_STREAM
        key = {"Authorization": f"Bearer {create_key(service.ledger, None).key}"}
        with TestClient(create_app(service)) as client:
            page = client.get("/")
            accounts = client.get("/v1/accounts", headers=key).json()
            fund = client.get("/v1/insurance-fund", headers=key).json()
            events = client.get("/v1/events?limit=1000", headers=key).json()["events"]
        ledger_fund = service.ledger.balances("@insurance")
    finally:
        service.ledger.close()
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert [r["account"] for r in accounts["accounts"]] == sorted(result.book.accounts.accounts)
    assert sum(accounts["states"].values()) == len(result.book.accounts)
    assets = default_assets()
    served = {a: v for a, v in fund["balances"].items() if Decimal(v) != 0}
    assert served == {a: assets.get(a).format(u) for a, u in ledger_fund.items()}
    liquidations = [e for e in events if e["kind"] == "liquidation"]
    assert liquidations and all(e["tick"] <= crash["summary"]["steps"] for e in events)
    logged = _ledger_rows(
        crash,
        "SELECT seq, kind, account FROM realtime_events WHERE stream = 'replay' "
        "ORDER BY seq LIMIT 1000",
    )
    assert [(e["seq"], e["kind"], e["account"]) for e in events] == logged
