"""``solvent demo``: the main job on the embedded sample data.

Prices the embedded Deribit chain of 2026-01-05 (BTC and ETH options, futures, perpetuals) and
prints a summary per underlying and expiry.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from solvent.engine.pricing import price_instruments
from solvent.market.deribit import load_embedded_chain


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Price the embedded Deribit chain and print a summary table."""
        console = Console(width=None if Console().is_terminal else 120)
        started = time.perf_counter()
        market = load_embedded_chain()
        loaded = time.perf_counter()
        priced = price_instruments(market)
        done = time.perf_counter()
        console.print(
            f"[bold]Solvent demo[/bold]: Deribit chain at {market.as_of:%Y-%m-%d %H:%M:%S} UTC, "
            f"{len(priced.table)} instruments; index "
            + ", ".join(f"{a} {p:,.2f}" for a, p in market.index.items())
        )
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, inst in enumerate(priced.table.instruments):
            if inst.is_option and inst.expiry is not None:
                groups[(inst.underlying, inst.expiry.strftime("%Y-%m-%d"))].append(i)
        table = Table(title="Options by expiry (marks from Black-76 on Deribit's forward and IV)")
        for col in ("underlying", "expiry", "options", "forward", "ATM IV", "min IV", "max IV",
                    "sum |vega| USD/pt"):  # fmt: skip
            table.add_column(col, justify="right")
        for (underlying, expiry), rows in sorted(groups.items()):
            idx = np.asarray(rows)
            fwd = float(priced.forward[idx[0]])
            strikes = priced.table.strike[idx]
            atm = idx[np.argmin(np.abs(strikes - fwd))]
            table.add_row(
                underlying,
                expiry,
                str(idx.size),
                f"{fwd:,.2f}",
                f"{priced.mark_iv[atm]:.1%}",
                f"{np.min(priced.mark_iv[idx]):.1%}",
                f"{np.max(priced.mark_iv[idx]):.1%}",
                f"{np.sum(np.abs(priced.vega[idx])):,.0f}",
            )
        console.print(table)
        delta_one = [i for i, inst in enumerate(priced.table.instruments) if inst.is_delta_one]
        futures = Table(title="Futures and perpetuals")
        for col in ("instrument", "mark USD", "basis vs index"):
            futures.add_column(col, justify="right")
        for i in delta_one:
            inst = priced.table.instruments[i]
            basis = priced.mark_price_usd[i] / market.index[inst.underlying] - 1.0
            futures.add_row(inst.name, f"{priced.mark_price_usd[i]:,.2f}", f"{basis:+.3%}")
        console.print(futures)
        console.print(
            f"loaded in {1e3 * (loaded - started):.0f} ms, priced with greeks in "
            f"{1e3 * (done - loaded):.1f} ms"
        )
