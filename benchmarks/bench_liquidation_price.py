"""One account's liquidation price (issue 10's target: under 50 ms), for every registered model.

Two accounts on the embedded Deribit chain of 2026-01-05, in the full market snapshot (the whole
chain: the search restricts it to the account's instruments):

- ``long``: 10 positions (BTC perpetual and future with entry prices, BTC options long and
  short, an ETH perpetual) and BTC + USDC collateral: a price below, none above (the search
  scans the up side to 10x the index);
- ``short``: the same positions reversed: a price above, none below (the longest scan: down to
  1 % of the index).

Each line: p50 and p99 of :func:`~solvent.liquidation.price.liquidation_price` on BTC over
:data:`RUNS` runs (after a warm-up), in wall-clock and in this process's CPU time, how many prices
the search margined and the CPU p50 per evaluation, and the ratio of the CPU p50 against the
baseline measured in the same run: one margin call of the same account by the engine's own
pipeline (``margin_portfolios``, what ``solvent margin`` runs), so the ratio is how many margin
calls one liquidation price costs. The load average is printed first: on a shared, busy machine
the wall-clock figures include the time the process waited for a core (``cpu met``: the target
is met in CPU time, not in wall-clock time on this machine now); the CPU figures and the ratios
much less so. ``python benchmarks/bench_liquidation_price.py fhs-es span`` runs the named
models only.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from solvent.engine.margin import margin_portfolios
from solvent.liquidation.price import liquidation_price
from solvent.margin.registry import model_names
from solvent.market.deribit import load_embedded_chain
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.portfolio import Portfolio, Position

TARGET_MS = 50.0
RUNS = 40
"""Timed runs per model and account (p99 of 40 runs: the slowest but one)."""


def _times_ms(fn: Callable[[], object], runs: int = RUNS) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and CPU (this process) milliseconds of each of ``runs`` calls of ``fn``."""
    fn()  # warm-up: imports, first-call compilation, parameter sets
    wall, cpu = np.empty(runs), np.empty(runs)
    for k in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall[k] = 1e3 * (time.perf_counter() - started)
        cpu[k] = 1e3 * (time.process_time() - started_cpu)
    return wall, cpu


def account(market: MarketSnapshot) -> Portfolio:
    """The ``long`` benchmark account (see the module docstring)."""
    btc = market.index["BTC"]
    options = [
        q.instrument.name
        for q in market.quotes.values()
        if q.instrument.is_option and q.instrument.underlying == "BTC"
    ]
    futures = [
        q.instrument.name
        for q in market.quotes.values()
        if q.instrument.kind.value == "future" and q.instrument.underlying == "BTC"
    ]
    picked = options[:: max(1, len(options) // 7)][:7]
    positions = [
        Position("BTC-PERPETUAL", 2.0, btc * 0.97),
        Position(futures[0], -0.5, market.quote(futures[0]).mark_price * 1.02),
        Position("ETH-PERPETUAL", -3.0, market.index["ETH"] * 1.01),
    ] + [Position(name, (-1.0) ** k * 0.5, None) for k, name in enumerate(picked)]
    return Portfolio("bench", {"BTC": 0.5, "USDC": 20_000.0}, tuple(positions))


def reversed_account(portfolio: Portfolio) -> Portfolio:
    """``portfolio`` with every position's side reversed (the ``short`` account)."""
    flipped = tuple(dataclasses.replace(p, quantity=-p.quantity) for p in portfolio.positions)
    return dataclasses.replace(portfolio, account="bench-short", positions=flipped)


def main(models: Sequence[str] = ()) -> None:
    """The table for ``models`` (default: every registered model)."""
    market = load_embedded_chain()
    long_pf = account(market)
    books = {"long": long_pf, "short": reversed_account(long_pf)}
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"accounts: {len(long_pf.positions)} positions, market: {len(market.quotes)} "
        f"instruments; target {TARGET_MS:.0f} ms; {RUNS} runs each"
    )
    print(
        f"{'model':11s} {'account':7s} {'p50 ms':>7s} {'p99 ms':>7s} {'cpu p50':>7s} "
        f"{'cpu p99':>7s} {'target':>7s} {'evals':>5s} {'cpu/eval':>8s} {'margin cpu':>10s} "
        f"{'ratio':>6s}  down / up (USD)"
    )
    for model in models or model_names():
        for label, pf in books.items():
            _, margin_cpu = _times_ms(lambda m=model, p=pf: margin_portfolios([p], market, m))  # type: ignore[misc]
            result = liquidation_price(pf, market, model, underlying="BTC")
            wall, cpu = _times_ms(
                lambda m=model, p=pf: liquidation_price(p, market, m, underlying="BTC")  # type: ignore[misc]
            )
            p50, p99 = np.percentile(wall, [50, 99])
            c50, c99 = np.percentile(cpu, [50, 99])
            base = float(np.median(margin_cpu))
            verdict = "met" if p99 < TARGET_MS else ("cpu met" if c99 < TARGET_MS else "MISSED")
            print(
                f"{model:11s} {label:7s} {p50:7.1f} {p99:7.1f} {c50:7.1f} {c99:7.1f} "
                f"{verdict:>7s} {result.evaluations:5d} {c50 / result.evaluations:8.2f} "
                f"{base:10.2f} {c50 / base:6.1f}  "
                f"{result.down and round(result.down)} / {result.up and round(result.up)}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
