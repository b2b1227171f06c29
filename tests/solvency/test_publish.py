"""``solvent solvency keygen|publish|verify`` end to end on a ledger built by ``account``."""

from __future__ import annotations

import json
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app

NOW = "2026-01-05T08:00:00Z"
LATER = "2026-01-05T09:00:00Z"
MARKET = {
    "as_of": NOW,
    "index": {"BTC": 100_000.0, "ETH": 4_000.0, "USDC": 1.0},
    "rates": {"USD": 0.03},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_050.0},
        {"name": "BTC-27MAR26-90000-P", "mark_price": 0.02},
    ],
}


def run(*argv: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(argv))
    assert result.exit_code == code, (argv, result.stdout, result.stderr)
    return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture
def venue(tmp_path: Path) -> dict[str, str]:
    """A ledger with two users (one with a perpetual in profit), a funded venue and an insurance
    fund; a market; a key."""
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    market = tmp_path / "market.json"
    market.write_text(json.dumps(MARKET))
    for argv in (
        ["account", "create", "alice"],
        ["account", "deposit", "alice", "BTC", "2"],
        ["account", "create", "bob"],
        ["account", "deposit", "bob", "USDC", "5000.25"],
        ["account", "create", "bob-sub", "--parent", "bob", "--mode", "isolated"],
        ["account", "deposit", "bob-sub", "ETH", "1.5"],
        ["account", "deposit", "@venue", "BTC", "10"],
        ["account", "deposit", "@insurance", "BTC", "0.75"],
    ):
        run(*argv, "--db", db)
    for instrument, quantity, price in (
        ("BTC-PERPETUAL", "1", "100000"),
        ("BTC-27MAR26-90000-P", "2", "0.02"),
    ):
        run(
            "account", "trade", "alice", instrument, quantity, price,
            "--market", str(market), "--now", NOW, "--db", db,
        )  # fmt: skip
    key = tmp_path / "venue.key"
    assert run("solvency", "keygen", "--out", str(key))["public_key"]
    return {"db": db, "market": str(market), "key": str(key), "dir": str(tmp_path)}


def publish(venue: dict[str, str], out: str, *extra: str) -> dict[str, Any]:
    return run(  # type: ignore[no-any-return]
        "solvency", "publish", "--market", venue["market"], "--key", venue["key"],
        "--out", out, "--db", venue["db"], *extra,
    )  # fmt: skip


def test_publish_and_verify_every_proof(venue: dict[str, str]) -> None:
    out = str(Path(venue["dir"]) / "snap")
    report = publish(venue, out, "--now", NOW)
    header = json.loads((Path(out) / "header.json").read_text())
    proofs = sorted((Path(out) / "proofs").glob("*.json"), key=lambda p: p.stem)
    assert [p.stem for p in proofs] == ["@insurance", "alice", "bob", "bob-sub"]
    assert header["leaf_count"] == 4 and header["depth"] == 32
    assert [a["asset"] for a in header["assets"]] == ["BTC", "ETH", "USDC"]

    # alice: 2 BTC plus her long perpetual settled at the mark (inverse: USD P&L / mark, floored);
    # her 2 puts cost 0.04 BTC of premium and are worth 2 x 0.02 BTC at the mark: no change
    pnl = (Decimal(100_050) - Decimal(100_000)) / Decimal(100_050)
    alice_btc = 2 * 10**8 + int((pnl * 10**8).to_integral_value(ROUND_FLOOR))
    fund_btc = 75_000_000
    assert header["root"]["balances"] == {
        "BTC": alice_btc + fund_btc,
        "ETH": 1_500_000_000,
        "USDC": 5_000_250_000,
    }
    assert header["insurance_fund"]["balances"]["BTC"] == fund_btc
    assert report["assets"]["BTC"]["liabilities"] == alice_btc + fund_btc
    assert report["assets"]["BTC"]["insurance_fund"] == fund_btc
    # without a statement the reserves are the ledger's: everything deposited (the venue's 10 BTC
    # of capital included), so BTC is covered
    assert report["reserves_source"] == "ledger"
    assert report["assets"]["BTC"]["reserves"] == 1275 * 10**6
    assert report["solvent"] is True
    assert json.loads((Path(out) / "report.json").read_text()) == report

    for proof in proofs:
        verdict = run(
            "solvency", "verify", str(proof), "--header", str(Path(out) / "header.json"),
            "--now", NOW, "--public-key", header["public_key"],
        )  # fmt: skip
        assert verdict["valid"] is True and verdict["reason"] is None
        assert verdict["account"] == proof.stem
        assert all(c["ok"] for c in verdict["checks"])
    bob = run(
        "solvency", "verify", str(Path(out) / "proofs" / "bob.json"),
        "--header", str(Path(out) / "header.json"), "--now", NOW,
    )  # fmt: skip
    assert bob["balances"] == {"BTC": 0, "ETH": 0, "USDC": 5_000_250_000}


