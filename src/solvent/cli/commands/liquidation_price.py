"""``solvent liquidation-price PORTFOLIO --market MARKET [--model NAME] [--params P]
[--underlying U]`` (docs/formats.md 10).

An edge only: load, :func:`solvent.engine.liquidation_price.portfolio_liquidation_price`, print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.options import ModelOption, ParamsOption
from solvent.cli.output import emit_json
from solvent.engine.liquidation_price import one_portfolio, portfolio_liquidation_price
from solvent.margin.registry import get_model, resolve_alias
from solvent.market.snapshot import load_market
from solvent.portfolio.portfolio import load_book


def register(app: typer.Typer) -> None:
    @app.command("liquidation-price")
    def liquidation_price(
        portfolio: Annotated[Path, typer.Argument(help="Portfolio JSON (docs/formats.md 2).")],
        market: Annotated[Path, typer.Option("--market", help="Market snapshot JSON.")],
        model: ModelOption = "standard",
        params: ParamsOption = None,
        underlying: Annotated[
            str | None,
            typer.Option(
                "--underlying",
                help="Underlying to move (default: the one of largest gross notional).",
            ),
        ] = None,
    ) -> None:
        """Underlying prices (down and up) at which equity equals maintenance margin."""
        get_model(resolve_alias(model, params))
        account = one_portfolio(load_book(portfolio))
        snapshot = load_market(market)
        emit_json(portfolio_liquidation_price(account, snapshot, model, params, underlying))
