"""SPAN on a synthetic book: the vectorized book calculation against one account at a time.

Prints timings and the ratio measured in the same run. Book: 100,000 accounts, ~10 positions
each, over 400 products in 10 combined commodities (4 tiers each, 3 tier spreads, 5 inter
spreads).

Then ``--model span`` through the model protocol on the embedded Deribit chain (1,000
instruments, risk arrays computed by Black-76): prepare once, re-margin 100,000 accounts x 10
positions (USD totals, then with per-account detail: the result builder's cost), against the
same book margined account by account (timed on a sample, scaled to the whole book).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.books import synthetic_book
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model
from solvent.margin.span import parse_span_params, span_book
from solvent.market.deribit import load_embedded_chain
from solvent.portfolio.book import Book

SHAPE = np.array([0, 0, -1, -1, 1, 1, -2, -2, 2, 2, -3, -3, 3, 3, -2.1, 2.1]) / 3.0


def _params(rng: np.random.Generator, n_cc: int = 10, per_cc: int = 40) -> Any:
    ccs = []
    for c in range(n_cc):
        products = []
        for p in range(per_cc):
            is_option = p % 2 == 1
            scan = float(rng.uniform(500, 3000))
            arr = scan * SHAPE * (rng.uniform(0.2, 0.9) if is_option else 1.0)
            if is_option:
                arr = arr + rng.uniform(-50, 50, size=16)
            products.append(
                {
                    "name": f"CC{c}-P{p}",
                    "tier": 1 + p % 4,
                    "delta": float(rng.uniform(-1, 1)) if is_option else 1.0,
                    "is_option": is_option,
                    "risk_array": arr.tolist(),
                    "short_option_minimum": 25.0 if is_option else 0.0,
                }
            )
        spreads = [{"tier_a": a, "tier_b": b, "charge": 100.0} for a, b in ((1, 2), (2, 3), (3, 4))]
        ccs.append({"code": f"CC{c}", "products": products, "intra_spreads": spreads})
    inter = [
        {
            "priority": i + 1,
            "credit_rate": 0.5,
            "legs": [
                {"cc": f"CC{2 * i}", "delta_ratio": 1},
                {"cc": f"CC{2 * i + 1}", "delta_ratio": 2},
            ],
        }
        for i in range(n_cc // 2)
    ]
    return parse_span_params(
        {"currency": "USD", "combined_commodities": ccs, "inter_spreads": inter}
    )


def main() -> None:
    rng = np.random.default_rng(1)
    params = _params(rng)
    n_products = len(params.table.names)
    n_accounts, per_account = 100_000, 10
    rows = np.repeat(np.arange(n_accounts), per_account)
    cols = rng.integers(0, n_products, size=rows.size)
    qty = rng.integers(-5, 6, size=rows.size).astype(float)
    book = sp.csr_array((qty, (rows, cols)), shape=(n_accounts, n_products))

    start = time.perf_counter()
    result = span_book(params, book)
    vector_s = time.perf_counter() - start

    n_loop = 1_000
    dense_rows = book[:n_loop].toarray()
    start = time.perf_counter()
    loop_req = [span_book(params, dense_rows[i]).total_requirement[0] for i in range(n_loop)]
    loop_s = (time.perf_counter() - start) * n_accounts / n_loop
    np.testing.assert_allclose(loop_req, result.total_requirement[:n_loop])

    print(f"span_book: {n_accounts:,} accounts x {n_products} products: {vector_s:.3f} s")
    print(f"one account at a time (extrapolated from {n_loop:,}): {loop_s:.1f} s")
    print(f"ratio: {loop_s / vector_s:.0f}x")
    protocol_model()


def protocol_model() -> None:
    """``--model span`` through the protocol (see the module docstring)."""
    market = load_embedded_chain()
    instruments = tuple(list(market.quotes)[:1000])
    model = get_model("span")
    params = model.load_params(None)
    start = time.perf_counter()
    prepared = model.prepare(PricedMarket.resolve(market, instruments), instruments, params)
    prepare_s = time.perf_counter() - start
    book = synthetic_book(100_000, instruments)
    start = time.perf_counter()
    totals = model.margin(prepared, book, detail=Detail.TOTALS)
    totals_s = time.perf_counter() - start
    start = time.perf_counter()
    model.margin(prepared, book, detail=Detail.ACCOUNTS)
    accounts_s = time.perf_counter() - start
    sample = 200
    singles = [Book((book.accounts[a],), instruments, book.quantities[[a]]) for a in range(sample)]
    start = time.perf_counter()
    one_by_one = [model.margin(prepared, one, detail=Detail.TOTALS) for one in singles]
    loop_s = (time.perf_counter() - start) * len(book) / sample
    np.testing.assert_allclose(
        [r.initial_margin_usd[0] for r in one_by_one], totals.initial_margin_usd[:sample]
    )
    print(f"--model span: prepare {len(instruments)} instruments {1e3 * prepare_s:.0f} ms")
    print(
        f"re-margin {len(book):,} accounts x 10 positions: totals {totals_s:.3f} s, "
        f"with account detail {accounts_s:.3f} s; one account at a time (from {sample}) "
        f"{loop_s:.1f} s; ratio {loop_s / totals_s:.0f}x"
    )


if __name__ == "__main__":
    main()
