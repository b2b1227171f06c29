"""Stress library values against the raw history; stress losses by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers import BTC, market, portfolio
from solvent.engine.margin import margin_portfolios
from solvent.errors import SolventInputError
from solvent.market.history import embedded_price_history
from solvent.portfolio.portfolio import Portfolio, SubAccountMode
from solvent.stress.apply import stress_book
from solvent.stress.library import historical_scenario, stress_library

HISTORY = embedded_price_history()
LIB = stress_library(HISTORY)


def _close(asset: str, day: str) -> float:
    s = HISTORY.series(asset)
    return float(s.closes[s.dates == np.datetime64(day)][0])


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("2020-03-12", "2020-03-11", "2020-03-12"),
        ("2021-05-19", "2021-05-18", "2021-05-19"),
        ("2022-05-luna", "2022-05-05", "2022-05-12"),
        ("2022-11-ftx", "2022-11-06", "2022-11-13"),
    ],
)
def test_historical_moves_are_the_close_changes(name: str, start: str, end: str) -> None:
    s = LIB[name]
    for asset in ("BTC", "ETH"):
        assert s.move(asset) == pytest.approx(_close(asset, end) / _close(asset, start) - 1)
    assert s.vol_shock("BTC") == pytest.approx(-np.log1p(s.move("BTC")))


def test_known_crash_sizes() -> None:
    assert LIB["2020-03-12"].move("BTC") == pytest.approx(-0.39, abs=0.01)  # 7,932 -> 4,800
    assert LIB["2020-03-12"].move("SOL") == LIB["2020-03-12"].move("BTC")  # SOL listed 2020-08
    assert "SOL" in LIB["2020-03-12"].proxied
    with pytest.raises(SolventInputError, match="history"):
        historical_scenario(HISTORY, "x", "2010-01-01", "2010-01-02")


def test_crash_loss_by_hand() -> None:
    pf = [
        portfolio("long", ("BTC_USDC-PERPETUAL", 2.0), USDC=10_000.0),
        portfolio("inverse", ("BTC-PERPETUAL", 1.0), BTC=0.5),
        portfolio("flat", USDC=1_000.0),
    ]
    (res,) = stress_book(pf, market(), [LIB["crash-40-vol-x2"]])
    assert res.loss_usd[0] == pytest.approx(2 * 0.4 * BTC)
    assert res.equity_after_usd[0] == pytest.approx(10_000 - 0.8 * BTC)
    assert res.shortfall_usd[0] == pytest.approx(0.8 * BTC - 10_000)
    # inverse perp: 1 coin of exposure loses 0.4 BTC worth at the new price = P1 - P0 USD,
    # and the 0.5 BTC collateral loses 0.5 * 0.4 * P0
    assert res.loss_usd[1] == pytest.approx(0.4 * BTC + 0.5 * 0.4 * BTC)
    assert res.loss_usd[2] == 0.0
    out = res.to_json()
    assert out["negative_equity_accounts"] == ["long", "inverse"]
    # equity is the one definition (docs/glossary.md): the 0.5 BTC count after the 10 % haircut
    # of the major class (issue 8 item 6; it was the gross 0.5 BTC before)
    assert res.equity_usd[1] == pytest.approx(0.5 * BTC * (1 - 0.10))
    assert out["total_shortfall_usd"] == pytest.approx(
        (0.8 * BTC - 10_000) + (0.6 * BTC - 0.5 * BTC * (1 - 0.10))
    )


def test_depeg_hits_collateral_and_usdc_settled_options() -> None:
    m = market(extra=[{"name": "BTC_USDC-27MAR26-100000-C", "mark_iv": 0.5}])
    pf = [portfolio("a", ("BTC_USDC-27MAR26-100000-C", 1.0), ("ETH-PERPETUAL", 1.0), USDC=5000.0)]
    (res,) = stress_book(pf, m, [LIB["usdc-depeg-0.9"]])
    option_value = m.quote("BTC_USDC-27MAR26-100000-C").mark_price
    assert res.loss_usd[0] == pytest.approx(0.1 * 5000 + 0.1 * option_value)
    (res_t,) = stress_book(pf, m, [LIB["usdt-depeg-0.9"]])
    assert res_t.loss_usd[0] == pytest.approx(0.0, abs=1e-9)


def test_cli_stress(tmp_path: Path) -> None:
    book = tmp_path / "book.json"
    book.write_text(
        json.dumps(
            {
                "accounts": [
                    {
                        "account": "a",
                        "collateral": {"USDC": 1000.0},
                        "positions": [{"instrument": "BTC_USDC-PERPETUAL", "quantity": 1.0}],
                    }
                ]
            }
        )
    )
    mk = tmp_path / "market.json"
    mk.write_text(
        json.dumps(
            {
                "as_of": "2026-01-05T08:00:00Z",
                "index": {"BTC": 100000.0},
                "instruments": [{"name": "BTC_USDC-PERPETUAL", "mark_price": 100000.0}],
            }
        )
    )
    run = [sys.executable, "-m", "solvent.cli.main", "stress", str(book), "--market", str(mk)]
    out = json.loads(
        subprocess.run(
            [*run, "--scenario", "2020-03-12"], capture_output=True, text=True, check=True
        ).stdout
    )
    (sc,) = out["scenarios"]
    move = _close("BTC", "2020-03-12") / _close("BTC", "2020-03-11") - 1
    assert sc["accounts"][0]["loss_usd"] == pytest.approx(-move * 100000.0)
    assert sc["negative_equity_accounts"] == ["a"]
    everything = json.loads(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
    assert len(everything["scenarios"]) == 8
    bad = subprocess.run([*run, "--scenario", "nope"], capture_output=True, text=True)
    assert bad.returncode != 0 and "scenario[0]" in bad.stderr


def _family(mode: SubAccountMode) -> list[Portfolio]:
    """A parent short 1 BTC with 1,000 USDC, and a sub-account long 0.5 BTC with 100 USDC."""
    parent = portfolio("parent", ("BTC_USDC-PERPETUAL", -1.0), USDC=1_000.0)
    sub = portfolio("sub", ("BTC_USDC-PERPETUAL", 0.5), USDC=100.0)
    return [parent, replace(sub, parent="parent", mode=mode), portfolio("other", USDC=10.0)]


def test_a_cross_sub_account_is_stressed_with_its_parent() -> None:
    """Issue 8 item 6: the crash bankrupts the sub-account alone, but its parent gains more."""
    (res,) = stress_book(_family(SubAccountMode.CROSS), market(), [LIB["crash-40-vol-x2"]])
    out = res.to_json()
    rows = {row["account"]: row for row in out["accounts"]}
    unit_gain = 0.4 * BTC * (1.0 - 0.5)  # net short 0.5 BTC
    for name in ("parent", "sub"):
        assert rows[name]["loss_usd"] == pytest.approx(-unit_gain)
        assert rows[name]["equity_after_usd"] == pytest.approx(1_100.0 + unit_gain)
        assert rows[name]["margin_group"] == "parent"
        assert rows[name]["group_members"] == ["parent", "sub"]
    assert "margin_group" not in rows["other"]
    assert out["negative_equity_accounts"] == []
    assert out["total_loss_usd"] == pytest.approx(-unit_gain)  # the group counted once
    assert res.units == ("parent", "other") and res.unit_of.tolist() == [0, 0, 1]


def test_an_isolated_sub_account_stands_alone() -> None:
    (res,) = stress_book(_family(SubAccountMode.ISOLATED), market(), [LIB["crash-40-vol-x2"]])
    out = res.to_json()
    rows = {row["account"]: row for row in out["accounts"]}
    assert rows["sub"]["equity_after_usd"] == pytest.approx(100.0 - 0.2 * BTC)
    assert rows["parent"]["loss_usd"] == pytest.approx(-0.4 * BTC)
    assert out["negative_equity_accounts"] == ["sub"]
    assert "margin_group" not in rows["sub"]


def test_stress_and_margin_report_the_same_equity() -> None:
    """Issue 8 item 6: one definition of equity_usd (docs/glossary.md) in both commands, for
    coin collateral (haircut), an inverse option and a cross group."""
    m = market()
    book = [
        portfolio("a", ("BTC-27MAR26-110000-C", 2.0), ("BTC-PERPETUAL", 0.5), BTC=1.5, USDC=500.0),
        portfolio("b", ("BTC-27MAR26-90000-P", -1.0), ETH=3.0),
        replace(
            portfolio("c", ("ETH-27MAR26-4000-C", 4.0), USDC=50.0),
            parent="b",
            mode=SubAccountMode.CROSS,
        ),
    ]
    margin = [r.equity_usd for r in margin_portfolios(book, m, "standard")]
    for res in stress_book(book, m, [LIB["crash-40-vol-x2"], LIB["usdc-depeg-0.9"]]):
        stressed = [row["equity_usd"] for row in res.to_json()["accounts"]]  # type: ignore[index]
        assert stressed == pytest.approx(margin, rel=1e-12)
