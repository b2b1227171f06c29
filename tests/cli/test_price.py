"""``solvent price MARKET`` (docs/formats.md 4): output shape, values against QuantLib, and clean
failures (stderr, non-zero exit, nothing on stdout)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import QuantLib as ql
from typer.testing import CliRunner

from solvent.cli.main import app

REPO = Path(__file__).resolve().parents[2]
MARKET: dict[str, Any] = {
    "as_of": "2024-06-17T10:22:20.501Z",
    "index": {"BTC": 65666.19, "ETH": 3512.40, "USDC": 1.0},
    "rates": {"USD": 0.0},
    "instruments": [
        {
            "name": "BTC-PERPETUAL",
            "kind": "perpetual",
            "underlying": "BTC",
            "settlement": "inverse",
            "mark_price": 65910.57,
        },
        {
            "name": "BTC-28JUN24",
            "kind": "future",
            "underlying": "BTC",
            "settlement": "inverse",
            "expiry": "2024-06-28T08:00:00Z",
            "mark_price": 67371.75,
        },
        {
            "name": "BTC-28JUN24-70000-C",
            "kind": "option",
            "underlying": "BTC",
            "settlement": "inverse",
            "expiry": "2024-06-28T08:00:00Z",
            "strike": 70000,
            "option_type": "call",
            "forward": 67371.75,
            "mark_iv": 0.45,
        },
        {"name": "BTC", "kind": "spot", "underlying": "BTC", "settlement": "linear"},
        {"name": "ETH_USDC-28JUN24-3400-P", "mark_iv": 0.6},
    ],
}
T = (
    datetime(2024, 6, 28, 8, tzinfo=UTC) - datetime(2024, 6, 17, 10, 22, 20, 501000, tzinfo=UTC)
).total_seconds() / (365 * 86400)
KEYS = {
    "name",
    "mark_price",
    "mark_price_usd",
    "mark_iv",
    "forward",
    "delta",
    "gamma",
    "vega",
    "theta",
}


def _write(tmp_path: Path, market: dict[str, Any] | str) -> Path:
    path = tmp_path / "market.json"
    path.write_text(market if isinstance(market, str) else json.dumps(market), encoding="utf-8")
    return path


def _run(path: Path) -> Any:
    return CliRunner().invoke(app, ["price", str(path)])


def _ql(is_call: bool, strike: float, forward: float, vol: float) -> dict[str, float]:
    """QuantLib's price, forward delta, gamma, vega per vol point and theta per day."""
    kind = ql.Option.Call if is_call else ql.Option.Put

    def price(t: float) -> float:
        return float(ql.blackFormula(kind, strike, forward, vol * math.sqrt(t)))

    calc = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, strike), forward, vol * math.sqrt(T))
    h = 1e-6
    return {
        "price": price(T),
        "delta": calc.deltaForward(),
        "gamma": calc.gammaForward(),
        "vega": calc.vega(T) / 100.0,
        "theta": -(price(T + h) - price(T - h)) / (2 * h) / 365.0,
    }


