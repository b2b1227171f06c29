"""``solvent liquidation-price`` (docs/formats.md 10) and ``account show``'s liquidation prices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app

AS_OF = "2026-01-05T00:00:00Z"
MARKET = {
    "as_of": AS_OF,
    "index": {"BTC": 90_000.0, "ETH": 3_000.0, "USDC": 1.0},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 90_000.0},
        {"name": "BTC_USDC-PERPETUAL", "mark_price": 90_000.0},
        {"name": "ETH-PERPETUAL", "mark_price": 3_000.0},
    ],
}
KEYS = [
    "account",
    "model",
    "underlying",
    "index",
    "liquidation_price_down",
    "liquidation_price_up",
    "distance_down",
    "distance_up",
]


def _run(tmp_path: Path, portfolio: dict[str, Any], *extra: str) -> Any:
    (tmp_path / "m.json").write_text(json.dumps(MARKET))
    (tmp_path / "p.json").write_text(json.dumps(portfolio))
    argv = ["liquidation-price", str(tmp_path / "p.json"), "--market", str(tmp_path / "m.json")]
    return CliRunner().invoke(app, [*argv, *extra])


def test_the_output_has_exactly_the_formats_fields(tmp_path: Path) -> None:
    pf = {
        "account": "lev",
        "collateral": {"BTC": 0.1},
        "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 1.0, "entry_price": 89_000.0}],
    }
    result = _run(tmp_path, pf, "--model", "standard", "--underlying", "BTC")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == KEYS
    assert out["account"] == "lev" and out["model"] == "standard" and out["index"] == 90_000.0
    assert 0 < out["distance_down"] < 0.5
    assert out["liquidation_price_down"] == pytest.approx(90_000.0 * (1 - out["distance_down"]))
    assert out["liquidation_price_up"] is None and out["distance_up"] is None


def test_the_default_underlying_is_the_largest_exposure(tmp_path: Path) -> None:
    pf = {
        "account": "a",
        "collateral": {"USDC": 1_000.0},
        "positions": [
            {"instrument": "ETH-PERPETUAL", "quantity": -1.0},
            {"instrument": "BTC_USDC-PERPETUAL", "quantity": -0.2},
        ],
    }
    out = json.loads(_run(tmp_path, pf).stdout)
    assert out["underlying"] == "BTC" and out["liquidation_price_up"] > 90_000.0


@pytest.mark.parametrize(
    ("extra", "field"),
    [(["--underlying", "DOGE"], "underlying"), (["--model", "nope"], "model")],
)
def test_refusals_name_the_field(tmp_path: Path, extra: list[str], field: str) -> None:
    pf = {"account": "a", "collateral": {"BTC": 1.0}, "positions": []}
    result = _run(tmp_path, pf, *extra)
    assert result.exit_code == 2
    assert field in result.stderr


def test_a_book_of_several_accounts_is_refused(tmp_path: Path) -> None:
    one = {"account": "a", "collateral": {"BTC": 1.0}, "positions": []}
    result = _run(tmp_path, {"accounts": [one, dict(one, account="b")]})
    assert result.exit_code == 2 and "one portfolio" in result.stderr
    assert _run(tmp_path, {"accounts": [one]}).exit_code == 0


def test_account_show_lists_the_units_liquidation_prices(tmp_path: Path) -> None:
    runner = CliRunner()
    market = tmp_path / "m.json"
    market.write_text(json.dumps(MARKET))
    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    now = ["--market", str(market), "--now", AS_OF]
    for argv in (
        ["create", "u"],
        ["deposit", "@venue", "USDC", "100000"],
        ["deposit", "u", "USDC", "10000"],
        ["trade", "u", "BTC_USDC-PERPETUAL", "1", "89000", *now],
    ):
        assert runner.invoke(app, ["account", *argv, *db]).exit_code == 0
    result = runner.invoke(app, ["account", "show", "u", "--market", str(market), *db])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    (btc,) = out["liquidation_prices"]
    assert list(btc) == [k for k in KEYS if k not in ("account", "model")]
    assert btc["underlying"] == "BTC" and 75_000.0 < btc["liquidation_price_down"] < 90_000.0
    venue = runner.invoke(app, ["account", "show", "@venue", "--market", str(market), *db])
    assert json.loads(venue.stdout)["liquidation_prices"] == []
