"""``solvent adl QUEUE --ranking ... [--fill SIZE --price PRICE]`` (docs/formats.md 10): output
shape and ADL order, and one-line refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
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


@pytest.mark.parametrize(
    "price", ["1", "0", "-85000", "nan", "inf", "1e308", "29999.99", "240000.01"]
)
def test_fill_price_out_of_the_queue_range_is_refused(tmp_path: Path, price: str) -> None:
    """ADL fills at the liquidated position's bankruptcy price, near the queue's marks: a price
    outside [lowest / 2, highest x 2] of its mark and bankruptcy prices (here 60,000 .. 120,000,
    so 30,000 .. 240,000), or not a finite positive number, is refused naming fill.price."""
    code, out, err = run(
        str(queue(tmp_path)), "--ranking", "bitmex", "--fill", "-1", "--price", price
    )
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "fill.price" in err


@pytest.mark.parametrize("price", ["30000", "240000"])
def test_fill_price_at_the_range_ends_is_accepted(tmp_path: Path, price: str) -> None:
    code, out, _ = run(
        str(queue(tmp_path)), "--ranking", "bitmex", "--fill", "-1", "--price", price
    )
    assert code == 0
    assert json.loads(out)["fills"][0]["price"] == float(price)


def test_unfilled_has_no_floating_point_residue(tmp_path: Path) -> None:
    """A side that absorbs the whole size leaves exactly 0 unfilled: on 50,000 longs the running
    subtraction used to leave 6e-12 (printed as "unfilled": 6e-12)."""
    rng = np.random.default_rng(7)
    sizes = np.round(rng.uniform(0.01, 3.0, 50_000), 4)
    rows = [
        {
            "account": f"l{i}",
            "quantity": float(q),
            "entry_price": 90_000.0,
            "mark_price": 93_700.0,
            "bankruptcy_price": 80_000.0,
        }
        for i, q in enumerate(sizes)
    ]
    path = tmp_path / "q.json"
    path.write_text(json.dumps({"instrument": "BTC-PERPETUAL", "positions": rows}))
    code, out, _ = run(str(path), "--ranking", "bitmex", "--fill", "-5000", "--price", "85000")
    assert code == 0
    doc = json.loads(out)
    assert doc["unfilled"] == 0.0
    assert sum(-f["quantity"] for f in doc["fills"]) == pytest.approx(5000.0, rel=1e-12)
    # the last, partial fill too is what is left of 5000 (no -4.941999999997 for 4.942)
    assert all(round(f["quantity"], 4) == f["quantity"] for f in doc["fills"])


@pytest.mark.parametrize("ranking", ["bitmex", "binance", "hyperliquid"])
def test_a_position_too_small_to_value_is_refused(tmp_path: Path, ranking: str) -> None:
    """1e-300 contracts of 1e-300 units: its values underflow to 0 and the bitmex score was
    0 / 0 (a RuntimeWarning traceback); refused naming the quantity."""
    row = {
        "account": "l1",
        "quantity": 1e-300,
        "entry_price": 1e-9,
        "mark_price": 1e-9,
        "bankruptcy_price": 0.0,
        "wallet_balance_usd": 0.0,
        "maintenance_margin_usd": 0.0,
        "account_value_usd": 1.0,
    }
    doc = {"instrument": "O", "option": True, "contract_size": 1e-300, "price_unit_usd": 1e-9}
    path = tmp_path / "q.json"
    path.write_text(json.dumps(doc | {"positions": [row]}))
    code, out, err = run(str(path), "--ranking", ranking)
    assert code == 2 and out == ""
    assert "positions[0].quantity" in err and len(err.strip().splitlines()) == 1
