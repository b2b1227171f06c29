"""Commands that only read a ledger refuse a mistyped SQLite path instead of creating an empty
ledger there: ``solvency publish --db sqlite:///typo.db`` once signed the liabilities of an empty
ledger (zero for everyone) and ``account audit`` vouched for it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.ledger.store import Ledger


def test_audit_and_publish_refuse_a_missing_sqlite_file_and_create_nothing(
    tmp_path: Path,
) -> None:
    typo = tmp_path / "typo.db"
    url = f"sqlite:///{typo}"
    runner = CliRunner()
    audit = runner.invoke(app, ["account", "audit", "--db", url])
    assert audit.exit_code == 2 and "db: no ledger at" in audit.stderr
    key = tmp_path / "key.pem"
    assert runner.invoke(app, ["solvency", "keygen", "--out", str(key)]).exit_code == 0
    market = tmp_path / "market.json"
    market.write_text(
        json.dumps({"as_of": "2026-01-05T08:00:00Z", "index": {"BTC": 1e5}, "instruments": []})
    )
    argv = ["solvency", "publish", "--market", str(market), "--key", str(key)]
    published = runner.invoke(app, [*argv, "--out", str(tmp_path / "out"), "--db", url])
    assert published.exit_code == 2 and "db: no ledger at" in published.stderr
    assert not typo.exists() and not (tmp_path / "out").exists()
    Ledger.open(url).close()  # an existing (even empty) ledger is read as before
    assert runner.invoke(app, ["account", "audit", "--db", url]).exit_code == 0


def test_commands_on_an_existing_account_refuse_a_missing_sqlite_file(tmp_path: Path) -> None:
    """deposit, withdraw, trade, check, show and an account's API key act on an account that must
    exist: given a mistyped SQLite path they used to leave an empty ledger file behind while
    failing on the unknown account. They now refuse the path and create nothing; ``account
    create`` and ``key create --operator`` still set up a new ledger."""
    typo = tmp_path / "typo.db"
    url = f"sqlite:///{typo}"
    market = tmp_path / "market.json"
    market.write_text(
        json.dumps({"as_of": "2026-01-05T08:00:00Z", "index": {"BTC": 1e5}, "instruments": []})
    )
    m = ["--market", str(market)]
    runner = CliRunner()
    for argv in (
        ["account", "deposit", "alice", "BTC", "1"],
        ["account", "withdraw", "alice", "BTC", "1", *m],
        ["account", "trade", "alice", "BTC-PERPETUAL", "1", "100000", *m],
        ["account", "check", "alice", *m, "--order", "BTC-PERPETUAL", "1"],
        ["account", "show", "alice", *m],
        ["key", "create", "alice"],
    ):
        result = runner.invoke(app, [*argv, "--db", url])
        assert result.exit_code == 2, (argv, result.output)
        assert "db: no ledger at" in result.stderr, argv
        assert not typo.exists(), argv
    assert runner.invoke(app, ["key", "create", "--operator", "--db", url]).exit_code == 0
    assert typo.exists()
    venue = f"sqlite:///{tmp_path / 'venue.db'}"  # funding the venue first starts a ledger
    assert (
        runner.invoke(app, ["account", "deposit", "@venue", "BTC", "10", "--db", venue]).exit_code
        == 0
    )
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert runner.invoke(app, ["account", "create", "alice", "--db", fresh]).exit_code == 0
