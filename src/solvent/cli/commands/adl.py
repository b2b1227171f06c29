"""``solvent adl QUEUE --ranking bitmex|binance|hyperliquid [--fill SIZE --price PRICE]``
(docs/formats.md 10): each position's ADL score and quantile, longs and shorts in ADL order, and
with ``--fill`` the counterparties that absorb a liquidated position of signed SIZE at PRICE."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.output import emit_json
from solvent.engine.adl import adl_json, run_adl
from solvent.errors import SolventInputError
from solvent.liquidation.adl import load_adl_queue, parse_ranking


def register(app: typer.Typer) -> None:
    @app.command("adl")
    def adl(
        queue: Annotated[Path, typer.Argument(help="ADL queue JSON (docs/formats.md 10).")],
        ranking: Annotated[str, typer.Option("--ranking", help="bitmex, binance or hyperliquid.")],
        fill: Annotated[
            float | None,
            typer.Option(
                "--fill",
                help="Signed size of the liquidated position (-20 = a short of 20: longs pay).",
            ),
        ] = None,
        price: Annotated[
            float | None,
            typer.Option(
                "--price", help="Fill price in the queue's price unit (an option's premium)."
            ),
        ] = None,
    ) -> None:
        """ADL ranking of a queue (scores, quantiles) and, with --fill, who is deleveraged."""
        chosen = parse_ranking(ranking, "--ranking")
        if (fill is None) != (price is None):
            raise SolventInputError(
                "--fill" if fill is None else "--price", "give both --fill and --price"
            )
        loaded = load_adl_queue(queue)
        emit_json(adl_json(run_adl(loaded, chosen, None if fill is None else (fill, price or 0.0))))
