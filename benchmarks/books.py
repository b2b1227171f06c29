"""Synthetic books shared by the benchmarks (not a benchmark: no ``bench_`` prefix)."""

from __future__ import annotations

import numpy as np

from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.book import Book

POSITIONS_PER_ACCOUNT = 10


def synthetic_book(n_accounts: int, instruments: tuple[str, ...], seed: int = 1) -> Book:
    """``n_accounts`` accounts of 10 positions each, uniform over ``instruments``, quantities
    normal(0, 2) rounded to 0.1 (a few round to 0: explicit zero positions)."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_accounts, dtype=np.intp), POSITIONS_PER_ACCOUNT)
    cols = rng.integers(0, len(instruments), rows.size).astype(np.intp)
    qty = np.round(rng.normal(0.0, 2.0, rows.size), 1)
    accounts = tuple(f"acct-{i}" for i in range(n_accounts))
    return Book.from_arrays(accounts, instruments, rows, cols, qty)


def synthetic_account_book(n_accounts: int, instruments: tuple[str, ...]) -> AccountBook:
    """``n_accounts`` root accounts holding :func:`synthetic_book`'s positions, each with
    collateral of 5 BTC, 50 ETH and 100,000 USDC (the real-time benchmarks' venue book)."""
    book = synthetic_book(n_accounts, instruments)
    coo = book.quantities.tocoo()
    order = np.lexsort((coo.col, coo.row))
    n = n_accounts
    return AccountBook(
        accounts=book.accounts,
        parent=np.full(n, -1, dtype=np.intp),
        parent_id=(None,) * n,
        mode=(None,) * n,
        assets=("BTC", "ETH", "USDC"),
        collateral=np.column_stack([np.full(n, 5.0), np.full(n, 50.0), np.full(n, 100_000.0)]),
        listed=np.ones((n, 3), dtype=bool),
        instruments=instruments,
        position_account=coo.row[order].astype(np.intp),
        position_instrument=coo.col[order].astype(np.intp),
        position_quantity=coo.data[order].astype(np.float64),
        position_entry_price=None,
    )
