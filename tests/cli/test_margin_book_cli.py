"""``solvent margin`` on a book of a few thousand accounts (cross chains, isolated sub-accounts,
debts, many assets): the vectorized path gives, account by account, what margining and valuing
each margin group on its own gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import AS_OF
from solvent.cli.main import app
from solvent.collateral.valuation import value_collateral
from solvent.engine.margin import margin_portfolios
from solvent.market.snapshot import parse_market
from solvent.portfolio.groups import merge_cross_groups
from solvent.portfolio.portfolio import parse_portfolio_or_book

N_ACCOUNTS = 2000
MARKET: dict[str, Any] = {
    "as_of": AS_OF,
    "index": {"BTC": 100_000.0, "ETH": 4_000.0, "SOL": 150.0, "USDC": 1.0},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_000.0},
        {"name": "ETH-PERPETUAL", "mark_price": 4_000.0},
        {"name": "BTC_USDC-PERPETUAL", "mark_price": 100_000.0},
        {"name": "BTC-27MAR26", "mark_price": 101_000.0},
        {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
        {"name": "BTC-27MAR26-90000-P", "mark_iv": 0.55},
        {"name": "ETH-27MAR26-4000-C", "mark_iv": 0.6, "forward": 4_000.0},
        {"name": "BTC_USDC-27MAR26-100000-C", "mark_iv": 0.5},
    ],
}
ASSETS = ["BTC", "ETH", "SOL", "USDC"]


def _book(n: int, seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    names = [i["name"] for i in MARKET["instruments"]]
    accounts = []
    for i in range(n):
        k = int(rng.integers(0, 5))
        rec: dict[str, Any] = {
            "account": f"a{i}",
            "collateral": {
                ASSETS[j]: round(float(rng.normal(2.0, 3.0)) * (10.0 if j == 3 else 1.0), 3)
                for j in rng.choice(4, int(rng.integers(0, 4)), replace=False).tolist()
            },
            "positions": [
                {"instrument": names[j], "quantity": round(float(rng.normal(0, 2)), 2)}
                for j in rng.integers(0, len(names), k).tolist()
            ],
        }
        if i % 7 in (1, 2):  # cross sub-accounts; some of a cross sub-account (a chain)
            rec["parent"] = f"a{i - 1}"
        elif i % 7 == 3:
            rec |= {"parent": f"a{i - 3}", "mode": "isolated"}
        accounts.append(rec)
    return {"accounts": accounts}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("book")
    market, book = tmp / "market.json", tmp / "book.json"
    market.write_text(json.dumps(MARKET))
    raw = _book(N_ACCOUNTS)
    book.write_text(json.dumps(raw))
    return market, book, raw


@pytest.mark.parametrize("model", ["standard", "deribit-pm"])
def test_book_results_equal_each_group_margined_alone(
    files: tuple[Path, Path, dict[str, Any]], model: str
) -> None:
    market_path, book_path, raw = files
    res = CliRunner().invoke(
        app, ["margin", str(book_path), "--market", str(market_path), "--model", model]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["accounts"]
    portfolios, _ = parse_portfolio_or_book(raw)
    merged, group_of = merge_cross_groups(portfolios)
    market = parse_market(MARKET)
    assert [o["account"] for o in out] == [p.account for p in portfolios]
    # Collateral of every group, valued alone: bit for bit.
    values = [value_collateral(dict(m.collateral), market).value_usd for m in merged]
    assert [o["collateral_value_usd"] for o in out] == [values[g] for g in group_of]
    # Members of a group share its result.
    for o, g in zip(out, group_of, strict=True):
        if "margin_group" in o:
            assert o["margin_group"] == merged[g].account
    # Margin, equity and ratio of a sample of groups, each margined as a one-account book.
    rng = np.random.default_rng(0)
    for i in rng.choice(len(out), 15, replace=False).tolist():
        (alone,) = margin_portfolios([merged[group_of[i]]], market, model)
        o = out[i]
        assert o["initial_margin_usd"] == pytest.approx(alone.margin.initial_margin_usd, rel=1e-9)
        assert o["maintenance_margin_usd"] == pytest.approx(
            alone.margin.maintenance_margin_usd, rel=1e-9
        )
        assert o["equity_usd"] == pytest.approx(alone.equity_usd, rel=1e-12, abs=1e-9)
        assert o["option_value_usd"] == pytest.approx(alone.option_value_usd, rel=1e-12, abs=1e-9)
        assert [p["components"] for p in o["pools"]] == [
            pytest.approx(dict(p.components), rel=1e-9, abs=1e-9) for p in alone.margin.pools
        ]
    assert res.stderr == ""  # no progress bar for a small book on a non-terminal


def test_progress_and_timings_go_to_stderr_only(files: tuple[Path, Path, dict[str, Any]]) -> None:
    market_path, book_path, _ = files
    res = CliRunner().invoke(
        app,
        ["margin", str(book_path), "--market", str(market_path), "--progress", "--timings"],
    )
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["accounts"]) == N_ACCOUNTS
    timings = json.loads(res.stderr.strip().splitlines()[-1])["timings"]
    assert list(timings) == ["load", "group", "prepare", "margin", "collateral", "health", "render"]
    assert "solvent margin" in res.stderr  # the bar's title
    quiet = CliRunner().invoke(
        app, ["margin", str(book_path), "--market", str(market_path), "--no-progress"]
    )
    assert quiet.stderr == "" and quiet.stdout == res.stdout
