"""``solvent demo``: the main job on the embedded sample data (see solvent.engine.demo)."""

from __future__ import annotations

import time

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from solvent.engine.demo import run_demo
from solvent.engine.pricing import price_instruments


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Price the embedded Deribit chain, fit its surfaces, margin a sample book."""
        console = Console(width=None if Console().is_terminal else 120)
        started = time.perf_counter()
        result = run_demo()
        elapsed = time.perf_counter() - started
        market = result.market
        priced = price_instruments(market)
        console.print(
            f"[bold]Solvent demo[/bold]: Deribit chain at {market.as_of:%Y-%m-%d %H:%M:%S} UTC, "
            f"{len(priced.table)} instruments; index "
            + ", ".join(f"{a} {p:,.2f}" for a, p in market.index.items())
        )
        surfaces = Table(title="SVI volatility surfaces (vega-weighted fit to Deribit mark IVs)")
        for col in (
            "underlying",
            "expiries",
            "RMS IV error",
            "worst expiry RMS",
            "butterfly",
            "calendar",
        ):
            surfaces.add_column(col, justify="right")
        for underlying, rep in result.surfaces.items():
            surfaces.add_row(
                underlying,
                str(len(rep.slices)),
                f"{100 * rep.rms_iv_error:.2f} vol pts",
                f"{100 * rep.worst_slice.rms_iv_error:.2f} vol pts",
                "arbitrage" if rep.butterfly_arbitrage else "free",
                "flagged" if rep.calendar_arbitrage else "free",
            )
        console.print(surfaces)
        opts = priced.table.is_option
        console.print(
            f"Priced {int(opts.sum())} options with greeks: sum |vega| "
            f"{np.abs(priced.vega[opts]).sum():,.0f} USD per vol point."
        )
        margins = Table(title="Initial margin of a sample book, USD, by model")
        margins.add_column("account")
        for col in result.columns:
            margins.add_column(col, justify="right")
        for account, row in zip(result.accounts, result.initial_margin_usd, strict=True):
            margins.add_row(account, *(f"{x:,.0f}" for x in row))
        console.print(margins)
        console.print(f"done in {elapsed:.2f} s")
