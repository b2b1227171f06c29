"""``solvent demo [--accounts N] [--seed S] [--out DIR]``: the main job on the embedded sample
data (see solvent.engine.demo): a venue book margined under every model side by side, capital
efficiency, explanations, and an HTML report with charts written to a path it prints."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from solvent.engine.demo import DEFAULT_ACCOUNTS, DEFAULT_SEED, DemoResult
from solvent.errors import SolventInputError
from solvent.realtime.demo import MAIN_JOB_STAGES, CrashTally, run_main_job

DEFAULT_OUT = Path("solvent-demo")


def _print(console: Console, result: DemoResult, elapsed: float) -> None:
    market, side = result.market, result.side
    console.print(
        f"[bold]Solvent demo[/bold]: Deribit chain at {market.as_of:%Y-%m-%d %H:%M:%S} UTC, "
        f"{len(market.quotes):,} instruments; index "
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
    for underlying, fit in result.surfaces.items():
        rep = fit.report
        surfaces.add_row(
            underlying,
            str(len(rep.slices)),
            f"{100 * rep.rms_iv_error:.2f} vol pts",
            f"{100 * rep.worst_slice.rms_iv_error:.2f} vol pts",
            "arbitrage" if rep.butterfly_arbitrage else "free",
            "flagged" if rep.calendar_arbitrage else "free",
        )
    console.print(surfaces)
    counts: dict[str, int] = {}
    for kind in result.book.archetype:
        counts[kind] = counts.get(kind, 0) + 1
    console.print(
        f"Venue book: {len(result.book.archetype):,} accounts ({len(side.units):,} margin units; "
        + ", ".join(f"{n:,} {k}" for k, n in counts.items())
        + f"), seed {result.book.seed}."
    )
    margins = Table(title="Initial margin by model and kind of account, USD")
    margins.add_column("kind of account")
    for model in side.models:
        margins.add_column(model, justify="right")
    kinds = np.asarray(side.archetype)
    for kind in [*dict.fromkeys(side.archetype), "all"]:
        rows = np.ones(len(kinds), dtype=bool) if kind == "all" else kinds == kind
        margins.add_row(kind, *(f"{x:,.0f}" for x in side.initial_margin_usd[rows].sum(axis=0)))
    console.print(margins)
    eff = Table(
        title=f"Capital efficiency against {side.models[0]} (model IM / {side.models[0]} IM)"
    )
    eff.add_column("model")
    archetypes = list(dict.fromkeys(e.archetype for e in result.efficiency))
    for kind in archetypes:
        eff.add_column(kind, justify="right")
    for model in side.models[1:]:
        cells = {e.archetype: e for e in result.efficiency if e.model == model}
        eff.add_row(
            model,
            *(
                f"{cells[k].ratio:.2f} ({cells[k].higher} higher)" if k in cells else "-"
                for k in archetypes
            ),
        )
    console.print(eff)
    console.print(f"[bold]Where a portfolio model asks more than {side.models[0]}[/bold]:")
    for line in result.explanations:
        console.print(f"  - {line.text}")
    crash = result.extras.get("replay")
    if isinstance(crash, dict):
        r = crash["summary"]
        fund = r["insurance_fund"]
        console.print(
            f"[bold]Crash replay[/bold] ({crash['path']}, real-time engine, model standard): "
            f"{r['steps']} ticks, {r['liquidated']} liquidated, {r['bankrupt']} bankrupt, "
            f"volume {r['volume_usd']:,.0f} USD, slippage {r['slippage_usd']:,.0f}, fees "
            f"{r['fees_usd']:,.0f}; insurance fund {fund['start_usd']:,.0f} -> "
            f"{fund['end_usd']:,.0f} USD (low {fund['min_usd']:,.0f}); "
            f"{r['adl_events']} ADL fills; socialized "
            f"{r['socialized_loss_usd']:,.0f} USD; tick-to-margin p50 {r['latency_ms']['p50']:.1f}"
            f" ms, p99 {r['latency_ms']['p99']:.1f} ms; ledger audit "
            f"{'ok' if r['audit']['ok'] else 'FAILED'}."
        )
        if not crash.get("liquidator", True):
            console.print("  (liquidator off: breaches are counted and queued, not traded)")
        else:
            for text in waterfall_lines(crash):
                console.print(text)
    solvency = result.extras.get("solvency")
    if isinstance(solvency, dict):
        console.print(
            f"[bold]Solvency[/bold]: snapshot {solvency['snapshot']} of {solvency['leaves']} "
            f"accounts, root {solvency['root'][:16]}..., solvent: {solvency['solvent']}; the "
            f"proof of {solvency['verified_account']} verifies against the signed header: "
            f"{solvency['verified']} ({solvency['directory']})"
        )
    serve = result.extras.get("serve")
    if isinstance(serve, str):
        console.print(
            f"Ledger: {crash['db'] if isinstance(crash, dict) else ''}; see it live: {serve}"
        )
    if result.report is not None:
        console.print(f"Report: [bold]{result.report}[/bold]")
    console.print(f"done in {elapsed:.1f} s")


ADL_FILLS_SHOWN = 10
"""The console lists this many ADL fills (the first booked); the report has them all."""


def waterfall_lines(crash: Mapping[str, Any]) -> list[str]:
    """The crash's loss waterfall in a few console lines: the insurance fund (seeded, lowest,
    end), the bankrupt units' deficits and who covered them, and the first ADL fills."""
    fund = crash["insurance_fund"]
    stages = crash["waterfall"]
    bankrupt = crash.get("bankruptcies", [])
    fills = crash.get("adl_fills", [])
    lowest = fund.get("lowest_tick")
    lines = [
        f"[bold]Loss waterfall[/bold]: insurance fund {fund['start_usd']:,.0f} USD at the start, "
        f"lowest {fund['min_usd']:,.0f}"
        + (f" (tick {lowest})" if lowest is not None else "")
        + f", {fund['end_usd']:,.0f} at the end (liquidation fees "
        f"{crash['fees_usd']:,.0f} in)",
        f"  {len(bankrupt)} of the {crash['summary']['bankrupt']} bankrupt units left deficits "
        f"of {stages['deficits']:,.0f} USD: the fund "
        f"covered {stages['covered by the fund']:,.0f}, ADL {stages['covered by ADL']:,.0f} "
        f"({len(fills)} fills against "
        f"{len({f['against'] for f in fills})} bankrupt units), socialized "
        f"{stages['socialized']:,.0f}, left to the venue {stages['left to the venue']:,.0f}",
    ]
    if fills:
        shown = fills[:ADL_FILLS_SHOWN]
        lines.append(f"  ADL fills (the first {len(shown)} of {len(fills)}, in booking order):")
        for f in shown:
            lines.append(
                f"    tick {f['tick']:>3}: {f['account']} {Decimal(f['quantity']):+,.4f} "
                f"{f['instrument']} at {Decimal(f['price']):,.4f} (against {f['against']})"
            )
    return lines


