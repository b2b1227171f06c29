"""``solvent margin PORTFOLIO_OR_BOOK --market MARKET [--model NAME] [--params P] [--explain]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.output import emit_json, run_or_fail
from solvent.engine.margin import margin_portfolios, report_to_json
from solvent.margin.registry import get_model
from solvent.market.snapshot import load_market
from solvent.portfolio.portfolio import load_portfolio_or_book


def register(app: typer.Typer) -> None:
    @app.command("margin")
    def margin(
        portfolio: Annotated[
            Path, typer.Argument(help="Portfolio or book JSON (docs/formats.md 2).")
        ],
        market: Annotated[Path, typer.Option("--market", help="Market snapshot JSON.")],
        model: Annotated[str, typer.Option("--model", help="Margin model name.")] = "standard",
        params: Annotated[
            str | None, typer.Option("--params", help="Built-in set name or TOML/JSON file.")
        ] = None,
        explain: Annotated[
            bool, typer.Option("--explain", help="Add every scenario and each position's share.")
        ] = False,
    ) -> None:
        """Initial and maintenance margin of a portfolio or a whole book (docs/formats.md 3)."""
        run_or_fail(lambda: get_model(model))
        portfolios, is_book = run_or_fail(lambda: load_portfolio_or_book(portfolio))
        snapshot = run_or_fail(lambda: load_market(market))
        reports = run_or_fail(
            lambda: margin_portfolios(portfolios, snapshot, model, params, explain=explain)
        )
        rendered = [report_to_json(r, explain) for r in reports]
        emit_json({"accounts": rendered} if is_book else rendered[0])
