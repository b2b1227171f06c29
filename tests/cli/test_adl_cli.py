"""``solvent adl QUEUE --ranking ... [--fill SIZE --price PRICE]`` (docs/formats.md 10): output
shape and ADL order, and one-line refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app


def queue(tmp_path: Path, **changes: Any) -> Path:
    rows = [
        {
            "account": a,
            "quantity": q,
            "entry_price": 90_000.0,
            "mark_price": 93_700.0,
            "bankruptcy_price": b,
            "wallet_balance_usd": 5_000.0,
            "maintenance_margin_usd": 500.0,
            "account_value_usd": 6_000.0,
        }
        for a, q, b in (("l1", 1.0, 80_000.0), ("l2", 2.0, 60_000.0), ("s1", -1.0, 120_000.0))
    ]
    for key, value in changes.items():
        rows[0][key] = value
    path = tmp_path / "queue.json"
    path.write_text(json.dumps({"instrument": "BTC-PERPETUAL", "positions": rows}))
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["adl", *args])
    return result.exit_code, result.stdout, result.stderr


def test_bitmex_order_quantiles_and_fills(tmp_path: Path) -> None:
    code, out, _ = run(
        str(queue(tmp_path)), "--ranking", "bitmex", "--fill", "-1.5", "--price", "85000"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["ranking"] == "bitmex"
    longs = doc["queues"]["long"]
    assert [e["account"] for e in longs] == ["l1", "l2"]  # leverage 6.84 before 2.78
    assert [e["quantile"] for e in longs] == [0.4, 1.0]  # 1/3 of the quantity, then all
    assert longs[0]["score"] == pytest.approx((3_700 / 90_000) * 93_700 / 13_700)
    assert [e["account"] for e in doc["queues"]["short"]] == ["s1"]
    assert doc["fills"] == [
        {"account": "l1", "quantity": -1.0, "price": 85_000.0},
        {"account": "l2", "quantity": -0.5, "price": 85_000.0},
    ]


@pytest.mark.parametrize("ranking", ["binance", "hyperliquid"])
def test_other_rankings(tmp_path: Path, ranking: str) -> None:
    code, out, _ = run(str(queue(tmp_path)), "--ranking", ranking)
    assert code == 0
    doc = json.loads(out)
    assert {e["account"] for e in doc["queues"]["long"]} == {"l1", "l2"}
    assert "fills" not in doc


@pytest.mark.parametrize(
    ("args", "changes", "field"),
    [
        (["--ranking", "okx"], {}, "--ranking"),
        (["--ranking", "bitmex"], {"mark_price": "NaN"}, "positions[0].mark_price"),
        (["--ranking", "binance"], {"wallet_balance_usd": None}, "positions[0].wallet_balance_usd"),
        (["--ranking", "bitmex", "--fill", "1", "--price", "95000"], {}, "fill.size"),
        (["--ranking", "bitmex", "--fill", "-1"], {}, "--price"),
    ],
)
def test_refusals(tmp_path: Path, args: list[str], changes: dict[str, Any], field: str) -> None:
    path = queue(tmp_path, **changes)
    if changes.get("wallet_balance_usd", 0) is None:
        doc = json.loads(path.read_text())
        del doc["positions"][0]["wallet_balance_usd"]
        path.write_text(json.dumps(doc))
    if changes.get("mark_price") == "NaN":
        path.write_text(path.read_text().replace('"NaN"', "NaN"))
    code, out, err = run(str(path), *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert field in err
