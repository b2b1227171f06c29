"""Helpers of the HTTP API tests: a service on a fresh SQLite ledger, served in process.

The market is the hand-checkable one of ``tests/helpers.py`` (BTC at 100,000 USD, as of
2026-01-05 08:00 UTC); the service's clock stands one minute later, so the market is fresh for
trades and withdrawals. Accounts: ``alice`` (with a cross sub-account ``alice-hedge``) and ``bob``
funded with BTC and USDC, the venue funded to pay P&L; keys: operator, alice's and bob's.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from solvent.api.keys import create_key
from solvent.api.live import LiveFeed
from solvent.api.state import Service, ServiceConfig
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.portfolio import SubAccountMode
from solvent.realtime.events import IndexPrices, MarketEvent

NOW = datetime(2026, 1, 5, 8, 1, tzinfo=UTC)
MARKET: dict[str, Any] = {
    "as_of": "2026-01-05T08:00:00Z",
    "index": {"BTC": 100_000.0, "ETH": 4_000.0, "USDC": 1.0},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_000.0},
        {"name": "ETH-PERPETUAL", "mark_price": 4_000.0},
        {"name": "BTC_USDC-PERPETUAL", "mark_price": 100_000.0},
        {"name": "BTC-27MAR26", "mark_price": 101_000.0},
        {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
        {"name": "BTC-27MAR26-90000-P", "mark_iv": 0.55},
        {"name": "ETH-27MAR26-4000-C", "mark_iv": 0.6, "forward": 4_000.0},
    ],
}
"""The market of tests/helpers.py as a docs/formats.md 1 document."""


def market() -> MarketSnapshot:
    return parse_market(MARKET)


@dataclass(frozen=True)
class Keys:
    operator: str
    alice: str
    hedge: str
    bob: str


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _populate(service: Service) -> Keys:
    """The accounts, money and keys of the module docstring."""
    accounts = service.accounts
    accounts.create("alice")
    accounts.create("alice-hedge", parent="alice", mode=SubAccountMode.CROSS)
    accounts.create("bob")
    accounts.deposit("alice", "BTC", "2")
    accounts.deposit("alice", "USDC", "50000")
    accounts.deposit("bob", "BTC", "1")
    accounts.deposit("@venue", "BTC", "100")
    accounts.deposit("@venue", "USDC", "1000000")
    return Keys(
        operator=create_key(service.ledger, None).key,
        alice=create_key(service.ledger, "alice").key,
        hedge=create_key(service.ledger, "alice-hedge").key,
        bob=create_key(service.ledger, "bob").key,
    )


def build_template(path: Path) -> Keys:
    """Create the populated ledger at ``path`` (see the module docstring); its keys."""
    service = Service(ServiceConfig(db=f"sqlite:///{path}", clock=lambda: NOW), market())
    keys = _populate(service)
    service.ledger.close()
    return keys


def make_service(
    template: tuple[Path, Keys], tmp_path: Path, feed: LiveFeed | None = None, **config: Any
) -> Service:
    """A service on a copy of the template ledger (``config``: :class:`ServiceConfig` fields;
    ``feed``: run the real-time engine on it)."""
    db = tmp_path / "api.db"
    shutil.copyfile(template[0], db)
    return Service(ServiceConfig(db=f"sqlite:///{db}", clock=lambda: NOW, **config), market(), feed)


def ledger_state(service: Service) -> tuple[Any, ...]:
    """Everything a request could change: every table's rows (keys' hashes included)."""
    from sqlalchemy import select

    from solvent.ledger import schema

    with service.ledger.engine.connect() as conn:
        return tuple(
            tuple(sorted(map(tuple, conn.execute(select(table)).all()), key=repr))
            for table in schema.metadata.sorted_tables
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A ``solvent serve`` subprocess: its base URL and its log (stderr, in a file so that a long
    log never blocks the server on a full pipe)."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
        """Send ``sig`` and wait: the exit code and the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode, self.log.read_text(errors="replace")


def start_server(db: str, market: Path | None, log: Path, *extra: str) -> Server:
    """``solvent serve`` in a subprocess (``market`` None: the embedded sample) with any market
    age allowed, once it answers."""
    port = free_port()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "solvent.cli.main",
                "serve",
                "--db",
                db,
                *([] if market is None else ["--market", str(market)]),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--max-market-age",
                "1e9",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{server.url}/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise AssertionError(f"serve did not start: {log.read_text()}")


class PushedSource:
    """A market source the test feeds from its own thread (``None`` ends it)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[MarketEvent | None] = queue.Queue()
        self.seq = 0

    def push_index(self, btc: float) -> None:
        self.seq += 1
        self.queue.put(
            IndexPrices(
                self.seq, market().as_of + timedelta(seconds=self.seq), "test", {"BTC": btc}
            )
        )

    async def events(self) -> AsyncIterator[MarketEvent]:
        while True:
            try:  # a short wait, so that a cancelled source leaves no thread behind
                event = await asyncio.to_thread(self.queue.get, True, 0.1)
            except queue.Empty:
                continue
            if event is None:
                return
            yield event
