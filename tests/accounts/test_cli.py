"""``solvent account`` end to end (FORMATS.md 9): shapes, exact decimal strings, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app

MARKET = {
    "as_of": "2026-01-05T00:00:00Z",
    "index": {"BTC": 90_000.0, "USDC": 1.0},
    "instruments": [
        {
            "name": "BTC-PERPETUAL",
            "kind": "perpetual",
            "underlying": "BTC",
            "settlement": "inverse",
            "mark_price": 90_000.0,
        },
    ],
}


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    market = tmp_path / "market.json"
    market.write_text(json.dumps(MARKET))
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str, ok: bool = True) -> dict:  # type: ignore[type-arg]
        argv = ["account", *args, "--db", db]
        if args[0] in ("withdraw", "trade", "check", "show"):
            argv += ["--market", str(market)]
        result = runner.invoke(app, argv)
        assert (result.exit_code == 0) == ok, (argv, result.output)
        return json.loads(result.stdout) if ok else {}

    return run


def test_account_lifecycle(cli) -> None:  # type: ignore[no-untyped-def]
    cli("create", "c1")
    cli("create", "c1-iso", "--parent", "c1", "--mode", "isolated")
    assert cli("deposit", "c1", "BTC", "1.5")["balance"] == "1.5"
    assert cli("deposit", "c1", "BTC", "0.00000001")["balance"] == "1.50000001"
    shown = cli("show", "c1")
    assert shown["balances"] == {"BTC": "1.50000001"} and shown["state"] == "healthy"
    for key in (
        "equity_usd",
        "collateral_value_usd",
        "initial_margin_usd",
        "maintenance_margin_usd",
        "excess_usd",
        "margin_ratio",
        "positions",
    ):
        assert key in shown
    # 1.50000001 BTC x 90,000 x (1 - 10 %) = 121,500.0008 USD
    assert shown["collateral_value_usd"] == pytest.approx(121_500.0008)
    check = cli("check", "c1", "--order", "BTC-PERPETUAL", "-0.1")
    assert check["accepted"] is True and check["initial_margin_usd"] > 0
    assert cli("show", "c1")["positions"] == []  # check wrote nothing
    traded = cli("trade", "c1", "BTC-PERPETUAL", "-0.5", "90000", "--fee", "0.0001")
    assert traded["position"]["quantity"] == -0.5 and traded["fee"] == "0.0001"
    assert cli("show", "c1")["balances"] == {"BTC": "1.49990001"}
    cli("withdraw", "c1", "BTC", "1.49990001", ok=False)  # would leave the short unmargined
    cli("withdraw", "c1", "BTC", "0.5")
    audit = cli("audit")
    assert audit["ok"] is True
    assert audit["assets"]["BTC"] == {
        "deposited": 1.50000001,
        "withdrawn": 0.5,
        "held": 1.00000001,
        "held_exact": "1.00000001",
    }


def test_refusals(cli) -> None:  # type: ignore[no-untyped-def]
    cli("create", "c2")
    for amount in ("0.000000001", "0", "-1", "1e2", "x"):
        cli("deposit", "c2", "BTC", amount, ok=False)
    cli("deposit", "c2", "DOGGO", "1", ok=False)
    cli("deposit", "nobody", "BTC", "1", ok=False)
    cli("create", "c3", "--model", "nope", ok=False)
    cli("create", "c4", "--parent", "c2", ok=False)
    assert cli("audit")["assets"] == {}