def test_price_prints_the_formats_shape(tmp_path: Path) -> None:
    result = _run(_write(tmp_path, MARKET))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert set(out) == {"as_of", "instruments"}
    assert datetime.fromisoformat(out["as_of"].replace("Z", "+00:00")) == datetime(
        2024, 6, 17, 10, 22, 20, 501000, tzinfo=UTC
    )
    rows = {r["name"]: r for r in out["instruments"]}
    assert [r["name"] for r in out["instruments"]] == [i["name"] for i in MARKET["instruments"]]
    for row in rows.values():
        assert KEYS <= set(row) <= KEYS | {"delta_coin"}
        for key in KEYS - {"name", "mark_iv"}:
            assert isinstance(row[key], float | int) and not isinstance(row[key], bool), key

    # Delta-1: delta 1, other greeks 0, no IV; the mark is the USD price.
    for name, mark in (("BTC-PERPETUAL", 65910.57), ("BTC-28JUN24", 67371.75), ("BTC", 65666.19)):
        row = rows[name]
        assert row["mark_price"] == row["mark_price_usd"] == row["forward"] == mark
        assert (row["delta"], row["gamma"], row["vega"], row["theta"]) == (1.0, 0.0, 0.0, 0.0)
        assert row["mark_iv"] is None and "delta_coin" not in row

    # Inverse call: coin mark, Deribit display greeks in USD, premium-adjusted coin delta.
    call = rows["BTC-28JUN24-70000-C"]
    ref = _ql(True, 70_000.0, 67371.75, 0.45)
    assert call["mark_iv"] == 0.45 and call["forward"] == 67371.75
    assert call["mark_price_usd"] == pytest.approx(ref["price"], rel=1e-12)
    assert call["mark_price"] == pytest.approx(ref["price"] / 67371.75, rel=1e-12)
    assert call["delta"] == pytest.approx(ref["delta"], rel=1e-12)
    assert call["gamma"] == pytest.approx(ref["gamma"], rel=1e-10)
    assert call["vega"] == pytest.approx(ref["vega"], rel=1e-10)
    assert call["theta"] == pytest.approx(ref["theta"], rel=1e-6)
    assert call["theta"] < 0
    assert call["delta_coin"] == pytest.approx(call["delta"] - call["mark_price"], rel=1e-12)

    # Linear put (name only): forward defaults to the ETH index, mark in USD, put delta < 0.
    put = rows["ETH_USDC-28JUN24-3400-P"]
    ref = _ql(False, 3400.0, 3512.40, 0.6)
    assert put["forward"] == 3512.40
    assert put["mark_price"] == put["mark_price_usd"] == pytest.approx(ref["price"], rel=1e-12)
    assert put["delta"] == pytest.approx(ref["delta"], rel=1e-12) and -1 < put["delta"] < 0
    assert put["vega"] == pytest.approx(ref["vega"], rel=1e-10)
    assert "delta_coin" not in put


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda m: m["index"].update(BTC=float("nan")), "index.BTC"),
        (lambda m: m["instruments"][1].update(kind="swap"), "instruments[1].kind"),
        (lambda m: m["instruments"][2].update(mark_iv=-0.45), "instruments[2].mark_iv"),
        (lambda m: m["instruments"][1].pop("mark_price"), "instruments[1].mark_price"),
        (
            lambda m: m["instruments"][2].update(expiry="2024-06-01T08:00:00Z"),
            "instruments[2].expiry",
        ),
    ],
)
def test_bad_market_fails_cleanly(tmp_path: Path, change: Any, needle: str) -> None:
    market = json.loads(json.dumps(MARKET))
    change(market)
    result = _run(_write(tmp_path, json.dumps(market)))  # json.dumps writes bare NaN
    assert result.exit_code != 0
    assert result.stdout == ""
    assert needle in result.stderr


def test_unreadable_inputs_fail_cleanly(tmp_path: Path) -> None:
    missing = _run(tmp_path / "nope.json")
    assert missing.exit_code != 0 and missing.stdout == "" and "nope.json" in missing.stderr
    broken = _run(_write(tmp_path, '{"as_of": '))
    assert broken.exit_code != 0 and broken.stdout == "" and "JSON" in broken.stderr


def test_installed_command_end_to_end(tmp_path: Path) -> None:
    """The real entry point in a subprocess: a NaN index exits non-zero, stderr only."""
    exe = Path(sys.executable).parent / "solvent"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "solvent.cli.main"]
    ok = subprocess.run(
        [*cmd, "price", str(_write(tmp_path, MARKET))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["instruments"]) == 5
    bad = json.loads(json.dumps(MARKET))
    bad["index"]["BTC"] = float("nan")
    fail = subprocess.run(
        [*cmd, "price", str(_write(tmp_path, json.dumps(bad)))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert fail.returncode != 0
    assert fail.stdout == ""
    assert "index.BTC" in fail.stderr
