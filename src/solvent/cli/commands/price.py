"""``solvent price MARKET``: every instrument's mark, IV, forward and greeks as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.output import emit_json
from solvent.engine.pricing import price_instruments
from solvent.engine.views import priced_to_json
from solvent.market.snapshot import load_market
from solvent.validation import iso_utc


def register(app: typer.Typer) -> None:
    @app.command("price")
    def price(
        market: Annotated[Path, typer.Argument(help="Market snapshot JSON (docs/formats.md 1).")],
    ) -> None:
        """Every instrument: mark, IV, forward, delta, gamma, vega, theta (JSON)."""
        snapshot = load_market(market)
        priced = price_instruments(snapshot)
        as_of = iso_utc(snapshot.as_of)
        emit_json(priced_to_json(as_of, priced))
