"""Synthetic books shared by the benchmarks (not a benchmark: no ``bench_`` prefix)."""

from __future__ import annotations

import numpy as np

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
