"""Re-margining whole books through the margin-model protocol (issue 9's performance targets).

Synthetic books: accounts with 10 random positions each over 1,000 instruments of the embedded
Deribit chain (BTC and ETH options, futures, perpetuals). Every figure below is measured in this
run, on this machine (2 cores); targets are printed beside them with the margin by which each is
met or missed.

1. deribit-pm: the prepared state's cost (risk array, once per market update); re-margin of a
   prepared book of 100,000 accounts (target <= 0.1 s) and of 1,000,000 accounts (target <= 1 s
   within 2 GB of peak process memory); a single-account what-if.
2. A full tick of 100,000 accounts, prepare + margin (target <= 0.3 s), for deribit-pm and
   standard; resolving the snapshot is shown apart (once per market update, shared by models).
3. Every registered model, through the protocol only: re-margin of the prepared 100,000-account
   book, and the same accounts margined one by one (one-row books against the same prepared
   state); both times and their ratio. A run that would take minutes is timed on the first
   accounts and extrapolated linearly, and the output says so.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.books import POSITIONS_PER_ACCOUNT, synthetic_book
from benchmarks.common import load_average
from solvent.margin import deribit_pm
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import MODEL_MODULES, get_model
from solvent.market.deribit import load_embedded_chain
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

N_INSTRUMENTS = 1000
BOOK_ACCOUNTS = 100_000
BIG_ACCOUNTS = 1_000_000
WHOLE_BOOK_BUDGET_S = 20.0
"""A whole-book run estimated longer than this is extrapolated from the largest size below it."""
ONE_BY_ONE_BUDGET_S = 10.0
"""A one-by-one run of the whole book estimated longer than this is timed on a sample."""


def _best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best wall-clock seconds of ``repeat`` runs (one run when the first takes over 2 s)."""
    best = float("inf")
    for k in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        if k == 0 and best > 2.0:
            break
    return best


def _cpu_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best CPU seconds of the process (all threads) over ``repeat`` runs: on a loaded machine,
    what the work costs apart from waiting for a core."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _verdict(seconds: float, target: float) -> str:
    """``target <= T s: met (N x under)`` or ``... missed by D s (P %)``."""
    if seconds <= target:
        return f"target <= {target:g} s: met, {target / seconds:.1f}x under"
    over = seconds - target
    return f"target <= {target:g} s: MISSED by {over:.3f} s ({100 * over / target:.0f} % over)"


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def deribit_pm_targets(market: MarketSnapshot, instruments: tuple[str, ...]) -> None:
    """Section 1 (see the module docstring)."""
    params = deribit_pm.load_params()
    priced = PricedMarket.resolve(market, instruments)
    t_prepare = _best_of(lambda: deribit_pm.prepare(priced, instruments, params))
    prepared = deribit_pm.prepare(priced, instruments, params)
    print(
        f"deribit-pm prepare: {len(instruments)} instruments x {len(prepared.scenarios)} "
        f"scenarios in {1e3 * t_prepare:.1f} ms"
    )
    book = synthetic_book(BOOK_ACCOUNTS, instruments)
    deribit_pm.margin_prepared(prepared, book.slice(0, 10))  # compiled code loaded
    run = partial(deribit_pm.margin_prepared, prepared, book)
    t_book = _best_of(run, repeat=5)
    cpu = _cpu_of(run)
    print(
        f"  re-margin {BOOK_ACCOUNTS:,} accounts: {t_book:.3f} s; {_verdict(t_book, 0.1)} "
        f"(CPU {cpu:.3f} s over all threads)"
    )
    one = book.slice(0, 1)
    t_what_if = _best_of(partial(deribit_pm.margin_prepared, prepared, one), repeat=200)
    print(f"  single-account what-if: {1e3 * t_what_if:.3f} ms (target < 2 ms)")
    del book, run
    big = synthetic_book(BIG_ACCOUNTS, instruments, seed=2)
    deribit_pm.margin_prepared(prepared, big.slice(0, 10))
    t_big = _best_of(lambda: deribit_pm.margin_prepared(prepared, big), repeat=3)
    cpu = _cpu_of(lambda: deribit_pm.margin_prepared(prepared, big), repeat=1)
    peak = _peak_gb()
    mem = "met" if peak <= 2.0 else f"MISSED by {peak - 2.0:.2f} GB"
    print(
        f"  re-margin {BIG_ACCOUNTS:,} accounts: {t_big:.3f} s; {_verdict(t_big, 1.0)} "
        f"(CPU {cpu:.3f} s); peak process memory {peak:.2f} GB (target <= 2 GB: {mem})"
    )


