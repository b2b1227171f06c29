"""``solvent liquidate`` (docs/formats.md 10): the documented shape, input order, and one-line
errors that write nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app

MARKET: dict[str, Any] = {
    "as_of": "2026-01-05T08:00:00Z",
    "index": {"BTC": 100_000.0, "USDC": 1.0},
    "instruments": [{"name": "BTC_USDC-PERPETUAL", "mark_price": 100_000.0}],
    "order_books": {
        "BTC": {
            "bids": [[99_995.0 - 50.0 * i, 1.0] for i in range(20)],
            "asks": [[100_005.0 + 50.0 * i, 1.0] for i in range(20)],
        }
    },
}
BOOK: dict[str, Any] = {
    "accounts": [
        {"account": "ok", "collateral": {"USDC": 50_000.0}, "positions": []},
        {
            "account": "lev",
            "collateral": {"USDC": 11_000.0},
            "positions": [{"instrument": "BTC_USDC-PERPETUAL", "quantity": 10.0}],
        },
        {
            "account": "short",
            "collateral": {"USDC": 1e6},
            "positions": [{"instrument": "BTC_USDC-PERPETUAL", "quantity": -10.0}],
        },
    ]
}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    market, book = tmp_path / "market.json", tmp_path / "book.json"
    market.write_text(json.dumps(MARKET))
    book.write_text(json.dumps(BOOK))
    return market, book


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["liquidate", *args])


@pytest.mark.parametrize("policy", ["partial", "full"])
def test_liquidate_prints_the_documented_shape(files: tuple[Path, Path], policy: str) -> None:
    market, book = files
    result = _run(str(book), "--market", str(market), "--policy", policy, "--insurance-fund", "100")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= {"accounts", "insurance_fund", "adl", "socialized_loss_usd", "conservation"}
    assert [a["account"] for a in out["accounts"]] == ["ok", "lev", "short"]
    assert [a["action"] for a in out["accounts"]] == ["none", policy, "none"]
    step_fields = {
        "instrument",
        "quantity",
        "price",
        "slippage_usd",
        "fee_usd",
        "maintenance_margin_after_usd",
        "equity_after_usd",
    }
    for a in out["accounts"]:
        assert {"account", "action", "steps", "deficit_usd"} <= set(a)
        assert all(step_fields <= set(s) for s in a["steps"])
    assert set(out["insurance_fund"]) >= {
        "start_usd",
        "end_usd",
        "fees_in_usd",
        "deficits_covered_usd",
    }
    assert out["insurance_fund"]["start_usd"] == 100.0
    assert out["conservation"] == {"USDC": 0}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--policy", "nope"], "policy"),
        (["--target", "half"], "target"),
        (["--insurance-fund", "nan"], "insurance_fund"),
        (["--insurance-fund", "-5"], "insurance_fund"),
        # within the option's range but 1e19 base units of USDC: was an OverflowError traceback
        (["--insurance-fund", "1e13"], "insurance_fund"),
        (["--insurance-fund", "9.3e12"], "insurance_fund"),
        (["--model", "nope"], "model"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(
    files: tuple[Path, Path], args: list[str], field: str
) -> None:
    market, book = files
    result = _run(str(book), "--market", str(market), *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]
    assert result.stdout == ""


def test_nan_price_in_the_market_is_refused(files: tuple[Path, Path], tmp_path: Path) -> None:
    _, book = files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(MARKET).replace("100000.0}]", "NaN}]"))
    result = _run(str(book), "--market", str(bad))
    assert result.exit_code == 2 and "mark_price" in result.stderr
