"""End to end: ``solvent margin BOOK.json`` of 100,000 accounts x 10 positions, every model.

What a user runs, through the console script in a fresh process: start-up, reading the book and
market JSON, grouping cross sub-accounts, preparing the model once, margining the whole book,
valuing every group's collateral, health, and writing the JSON result (stdout to a file). The
book file is generated here from the embedded Deribit sample (seed 1): 10 positions per account
over the chain's first 1,000 instruments, BTC/ETH/USDC collateral, one account in ten a cross
sub-account of the one before it and one in fifty an isolated one. Target: under 10 s per model.

Printed, all measured in this run:

- per model: wall time and where it goes (the command's own ``--timings``: load, group, prepare,
  margin, collateral, health, render; "start-up" is the rest: interpreter and imports);
- the I/O floor: ``json.load`` of the book plus ``json.dumps`` of one model's output in this
  process, and each model's wall time as a multiple of it;
- collateral: the book-level valuation against valuing each group on its own (the path this
  replaced; timed on a sample, scaled to the book), and the ratio.

``SOLVENT_BENCH_ACCOUNTS`` changes the book size (default 100,000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from solvent.cli.commands.market import deribit_market_json
from solvent.collateral.valuation import value_collateral, value_collateral_matrix
from solvent.margin.registry import model_names
from solvent.market.deribit import EMBEDDED_PERPETUALS, EMBEDDED_SNAPSHOT
from solvent.market.snapshot import load_market
from solvent.portfolio.account_book import load_account_book

POSITIONS_PER_ACCOUNT = 10
N_INSTRUMENTS = 1000
TARGET_S = 10.0
TIMEOUT_S = 600.0
STAGES = ("load", "group", "prepare", "margin", "collateral", "health", "render")


def sample_market(path: Path) -> dict[str, Any]:
    """The embedded Deribit sample as market JSON (docs/formats.md 1), written to ``path``."""
    base = resources.files("solvent.data") / "deribit"
    with (
        resources.as_file(base / EMBEDDED_SNAPSHOT) as chain,
        resources.as_file(base / EMBEDDED_PERPETUALS) as perps,
    ):
        market = deribit_market_json(chain, perps)
    path.write_text(json.dumps(market), encoding="utf-8")
    return market


def book_json(n_accounts: int, instruments: list[str], seed: int = 1) -> dict[str, Any]:
    """A deterministic book of ``n_accounts`` x 10 positions (see the module docstring)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(instruments), (n_accounts, POSITIONS_PER_ACCOUNT)).tolist()
    qty = np.round(rng.normal(0.0, 2.0, (n_accounts, POSITIONS_PER_ACCOUNT)), 1).tolist()
    btc = np.round(rng.uniform(0.0, 5.0, n_accounts), 4).tolist()
    eth = np.round(rng.uniform(0.0, 50.0, n_accounts), 3).tolist()
    usdc = np.round(rng.uniform(-1e4, 2e5, n_accounts), 2).tolist()
    accounts = []
    for i in range(n_accounts):
        rec: dict[str, Any] = {
            "account": f"acct-{i}",
            "collateral": {"BTC": btc[i], "ETH": eth[i], "USDC": usdc[i]},
            "positions": [
                {"instrument": instruments[j], "quantity": q}
                for j, q in zip(picks[i], qty[i], strict=True)
            ],
        }
        if i % 10 == 1:
            rec["parent"] = f"acct-{i - 1}"
        elif i % 50 == 3:
            rec |= {"parent": f"acct-{i - 3}", "mode": "isolated"}
        accounts.append(rec)
    return {"accounts": accounts}


