"""derive-pm (PMRM_2 and PMRM v1) and derive-srm: a prepared book of 100,000 accounts x 10
positions margined at once, against today's per-account path (one Derive sub-account rebuilt per
account and underlying, :mod:`solvent.margin.derive.reference`) measured in the same run on a
sample of accounts and scaled to the book. Prints both and the ratio (target >= 50x).

Market: the embedded Deribit sample (BTC and ETH options, futures, perpetuals); the book draws
10 positions per account from 1,000 of its instruments.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.books import POSITIONS_PER_ACCOUNT, synthetic_book
from solvent.margin.derive import reference
from solvent.margin.derive.model import MODEL as PM
from solvent.margin.derive.srm_model import MODEL as SRM
from solvent.margin.protocol import Detail, PricedMarket
from solvent.market.deribit import load_embedded_chain
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

N_ACCOUNTS = 100_000
N_INSTRUMENTS = 1_000
SAMPLE = 40


def _best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _one(
    label: str,
    model: object,
    params: str | None,
    book: Book,
    snapshot: MarketSnapshot,
    priced: PricedMarket,
    per_account: Callable[[Book], object],
) -> None:
    loaded = model.load_params(params)  # type: ignore[attr-defined]
    start = time.perf_counter()
    prepared = model.prepare(priced, book.instruments, loaded)  # type: ignore[attr-defined]
    t_prepare = time.perf_counter() - start
    t_book = _best_of(
        lambda: model.margin(prepared, book, detail=Detail.TOTALS),  # type: ignore[attr-defined]
        repeat=2,
    )
    sample = book.slice(0, SAMPLE)
    start = time.perf_counter()
    per_account(sample)
    t_loop = (time.perf_counter() - start) / SAMPLE * len(book)
    print(
        f"{label}: prepare {1e3 * t_prepare:.0f} ms; {len(book):,} accounts {t_book:.2f} s; "
        f"per-account path {t_loop:,.0f} s (from {SAMPLE} accounts); "
        f"ratio {t_loop / t_book:,.0f}x (target >= 50x)",
        flush=True,
    )


def main() -> None:
    snapshot = load_embedded_chain()
    instruments = tuple(list(snapshot.quotes)[:N_INSTRUMENTS])
    book = synthetic_book(N_ACCOUNTS, instruments)
    priced = PricedMarket.resolve(snapshot, instruments)
    print(f"book: {len(book):,} accounts x {POSITIONS_PER_ACCOUNT} positions", flush=True)
    _one(
        "derive-pm (PMRM_2)",
        PM,
        None,
        book,
        snapshot,
        priced,
        lambda b: reference.pm_margin_book(b, snapshot, None, False, False),
    )
    _one(
        "derive-pm (PMRM v1)",
        PM,
        "derive-pmrm1",
        book,
        snapshot,
        priced,
        lambda b: reference.pm_margin_book(b, snapshot, "derive-pmrm1", False, False),
    )
    _one(
        "derive-srm",
        SRM,
        None,
        book,
        snapshot,
        priced,
        lambda b: reference.srm_margin_book(b, snapshot, None, False, False),
    )


if __name__ == "__main__":
    main()
