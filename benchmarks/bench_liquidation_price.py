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
much less so. The function timed is
:func:`~solvent.engine.liquidation_price.portfolio_liquidation_price`, the one
``solvent liquidation-price`` and the HTTP API call.

A second table runs the command itself, one process per model, as a user does: ``solvent
liquidation-price short.json --market market.json --model M --underlying BTC`` on the market
``solvent market from-deribit`` builds from the same shipped chain (the whole process's wall and
CPU time), then the same steps in a fresh interpreter with a clock between them: importing the
command's modules, reading the two files, and the first (cold) liquidation price, which pays the
once-per-process costs (a parameter set read, fhs-es's scenario set built from the price history)
on top of the search. ``python benchmarks/bench_liquidation_price.py fhs-es span`` runs the named
models only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from solvent.engine.liquidation_price import portfolio_liquidation_price
from solvent.engine.margin import margin_portfolios
from solvent.liquidation.price import liquidation_price
from solvent.margin.registry import model_names
from solvent.market.deribit import EMBEDDED_PERPETUALS, EMBEDDED_SNAPSHOT, load_embedded_chain
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
    """The tables for ``models`` (default: every registered model)."""
    in_process(models or model_names())
    command_line(models or model_names())


def in_process(models: Sequence[str]) -> None:
    """The in-process table (see the module docstring)."""
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
    for model in models:
        for label, pf in books.items():
            _, margin_cpu = _times_ms(lambda m=model, p=pf: margin_portfolios([p], market, m))  # type: ignore[misc]
            result = liquidation_price(pf, market, model, underlying="BTC")
            wall, cpu = _times_ms(
                lambda m=model, p=pf: portfolio_liquidation_price(p, market, m, underlying="BTC")  # type: ignore[misc]
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


_STEPS = """
import sys, time
started = time.process_time()
from solvent.engine.liquidation_price import one_portfolio, portfolio_liquidation_price
from solvent.market.snapshot import load_market
from solvent.portfolio.portfolio import load_book
imported = time.process_time()
account = one_portfolio(load_book(sys.argv[1]))
market = load_market(sys.argv[2])
loaded = time.process_time()
portfolio_liquidation_price(account, market, sys.argv[3], None, "BTC")
done = time.process_time()
print(1e3 * (imported - started), 1e3 * (loaded - imported), 1e3 * (done - loaded))
"""


def _portfolio_json(portfolio: Portfolio) -> dict[str, object]:
    """``portfolio`` as the portfolio JSON of docs/formats.md 2."""
    positions: list[dict[str, object]] = []
    for p in portfolio.positions:
        entry = {} if p.entry_price is None else {"entry_price": p.entry_price}
        positions.append({"instrument": p.instrument, "quantity": p.quantity, **entry})
    return {
        "account": portfolio.account,
        "collateral": portfolio.collateral,
        "positions": positions,
    }


def _child_cpu_ms(command: list[str]) -> tuple[float, float, str]:
    """Wall and CPU (user + system) milliseconds of running ``command`` to its end, and its
    standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    wall = 1e3 * (time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = 1e3 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu, out


def command_line(models: Sequence[str]) -> None:
    """The command-line table (see the module docstring)."""
    cli = str(Path(sys.executable).with_name("solvent"))
    base = resources.files("solvent.data") / "deribit"
    with (
        tempfile.TemporaryDirectory() as tmp,
        resources.as_file(base / EMBEDDED_SNAPSHOT) as chain,
        resources.as_file(base / EMBEDDED_PERPETUALS) as perps,
    ):
        market_path, book_path = Path(tmp) / "market.json", Path(tmp) / "short.json"
        convert = [cli, "market", "from-deribit", str(chain), "--perpetuals", str(perps)]
        subprocess.run(
            [*convert, "--out", str(market_path)],
            check=True,
            capture_output=True,
        )
        short = reversed_account(account(load_embedded_chain()))
        book_path.write_text(json.dumps(_portfolio_json(short)))
        print(
            f"\nsolvent liquidation-price (the short account; one process per call; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})"
        )
        print(
            f"{'model':11s} {'cmd wall':>8s} {'cmd cpu':>8s} | {'import':>7s} {'files':>6s} "
            f"{'first call':>10s}  (ms; last three: CPU in a fresh interpreter)"
        )
        for model in models:
            args = [str(book_path), "--market", str(market_path), "--model", model]
            wall, cpu, _ = _child_cpu_ms([cli, "liquidation-price", *args, "--underlying", "BTC"])
            _, _, steps = _child_cpu_ms(
                [sys.executable, "-c", _STEPS, str(book_path), str(market_path), model]
            )
            imported, loaded, first = (float(x) for x in steps.split())
            print(
                f"{model:11s} {wall:8.0f} {cpu:8.0f} | {imported:7.0f} {loaded:6.0f} {first:10.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