def run_cli(book: Path, market: Path, model: str, out: Path) -> tuple[float, dict[str, float]]:
    """Wall time of ``solvent margin`` in a fresh process, and its own stage timings."""
    command = [
        str(Path(sys.executable).with_name("solvent")),  # the console script users run
        "margin",
        str(book),
        "--market",
        str(market),
        "--model",
        model,
        "--timings",
        "--no-progress",
    ]
    start = time.perf_counter()
    with out.open("wb") as sink:
        done = subprocess.run(
            command, stdout=sink, stderr=subprocess.PIPE, timeout=TIMEOUT_S, check=False
        )
    wall = time.perf_counter() - start
    err = done.stderr.decode("utf-8", "replace").strip().splitlines()
    if done.returncode != 0:
        raise RuntimeError(err[-1] if err else f"exit code {done.returncode}")
    timings: dict[str, float] = json.loads(err[-1])["timings"]
    return wall, timings


def collateral_ratio(book: Path, market_path: Path) -> None:
    accounts, _ = load_account_book(book)
    market = load_market(market_path)
    groups = accounts.groups()
    _, balances = accounts.group_book(groups)
    symbols = list(accounts.assets)
    start = time.perf_counter()
    value_collateral_matrix(balances, symbols, market)
    t_book = time.perf_counter() - start
    sample = min(2000, len(balances))
    rows = [dict(zip(symbols, r, strict=True)) for r in balances[:sample].tolist()]
    start = time.perf_counter()
    for row in rows:
        value_collateral(row, market)
    t_loop = (time.perf_counter() - start) / sample * len(balances)
    print(
        f"collateral of {len(balances):,} groups: book-level {1e3 * t_book:.1f} ms; "
        f"group by group {t_loop:.1f} s (from {sample:,}); ratio {t_loop / t_book:.0f}x"
    )


def main() -> None:
    n_accounts = int(os.environ.get("SOLVENT_BENCH_ACCOUNTS", "100000"))
    with tempfile.TemporaryDirectory(prefix="solvent-bench-") as tmp:
        folder = Path(tmp)
        market_path, book_path = folder / "market.json", folder / "book.json"
        market = sample_market(market_path)
        instruments = [r["name"] for r in market["instruments"]][:N_INSTRUMENTS]
        start = time.perf_counter()
        raw = book_json(n_accounts, instruments)
        book_path.write_text(json.dumps(raw), encoding="utf-8")
        del raw
        size_mb = book_path.stat().st_size / 1e6
        print(
            f"book: {n_accounts:,} accounts x {POSITIONS_PER_ACCOUNT} positions over "
            f"{len(instruments):,} instruments, {size_mb:.0f} MB of JSON "
            f"(written in {time.perf_counter() - start:.1f} s)"
        )
        header = f"{'model':<11} {'wall s':>7} {'start-up':>8} " + " ".join(
            f"{s:>10}" for s in STAGES
        )
        print(header + f" {'output MB':>9}  target < {TARGET_S:.0f} s")
        walls: dict[str, float] = {}
        for model in model_names():
            out = folder / f"out-{model}.json"
            try:
                wall, timings = run_cli(book_path, market_path, model, out)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"{model:<11} failed: {exc}")
                continue
            walls[model] = wall
            startup = wall - sum(timings.values())
            cells = " ".join(f"{timings.get(s, 0.0):>10.2f}" for s in STAGES)
            verdict = "ok" if wall < TARGET_S else f"over by {wall - TARGET_S:.1f} s"
            print(
                f"{model:<11} {wall:>7.2f} {startup:>8.2f} {cells} "
                f"{out.stat().st_size / 1e6:>9.0f}  {verdict}"
            )
            out.unlink()  # keep the disk use to one output at a time
        start = time.perf_counter()
        with book_path.open("rb") as fh:
            parsed = json.load(fh)
        t_load = time.perf_counter() - start
        start = time.perf_counter()
        json.dumps(parsed)  # an output of about the same size as the input
        t_dump = time.perf_counter() - start
        floor = t_load + t_dump
        print(
            f"I/O floor (json.load of the book {t_load:.2f} s + json.dumps of as much "
            f"{t_dump:.2f} s): {floor:.2f} s; wall / floor: "
            + ", ".join(f"{m} {w / floor:.1f}x" for m, w in walls.items())
        )
        del parsed
        collateral_ratio(book_path, market_path)


if __name__ == "__main__":
    main()