def _tally_line(t: CrashTally) -> str:
    """One console line for a tick of the crash replay that liquidated units."""
    index = ", ".join(f"{a} {p:,.0f}" for a, p in sorted(t.index.items()))
    return (
        f"  tick {t.tick:>3} ({index}): +{t.new_liquidated} liquidated, +{t.new_bankrupt} "
        f"bankrupt ({t.liquidated} / {t.bankrupt} so far); fees {t.fees_usd:,.0f} USD; "
        f"insurance fund {t.insurance_fund_usd:,.0f} USD (covered {t.insurance_covered_usd:,.0f}); "
        f"ADL fills {t.adl_fills}; socialized {t.socialized_usd:,.0f} USD"
    )


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        accounts: Annotated[
            int, typer.Option("--accounts", help="Accounts in the generated venue book.")
        ] = DEFAULT_ACCOUNTS,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the venue book.")] = DEFAULT_SEED,
        out: Annotated[
            Path, typer.Option("--out", help="Directory of the HTML report (created).")
        ] = DEFAULT_OUT,
    ) -> None:
        """The main job: a venue book under every model, explained, with an HTML report."""
        if accounts < 10 or accounts > 1_000_000:
            raise SolventInputError("--accounts", "must be between 10 and 1,000,000")
        if not 0 <= seed < 2**63:
            raise SolventInputError("--seed", "must be in [0, 2^63)")
        if out.exists() and not out.is_dir():
            raise SolventInputError("--out", f"{out} exists and is not a directory")
        if not out.resolve().parent.is_dir():
            raise SolventInputError("--out", f"no such directory: {out.resolve().parent}")
        console = Console(width=None if Console().is_terminal else 140)
        started = time.perf_counter()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("starting", total=MAIN_JOB_STAGES)

            def progress(stage: str) -> None:
                bar.update(task, description=stage, advance=1)

            def replay_progress(done: int, total: int) -> None:
                bar.update(task, description=f"replay the crash: event {done}/{total}")

            def watch(tally: CrashTally) -> None:
                if tally.new_liquidated or tally.new_bankrupt:
                    bar.console.print(_tally_line(tally))

            result = run_main_job(
                accounts=accounts,
                seed=seed,
                directory=out,
                progress=progress,
                watch=watch,
                replay_progress=replay_progress,
            )
        _print(console, result, time.perf_counter() - started)
