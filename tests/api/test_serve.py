"""``solvent serve`` as a real process: it serves on 127.0.0.1 until SIGTERM or SIGINT, then
finishes, flushes the ledger and exits 0; what it acknowledged is in the ledger afterwards."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from contextlib import chdir
from pathlib import Path

import httpx
import pytest
from apitest import MARKET, Keys, bearer, start_server

from solvent.ledger.store import Ledger


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal(
    template: tuple[Path, Keys], keys: Keys, tmp_path: Path, sig: signal.Signals
) -> None:
    import shutil

    db_path = tmp_path / "serve.db"
    shutil.copyfile(template[0], db_path)
    db = f"sqlite:///{db_path}"
    market = tmp_path / "market.json"
    market.write_text(json.dumps(MARKET))
    server = start_server(db, market, tmp_path / "serve.log")
    try:
        r = httpx.post(
            f"{server.url}/v1/accounts/bob/trades",
            headers=bearer(keys.bob),
            json={"instrument": "BTC-PERPETUAL", "quantity": "0.25", "price": "100000"},
        )
        assert r.status_code == 201, r.text
        assert httpx.get(f"{server.url}/v1/accounts/bob").status_code == 401
    finally:
        code, log = server.stop(sig)
    assert code == 0, log
    ledger = Ledger.open(db)
    try:
        assert ledger.audit().ok
        with ledger.transaction() as tx:
            (position,) = tx.positions(["bob"])["bob"]
        assert str(position.quantity) == "0.25"
    finally:
        ledger.close()


@pytest.mark.slow
def test_serve_with_a_price_path_runs_the_engine_and_stops_with_its_checkpoint(
    template: tuple[Path, Keys], keys: Keys, tmp_path: Path
) -> None:
    """``serve --path``: the engine in the service liquidates on the ledger as the path falls;
    SIGTERM stops it with its checkpoint persisted and the ledger balanced."""
    import shutil
    import time

    from apitest import NOW, market

    from solvent.accounts.service import AccountService, MarketFreshness, registry_margin
    from solvent.realtime.checkpoint import load_checkpoint

    db_path = tmp_path / "serve.db"
    shutil.copyfile(template[0], db_path)
    db = f"sqlite:///{db_path}"
    ledger = Ledger.open(db)
    try:  # bob: 1 BTC and a 5x long
        AccountService(ledger, registry_margin, freshness=MarketFreshness(clock=lambda: NOW)).trade(
            "bob", "BTC-PERPETUAL", "5", "100000", market()
        )
    finally:
        ledger.close()
    market_file = tmp_path / "market.json"
    market_file.write_text(json.dumps(MARKET))
    server = start_server(
        db, market_file, tmp_path / "serve.log", "--path", "builtin:minus-40-hour", "--speed", "0"
    )
    try:
        deadline = time.monotonic() + 60
        events: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            r = httpx.get(f"{server.url}/v1/events", headers=bearer(keys.operator))
            events = r.json()["events"]
            if any(e["kind"] == "liquidation" for e in events):
                break
            time.sleep(0.1)
        liquidations = [e for e in events if e["kind"] == "liquidation"]
        assert liquidations and liquidations[0]["account"] == "bob", events
        assert "outcome" in liquidations[0]["detail"]  # the waterfall acted (--policy partial)
        index = httpx.get(f"{server.url}/v1/market", headers=bearer(keys.bob)).json()["index"]
        assert index["BTC"] < 100_000.0
    finally:
        code, log = server.stop(signal.SIGTERM)
    assert code == 0, log
    ledger = Ledger.open(db)
    try:
        assert ledger.audit().ok
        checkpoint = load_checkpoint(ledger, "default")
        assert checkpoint is not None and checkpoint.sequence >= 1
    finally:
        ledger.close()


def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "solvent.cli.main",
                "serve",
                "--db",
                f"sqlite:///{tmp_path / 'x.db'}",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("solvent: error: port:")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--feed", "no-such-dir"], "feed"),
        (["--feed", "tests/data/feeds", "--path", "builtin:minus-40-hour"], "feed"),
        (["--path", "builtin:nope"], "path"),
        (["--path", "builtin:minus-40-hour", "--speed", "-1"], "speed"),
        (["--path", "builtin:minus-40-hour", "--policy", "gentle"], "policy"),
    ],
)
def test_serve_checks_its_market_source_before_serving(
    tmp_path: Path, args: list[str], field: str
) -> None:
    from typer.testing import CliRunner

    from solvent.cli.main import app

    db = f"sqlite:///{tmp_path / 'x.db'}"
    with chdir(Path(__file__).resolve().parents[2]):
        result = CliRunner().invoke(app, ["serve", "--db", db, *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1].startswith(f"solvent: error: {field}:")