def full_tick(market: MarketSnapshot, instruments: tuple[str, ...]) -> None:
    """Section 2 (see the module docstring)."""
    book = synthetic_book(BOOK_ACCOUNTS, instruments, seed=3)
    t_resolve = _best_of(lambda: PricedMarket.resolve(market, instruments))
    priced = PricedMarket.resolve(market, instruments)
    print(f"resolve the snapshot for {len(instruments)} instruments: {1e3 * t_resolve:.1f} ms")
    for name in ("deribit-pm", "standard"):
        model = get_model(name)
        params = model.load_params(None)
        warm = model.prepare(priced, instruments, params)
        model.margin(warm, book.slice(0, 10), detail=Detail.TOTALS)

        def tick(model: Any = model, params: Any = params) -> None:
            model.margin(model.prepare(priced, instruments, params), book, detail=Detail.TOTALS)

        t_tick = _best_of(tick, repeat=5)
        print(
            f"  full tick {name}, prepare + margin of {BOOK_ACCOUNTS:,} accounts: {t_tick:.3f} s; "
            f"{_verdict(t_tick, 0.3)} (with resolve: {t_tick + t_resolve:.3f} s)"
        )


def _whole_book(model: Any, prepared: Any, book: Book) -> tuple[float, str]:
    """Seconds to re-margin ``book`` (measured, or extrapolated from its first accounts)."""
    n = len(book)
    size, seconds = 0, 0.0
    for size_next in (1_000, 10_000, n):
        if size and seconds / size * size_next > WHOLE_BOOK_BUDGET_S:
            return seconds / size * n, f"extrapolated from {size:,} accounts"
        part = book.slice(0, size_next)
        size = size_next
        seconds = _best_of(partial(model.margin, prepared, part, detail=Detail.TOTALS))
    return seconds, "measured"


def _one_by_one(model: Any, prepared: Any, book: Book) -> tuple[float, str]:
    """Seconds to margin every account of ``book`` alone (one-row books, same prepared state):
    measured, or from a sample of the first accounts when that would take minutes."""
    n = len(book)
    start = time.perf_counter()
    done = 0
    while done < n and (done < 3 or time.perf_counter() - start < 1.0):
        model.margin(prepared, book.slice(done, done + 1), detail=Detail.TOTALS)
        done += 1
    estimate = (time.perf_counter() - start) / done * n
    if done == n:
        return estimate, "measured"
    if estimate <= ONE_BY_ONE_BUDGET_S:
        start = time.perf_counter()
        for a in range(n):
            model.margin(prepared, book.slice(a, a + 1), detail=Detail.TOTALS)
        return time.perf_counter() - start, "measured"
    return estimate, f"extrapolated from {done:,} accounts"


def every_model(market: MarketSnapshot, instruments: tuple[str, ...]) -> None:
    """Section 3 (see the module docstring)."""
    book = synthetic_book(BOOK_ACCOUNTS, instruments, seed=4)
    priced = PricedMarket.resolve(market, instruments)
    print(f"every model, {BOOK_ACCOUNTS:,} accounts x {POSITIONS_PER_ACCOUNT} positions:")
    for name in MODEL_MODULES:
        model = get_model(name)
        params = model.load_params(None)
        start = time.perf_counter()
        prepared = model.prepare(priced, instruments, params)
        t_prepare = time.perf_counter() - start
        model.margin(prepared, book.slice(0, 10), detail=Detail.TOTALS)  # warm caches
        t_book, how_book = _whole_book(model, prepared, book)
        t_each, how_each = _one_by_one(model, prepared, book)
        print(
            f"  {name:<11} prepare {t_prepare:7.3f} s | whole book {t_book:8.3f} s ({how_book}) "
            f"| one by one {t_each:8.1f} s ({how_each}) | ratio {t_each / t_book:,.0f}x"
        )


def main() -> None:
    print(f"machine: {os.cpu_count()} cores, load average {load_average()} (1, 5, 15 min)")
    market = load_embedded_chain()
    instruments = tuple(list(market.quotes)[:N_INSTRUMENTS])
    deribit_pm_targets(market, instruments)
    full_tick(market, instruments)
    every_model(market, instruments)


if __name__ == "__main__":
    main()