def test_reserves_statement_and_chain(venue: dict[str, str], tmp_path: Path) -> None:
    first = str(tmp_path / "s1")
    publish(venue, first, "--now", NOW)
    reserves = tmp_path / "reserves.json"
    reserves.write_text(
        json.dumps(
            {
                "as_of": LATER,
                "assets": {"BTC": "1.5", "ETH": "1.5", "USDC": "4000"},
                "attestations": [{"asset": "BTC", "address": "bc1q...", "signature": "..."}],
            }
        )
    )
    second = str(tmp_path / "s2")
    report = publish(
        venue, second, "--now", LATER, "--reserves", str(reserves),
        "--previous", str(Path(first) / "header.json"),
    )  # fmt: skip
    assert report["snapshot"] == 2 and report["reserves_source"] == "statement"
    assert report["assets"]["ETH"]["coverage"] == 1.0
    assert report["assets"]["USDC"]["coverage"] == pytest.approx(4000 / 5000.25)
    assert report["assets"]["USDC"]["solvent"] is False and report["solvent"] is False
    assert len(report["attestations"]) == 1
    verdict = run(
        "solvency", "verify", str(Path(second) / "proofs" / "alice.json"),
        "--header", str(Path(second) / "header.json"),
        "--previous", str(Path(first) / "header.json"), "--now", LATER,
    )  # fmt: skip
    assert verdict["valid"] and "chain" in [c["name"] for c in verdict["checks"]]
    # the first snapshot's proof against the second header: stale, exit 1, one line on stderr
    result = CliRunner().invoke(
        app,
        [
            "solvency", "verify", str(Path(first) / "proofs" / "alice.json"),
            "--header", str(Path(second) / "header.json"), "--now", LATER,
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["valid"] is False
    assert result.stderr.startswith("solvent: error: the proof is not valid: snapshot")


def test_refusals(venue: dict[str, str], tmp_path: Path) -> None:
    run("solvency", "keygen", "--out", venue["key"], code=2)  # never overwrites a key
    out = str(tmp_path / "snap")
    publish(venue, out, "--now", NOW)
    run(
        "solvency",
        "publish",
        "--market",
        venue["market"],
        "--key",
        venue["key"],
        "--out",
        out,
        "--db",
        venue["db"],
        code=2,
    )  # fmt: skip  (a directory already published)
    bad = tmp_path / "bad-reserves.json"
    for doc in (
        {"as_of": NOW, "assets": {"BTC": "-1"}, "attestations": []},
        {"as_of": NOW, "assets": {"BTC": "0.000000001"}, "attestations": []},
        {"as_of": NOW, "assets": {"NOPE": "1"}, "attestations": []},
        {"as_of": NOW, "assets": {"BTC": 1.5}, "attestations": []},
        {"as_of": "today", "assets": {}, "attestations": []},
        {"as_of": NOW, "assets": {}},
    ):
        bad.write_text(json.dumps(doc))
        run(
            "solvency", "publish", "--market", venue["market"], "--key", venue["key"],
            "--out", str(tmp_path / "x"), "--db", venue["db"], "--reserves", str(bad), code=2,
        )  # fmt: skip
    header = str(Path(out) / "header.json")
    proof = str(Path(out) / "proofs" / "alice.json")
    run("solvency", "verify", proof, code=2)  # --header is required for Solvent's format
    run("solvency", "verify", proof, "--header", header, "--format", "x", code=2)
    run("solvency", "verify", proof, "--header", header, "--max-age", "-1", code=2)
    other = tmp_path / "other.key"
    run("solvency", "keygen", "--out", str(other))
    run(
        "solvency",
        "publish",
        "--market",
        venue["market"],
        "--key",
        str(other),
        "--out",
        str(tmp_path / "y"),
        "--db",
        venue["db"],
        "--previous",
        header,
        code=2,
    )  # fmt: skip  (a chain is signed by one key)


def test_live_refresh_from_the_ledger(venue: dict[str, str]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from solvent.ledger.store import Ledger
    from solvent.market.snapshot import load_market
    from solvent.solvency.live import LiveSolvency
    from solvent.solvency.verifier import verify_proof

    ledger = Ledger.open(venue["db"])
    market = load_market(venue["market"])
    live = LiveSolvency.from_ledger(ledger, market, Ed25519PrivateKey.generate(), depth=12)
    first = live.publish()
    run("account", "deposit", "bob", "USDC", "0.75", "--db", venue["db"])
    run("account", "create", "carol", "--db", venue["db"])
    run("account", "deposit", "carol", "ETH", "2", "--db", venue["db"])
    live.refresh(ledger, market, ["bob", "carol", "@venue"])  # @venue is not a liability
    second = live.publish()
    ledger.close()
    assert second["root"]["balances"]["USDC"] == first["root"]["balances"]["USDC"] + 750_000
    assert second["root"]["balances"]["ETH"] == first["root"]["balances"]["ETH"] + 2 * 10**9
    assert second["leaf_count"] == first["leaf_count"] + 1
    for account in ("alice", "bob", "carol", "@insurance"):
        assert verify_proof(live.proof(account), second, previous=first).valid


def test_reading_a_publication(venue: dict[str, str], tmp_path: Path) -> None:
    from solvent.errors import SolventInputError
    from solvent.solvency.publish import read_published_header, read_published_proof

    out = tmp_path / "snap"
    publish(venue, str(out), "--now", NOW)
    header = read_published_header(out)
    assert header["leaf_count"] == 4
    assert read_published_proof(out, "@insurance")["account"] == "@insurance"
    for bad in ("../snap/header", "nobody", "", "a/b"):
        with pytest.raises(SolventInputError):
            read_published_proof(out, bad)


def test_live_refresh_after_a_market_move(venue: dict[str, str]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from solvent.ledger.store import Ledger
    from solvent.market.snapshot import parse_market
    from solvent.solvency.live import LiveSolvency

    ledger = Ledger.open(venue["db"])
    moved = json.loads(json.dumps(MARKET))
    moved["instruments"][0]["mark_price"] = 110_000.0
    live = LiveSolvency.from_ledger(ledger, parse_market(MARKET), Ed25519PrivateKey.generate())
    before = live.publish()
    live.refresh(ledger, parse_market(moved))  # every account: the marks moved
    after = live.publish()
    ledger.close()
    gain = (Decimal(110_000) - Decimal(100_000)) / Decimal(110_000) * 10**8
    was = (Decimal(100_050) - Decimal(100_000)) / Decimal(100_050) * 10**8
    change = int(gain.to_integral_value(ROUND_FLOOR)) - int(was.to_integral_value(ROUND_FLOOR))
    assert after["root"]["balances"]["BTC"] - before["root"]["balances"]["BTC"] == change
    assert after["leaf_count"] == before["leaf_count"]
