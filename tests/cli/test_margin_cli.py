"""``solvent margin`` keeps the docs/formats.md 3 shape, for a portfolio, a book and --explain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import AS_OF
from solvent.cli.main import app

MARKET = {
    "as_of": AS_OF,
    "index": {"BTC": 100_000.0, "USDC": 1.0},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_000.0},
        {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
    ],
}
PORTFOLIO = {
    "account": "p1",
    "collateral": {"BTC": 1.0, "USDC": 1000.0},
    "positions": [
        {"instrument": "BTC-27MAR26-110000-C", "quantity": -1.0},
        {"instrument": "BTC-PERPETUAL", "quantity": 0.25},
    ],
}
TOP = {
    "account",
    "model",
    "parameters",
    "pools",
    "initial_margin_usd",
    "maintenance_margin_usd",
    "collateral_value_usd",
    "equity_usd",
    "margin_ratio",
}


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    market = tmp_path / "market.json"
    market.write_text(json.dumps(MARKET))
    pf = tmp_path / "portfolio.json"
    pf.write_text(json.dumps(PORTFOLIO))
    book = tmp_path / "book.json"
    book.write_text(json.dumps({"accounts": [PORTFOLIO, dict(PORTFOLIO, account="p2")]}))
    return market, pf, book


@pytest.mark.parametrize("model", ["standard", "deribit-pm", "derive-pm", "span", "simm"])
def test_portfolio_shape(files: tuple[Path, Path, Path], model: str) -> None:
    market, pf, _ = files
    res = CliRunner().invoke(app, ["margin", str(pf), "--market", str(market), "--model", model])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= TOP and out["model"] == model
    for pool in out["pools"]:
        assert {"currency", "initial_margin", "maintenance_margin", "components"} <= set(pool)


def test_book_and_explain(files: tuple[Path, Path, Path]) -> None:
    market, pf, book = files
    res = CliRunner().invoke(
        app, ["margin", str(book), "--market", str(market), "--model", "deribit-pm"]
    )
    assert [a["account"] for a in json.loads(res.stdout)["accounts"]] == ["p1", "p2"]
    res = CliRunner().invoke(
        app, ["margin", str(pf), "--market", str(market), "--model", "deribit-pm", "--explain"]
    )
    pool = json.loads(res.stdout)["pools"][0]
    assert {"scenarios", "contributions", "worst_scenario"} <= set(pool)


def test_errors_exit_non_zero_with_nothing_on_stdout(files: tuple[Path, Path, Path]) -> None:
    market, pf, _ = files
    for args in (
        ["margin", str(pf), "--market", str(market), "--model", "no-such-model"],
        ["margin", str(pf), "--market", str(market), "--params", "no-such-set"],
        ["margin", str(pf), "--market", str(market.parent / "missing.json")],
    ):
        res = CliRunner().invoke(app, args)
        assert res.exit_code != 0
        assert res.stdout == ""
        assert "solvent: error:" in res.stderr
