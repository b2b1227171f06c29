"""What-if margin over HTTP: p50/p99 latency at a steady 200 requests per second.

A real ``solvent serve`` (uvicorn, SQLite ledger, the embedded Deribit market) holds accounts
with options, futures and perpetuals; a local asyncio client sends ``POST
/v1/accounts/{id}/what-if`` on a fixed schedule (open loop: each request's latency is measured
from the moment it was due, so a slow answer delays nobody's clock) for a bounded run. Baseline,
in the same run: the same check called in process (``AccountService.check``, what the endpoint
calls), so the ratio is what HTTP, JSON, authentication and the thread pool add.

Run: ``python -m benchmarks api`` (target: p99 under 20 ms at 200 requests/s on this machine).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np

from solvent.accounts.service import AccountService, MarketFreshness, Order, registry_margin
from solvent.api.keys import create_key
from solvent.ledger.store import Ledger
from solvent.market.deribit import load_embedded_chain

RATE = 200.0  # requests per second
SECONDS = 10.0  # bounded run: 2,000 requests
ACCOUNTS = 20
ORDERS = [("BTC-PERPETUAL", "0.5"), ("BTC-27MAR26-110000-C", "-1")]
HOLDINGS = [("BTC-PERPETUAL", "1"), ("BTC-27MAR26", "-1"), ("BTC-30JAN26-100000-C", "-2")]


def _ledger(url: str) -> tuple[str, list[str]]:
    """Accounts holding a small option book; the operator key."""
    market = load_embedded_chain()
    ledger = Ledger.open(url)
    service = AccountService(
        ledger, registry_margin, freshness=MarketFreshness(clock=lambda: market.as_of)
    )
    service.deposit("@venue", "BTC", "1000")
    service.deposit("@venue", "USDC", "10000000")
    names = [f"desk-{i}" for i in range(ACCOUNTS)]
    for name in names:
        service.create(name)
        service.deposit(name, "BTC", "5")
        service.deposit(name, "USDC", "100000")
        for instrument, quantity in HOLDINGS:
            mark = Decimal(repr(market.quote(instrument).mark_price))
            service.trade(name, instrument, quantity, str(mark), market)
    key = create_key(ledger, None).key
    ledger.close()
    return key, names


def _in_process(url: str, names: list[str]) -> np.ndarray:
    market = load_embedded_chain()
    ledger = Ledger.open(url)
    service = AccountService(ledger, registry_margin)
    orders = [Order(i, Decimal(q)) for i, q in ORDERS]
    out = []
    for k in range(400):
        started = time.perf_counter()
        service.check(names[k % len(names)], orders, market)
        out.append(time.perf_counter() - started)
    ledger.close()
    return np.array(out) * 1000.0


async def _load(base: str, key: str, names: list[str]) -> np.ndarray:
    body = {"orders": [{"instrument": i, "quantity": q} for i, q in ORDERS]}
    headers = {"Authorization": f"Bearer {key}"}
    total = int(RATE * SECONDS)
    latencies = np.full(total, np.nan)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=120
    ) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.5

        async def one(i: int) -> None:
            due = start + i / RATE
            await asyncio.sleep(max(0.0, due - loop.time()))
            r = await client.post(f"/v1/accounts/{names[i % len(names)]}/what-if", json=body)
            if r.status_code != 200:
                raise RuntimeError(f"{r.status_code}: {r.text}")
            latencies[i] = loop.time() - due

        await asyncio.gather(*(one(i) for i in range(total)))
    return latencies * 1000.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="solvent-bench-api-"))
    url = f"sqlite:///{folder / 'api.db'}"
    key, names = _ledger(url)
    port = _free_port()
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "solvent.cli.main",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--rate-limit",
            "10000",
            "--burst",
            "10000",
            "--max-market-age",
            "1e9",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        direct = _in_process(url, names)
        asyncio.run(_load(base, key, names[:2]))  # warm-up (thread pool, caches)
        http = asyncio.run(_load(base, key, names))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()[0]
    p50, p99 = np.percentile(http, [50, 99])
    d50, d99 = np.percentile(direct, [50, 99])
    print(f"load average {load:.2f} (2 cores)")
    print(f"in process AccountService.check: p50 {d50:.2f} ms, p99 {d99:.2f} ms (baseline)")
    print(
        f"HTTP what-if at {RATE:.0f} requests/s for {SECONDS:.0f} s ({http.size} requests): "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {http.max():.2f} ms; p99 {p99 / d99:.1f}x "
        f"the in-process p99; target p99 < 20 ms: {'met' if p99 < 20 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
