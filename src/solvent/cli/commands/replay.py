"""``solvent replay BOOK --market M (--path P | --feed DIR) [--model] [--db URL] [--report DIR]
[--executor local|ray [--ray-address A]]`` (docs/formats.md 10 and 4): a crash replay through the
real-time engine, everything on the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.executor import ExecutorOption, RayAddressOption, executor_for
from solvent.cli.output import emit_json
from solvent.executors import ExecutorKind
from solvent.market.snapshot import load_market
from solvent.portfolio.account_book import load_account_book
from solvent.validation import number_in_range


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_command(
        book: Annotated[Path, typer.Argument(help="Portfolio or book JSON (docs/formats.md 2).")],
        market: Annotated[Path, typer.Option("--market", help="Market snapshot JSON.")],
        path: Annotated[
            str | None,
            typer.Option(
                "--path",
                help="Price path CSV 'time,ASSET,...' of USD index prices, or builtin:NAME "
                "(covid-2020-03, ftx-2022-11, luna-2022-05, minus-40-hour, gap-40-hour).",
            ),
        ] = None,
        feed: Annotated[
            Path | None,
            typer.Option("--feed", help="Directory of recorded venue feeds (raw Binance)."),
        ] = None,
        model: Annotated[str, typer.Option("--model", help="Margin model.")] = "standard",
        params: Annotated[str | None, typer.Option("--params", help="Parameter set.")] = None,
        db: Annotated[
            str | None,
            typer.Option(
                "--db", help="SQLAlchemy URL of the ledger (default: a temporary SQLite file)."
            ),
        ] = None,
        report: Annotated[
            Path | None, typer.Option("--report", help="Write an HTML page with PNG charts here.")
        ] = None,
        insurance_fund: Annotated[
            float, typer.Option("--insurance-fund", help="Insurance fund at the start (USD).")
        ] = 0.0,
        policy: Annotated[
            str, typer.Option("--policy", help="Liquidation policy: partial, full or auction.")
        ] = "partial",
        executor: ExecutorOption = ExecutorKind.LOCAL,
        ray_address: RayAddressOption = None,
    ) -> None:
        """Drive the book through the real-time engine along a price path or a recorded feed:
        re-margin, margin calls, liquidations, insurance fund, ADL, on the ledger (JSON)."""
        from solvent.liquidation.policy import get_policy
        from solvent.realtime.replay import replay, waterfall_liquidator
        from solvent.realtime.views import replay_json

        fund = number_in_range(insurance_fund, "insurance_fund", 0.0, 1e15)
        get_policy(policy)  # an unknown policy is refused before anything is written
        accounts, _ = load_account_book(book)
        snapshot = load_market(market)
        with executor_for(executor, ray_address) as ex:
            result = replay(
                accounts,
                snapshot,
                path=path,
                feed=feed,
                model=model,
                params=params,
                db=db,
                report=report,
                insurance_fund_usd=fund,
                executor=ex,
                liquidator=waterfall_liquidator(policy),
            )
        emit_json(replay_json(result))
