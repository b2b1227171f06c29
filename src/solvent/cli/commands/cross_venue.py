"""``solvent cross-venue PORTFOLIO_OR_BOOK --market MARKET [--model NAME] [--params P]``.

An edge only: load, :func:`solvent.engine.cross_venue.cross_venue` per account, render
(docs/cross-venue.md): margin per venue alone against the netted portfolio, the capital saved and
each position's share of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.options import ModelOption, ParamsOption
from solvent.cli.output import emit_json
from solvent.engine.cross_venue import cross_venue_book, cross_venue_json
from solvent.margin.registry import get_model, resolve_alias
from solvent.market.snapshot import load_market
from solvent.portfolio.portfolio import load_portfolio_or_book


def register(app: typer.Typer) -> None:
    @app.command("cross-venue")
    def cross_venue(
        portfolio: Annotated[
            Path, typer.Argument(help="Portfolio or book JSON whose positions name their venue.")
        ],
        market: Annotated[Path, typer.Option("--market", help="Market snapshot JSON.")],
        model: ModelOption = "standard",
        params: ParamsOption = None,
        locations: Annotated[
            str | None,
            typer.Option("--locations", help="Location set: built-in version or TOML file."),
        ] = None,
    ) -> None:
        """Margin per venue alone vs the netted portfolio, and the capital saved per position."""
        get_model(resolve_alias(model, params))
        portfolios, is_book = load_portfolio_or_book(portfolio)
        snapshot = load_market(market)
        results = cross_venue_book(portfolios, snapshot, model, params, locations=locations)
        views = [cross_venue_json(r) for r in results]
        emit_json({"accounts": views} if is_book else views[0])
