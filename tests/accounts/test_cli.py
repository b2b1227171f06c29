"""``solvent account`` end to end (docs/formats.md 9): shapes, exact decimal strings, refusals."""

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
        if args[0] in ("withdraw", "trade"):  # the market's own instant: it is not stale then
            argv += ["--now", MARKET["as_of"]]
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


def test_venue_balances_are_visible_and_audited(cli) -> None:  # type: ignore[no-untyped-def]
    cli("create", "v1")
    cli("deposit", "v1", "BTC", "0.1")
    cli("trade", "v1", "BTC-PERPETUAL", "1", "1", ok=False)  # 1 USD against a mark of 90,000
    cli("deposit", "@venue", "BTC", "2")  # the venue's capital
    cli("trade", "v1", "BTC-PERPETUAL", "1", "88000")
    closed = cli("trade", "v1", "BTC-PERPETUAL", "-1", "92000")
    assert closed["realized_pnl"] == "0.04347826"  # (92,000 - 88,000) / 92,000 BTC, floored
    venue = cli("show", "@venue")
    assert venue["balances"] == {"BTC": "1.95652174"} and venue["initial_margin_usd"] == 0.0
    audit = cli("audit")
    assert audit["ok"] is True
    assert audit["system"] == {"@venue": {"BTC": "1.95652174"}, "@fees": {}, "@insurance": {}}
    cli("withdraw", "@venue", "BTC", "0.95652174")  # the venue takes capital out: no margin
    cli("withdraw", "@venue", "BTC", "1.00000001", ok=False)  # never below zero
    cli("deposit", "@external", "BTC", "1", ok=False)
    assert cli("audit")["system"]["@venue"] == {"BTC": "1"}


def test_unpriced_collateral_is_shown_not_blocking(cli) -> None:  # type: ignore[no-untyped-def]
    cli("create", "d1")
    cli("deposit", "d1", "BTC", "1")
    cli("deposit", "d1", "DOGE", "100")  # MARKET has no DOGE index
    shown = cli("show", "d1")
    assert shown["unpriced"] == ["DOGE"] and shown["balances"]["DOGE"] == "100"
    assert shown["collateral_value_usd"] == pytest.approx(81_000.0)  # BTC only
    cli("withdraw", "d1", "BTC", "0.5")
    cli("deposit", "d1", "DOGGO", "1", ok=False)  # not in the collateral schedule


def test_market_freshness_options(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    market = tmp_path / "market.json"  # written by the fixture
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    cli("create", "f1")
    cli("deposit", "f1", "BTC", "1")

    def run(*extra: str) -> tuple[int, str]:
        argv = ["account", "withdraw", "f1", "BTC", "0.1", "--market", str(market), "--db", db]
        result = runner.invoke(app, [*argv, *extra])
        return result.exit_code, result.stderr

    code, err = run()  # the wall clock: a market of 2026-01-05 is stale
    assert code == 2 and "market" in err and "s old" in err
    assert run("--now", "2026-01-05T00:04:00Z")[0] == 0  # 4 minutes: fresh enough
    code, err = run("--now", "2026-01-05T00:06:00Z")
    assert code == 2 and "360 s old" in err
    assert run("--now", "2026-01-05T00:06:00Z", "--max-market-age", "600")[0] == 0
    assert run("--now", "yesterday")[0] == 2
    assert run("--now", "2026-01-05T00:00:00Z", "--max-market-age", "-1")[0] == 2


def test_price_bands_file_overrides_the_defaults(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    bands = tmp_path / "bands.toml"
    bands.write_text("[kinds.perpetual]\nrelative = 0.5\n")
    cli("create", "b1")
    cli("deposit", "b1", "BTC", "1")
    argv = ["account", "trade", "b1", "BTC-PERPETUAL", "0.1", "60000", "--market"]
    argv += [str(tmp_path / "market.json"), "--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    argv += ["--now", MARKET["as_of"]]
    refused = runner.invoke(app, argv)
    assert refused.exit_code == 2 and "price: 60000 is outside the perpetual price band" in (
        refused.stderr
    )
    assert runner.invoke(app, [*argv, "--price-bands", str(bands)]).exit_code == 0
    bands.write_text("[kinds.perpetual]\nrelative = -1\n")
    bad = runner.invoke(app, [*argv, "--price-bands", str(bands)])
    assert bad.exit_code == 2 and "kinds.perpetual.relative" in bad.stderr
