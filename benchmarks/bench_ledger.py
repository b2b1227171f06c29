"""Ledger and health benchmarks (no asserts; prints timings and ratios against in-run baselines).

1. Transfers per second with durable commits: batches of 1,000 transfers per transaction
   (``post_many``) against one transfer per transaction, on SQLite (WAL, synchronous=FULL) and on a
   throwaway PostgreSQL started by scripts/postgres.sh (skipped if it cannot start).
2. Health of 100,000 accounts from the book: collateral with haircuts (including the liquidity
   haircut on the real Binance BTC book), standard margin of perpetual positions, health states,
   all vectorized; against a per-account Python loop measured on 1,000 accounts.

Run: ``.venv/bin/python benchmarks/bench_ledger.py``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import local_postgres
from solvent.accounts.health import health_codes
from solvent.collateral.valuation import value_collateral, value_collateral_matrix
from solvent.ledger.model import EXTERNAL, Reason, transfer
from solvent.ledger.store import Ledger
from solvent.margin.registry import get_model
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.book import Book

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "tests" / "data" / "orderbook" / "binance_spot_btcusdt_20240808.json"


def _transfers(url: str, label: str, n_accounts: int = 100, total: int = 20_000) -> None:
    ledger = Ledger.open(url)
    names = [f"u{i}" for i in range(n_accounts)]
    with ledger.transaction() as tx:
        for name in names:
            tx.create_account(name)
        tx.post_many([transfer(EXTERNAL, n, "USDC", 10**12, Reason.DEPOSIT, "seed") for n in names])
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, n_accounts, size=(total, 2))
    ops = [
        transfer(
            names[a],
            names[b if b != a else (a + 1) % n_accounts],
            "USDC",
            1 + i % 997,
            Reason.TRANSFER,
            f"t{i}",
        )
        for i, (a, b) in enumerate(pairs)
    ]
    single = 300
    start = time.perf_counter()
    for op in ops[:single]:
        ledger.post(op)
    one_rate = single / (time.perf_counter() - start)
    batch = 1_000
    start = time.perf_counter()
    for k in range(single, total, batch):
        ledger.post_many(ops[k : k + batch])
    batch_rate = (total - single) / (time.perf_counter() - start)
    ok = ledger.audit().ok
    print(
        f"{label:10s} transfers/s: batches of {batch}: {batch_rate:9.0f}   one per commit: "
        f"{one_rate:7.0f}   ratio {batch_rate / one_rate:5.1f}x   audit ok: {ok}"
    )
    ledger.close()


def _market(book: dict[str, list[list[float]]]) -> MarketSnapshot:
    return parse_market(
        {
            "as_of": "2024-08-08T23:54:00Z",
            "index": {"BTC": 61_837.635, "ETH": 2_700.0, "USDC": 1.0},
            "instruments": [
                {
                    "name": "BTC-PERPETUAL",
                    "kind": "perpetual",
                    "underlying": "BTC",
                    "settlement": "inverse",
                    "mark_price": 61_840.0,
                },
                {
                    "name": "ETH-PERPETUAL",
                    "kind": "perpetual",
                    "underlying": "ETH",
                    "settlement": "inverse",
                    "mark_price": 2_701.0,
                },
            ],
            "order_books": {"BTC": {"bids": book["bids"], "asks": book["asks"]}},
        }
    )


def _health(n: int = 100_000) -> None:
    raw = json.loads(BOOK.read_text())
    market = _market(raw)
    rng = np.random.default_rng(2)
    symbols = ["BTC", "ETH", "USDC"]
    balances = np.column_stack(
        (rng.exponential(2.0, n), rng.exponential(20.0, n), rng.exponential(50_000.0, n))
    )
    qty = rng.normal(0.0, 1.0, (n, 2)) * np.array([12.0, 150.0])
    accounts = [f"a{i}" for i in range(n)]
    book = Book.from_arrays(
        accounts,
        ["BTC-PERPETUAL", "ETH-PERPETUAL"],
        np.repeat(np.arange(n), 2),
        np.tile(np.arange(2), n),
        qty.ravel(),
    )
    model = get_model("standard")
    start = time.perf_counter()
    collateral = value_collateral_matrix(balances, symbols, market)
    margin = model.run(book, market, None, False, False)
    codes = health_codes(
        collateral.value_usd, margin.initial_margin_usd, margin.maintenance_margin_usd
    )
    vector = time.perf_counter() - start
    sample = 1_000
    start = time.perf_counter()
    for i in range(sample):
        value_collateral(dict(zip(symbols, balances[i].tolist(), strict=True)), market)
    loop = (time.perf_counter() - start) / sample * n
    states = np.bincount(codes, minlength=4)
    print(
        f"health of {n:,} accounts (collateral + standard margin + state): {vector:.3f} s; "
        f"per-account loop (collateral only, extrapolated from {sample:,}): {loop:.1f} s; "
        f"ratio {loop / vector:.0f}x; states healthy/call/liq/bankrupt = {states.tolist()}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _transfers(f"sqlite:///{tmp}/bench.db", "SQLite")
    with local_postgres() as url:
        if url is not None:
            _transfers(url, "PostgreSQL")
    _health()


if __name__ == "__main__":
    main()
