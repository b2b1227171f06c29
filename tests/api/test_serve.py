"""``solvent serve`` as a real process: it serves on 127.0.0.1 until SIGTERM or SIGINT, then
finishes, flushes the ledger and exits 0; what it acknowledged is in the ledger afterwards."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
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
