"""Re-margining a whole book under deribit-pm (issue 3's performance targets).

Synthetic book: accounts with about 10 random positions each over 1,000 instruments of the embedded
Deribit chain (BTC and ETH options, futures, perpetuals). Prints, in one run:

- the risk array's cost (once per market update);
- re-margin of 100,000 accounts from the prepared risk array (target < 0.5 s), and the ratio to a
  loop that margins accounts one by one (timed on a sample, scaled to the whole book);
- 1,000,000 accounts (target < 5 s within 8 GB; peak memory of the process printed);
- a single-account what-if (target < 2 ms).
"""

from __future__ import annotations

import resource
import time

import numpy as np

from solvent.margin.deribit_pm import load_params, margin_prepared, prepare
from solvent.market.deribit import load_embedded_chain
from solvent.portfolio.book import Book

POSITIONS_PER_ACCOUNT = 10
N_INSTRUMENTS = 1000


def synthetic_book(n_accounts: int, instruments: tuple[str, ...], seed: int = 1) -> Book:
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_accounts, dtype=np.intp), POSITIONS_PER_ACCOUNT)
    cols = rng.integers(0, len(instruments), rows.size).astype(np.intp)
    qty = np.round(rng.normal(0.0, 2.0, rows.size), 1)
    accounts = tuple(f"acct-{i}" for i in range(n_accounts))
    return Book.from_arrays(accounts, instruments, rows, cols, qty)


def _best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    market = load_embedded_chain()
    instruments = tuple(list(market.quotes)[:N_INSTRUMENTS])
    params = load_params()
    start = time.perf_counter()
    prepared = prepare(instruments, market, params)
    t_risk = time.perf_counter() - start
    print(
        f"risk array: {len(instruments)} instruments x {len(prepared.scenarios)} scenarios "
        f"in {1e3 * t_risk:.1f} ms"
    )

    book = synthetic_book(100_000, instruments)
    t_book = _best_of(lambda: margin_prepared(prepared, book))
    sample = 300
    singles = [
        Book(
            (book.accounts[a],),
            instruments,
            book.quantities[[a], :],  # one-row book
        )
        for a in range(sample)
    ]
    start = time.perf_counter()
    for one in singles:
        margin_prepared(prepared, one)
    t_loop = (time.perf_counter() - start) / sample * len(book)
    print(
        f"100,000 accounts: {t_book:.3f} s (target < 0.5 s); one-by-one loop {t_loop:.1f} s "
        f"(from {sample} accounts); ratio {t_loop / t_book:.0f}x (target >= 50x)"
    )

    t_what_if = _best_of(lambda: margin_prepared(prepared, singles[0]), repeat=50)
    print(f"single-account what-if: {1e3 * t_what_if:.2f} ms (target < 2 ms)")

    big = synthetic_book(1_000_000, instruments, seed=2)
    t_big = _best_of(lambda: margin_prepared(prepared, big), repeat=1)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"1,000,000 accounts: {t_big:.2f} s (target < 5 s); peak memory {peak_gb:.2f} GB "
        "(target < 8 GB)"
    )


if __name__ == "__main__":
    main()
