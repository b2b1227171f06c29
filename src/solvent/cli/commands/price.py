"""``solvent price MARKET``: every instrument's mark, IV, forward and greeks as JSON."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from solvent.cli.output import emit_json, run_or_fail
from solvent.engine.pricing import PricedInstruments, price_instruments
from solvent.market.snapshot import load_market
from solvent.validation import iso_utc


def _nullable(x: float) -> float | None:
    return None if math.isnan(x) else x


def priced_to_json(as_of: str, priced: PricedInstruments) -> dict[str, Any]:
    """docs/formats.md 4 ``solvent price`` output (``delta_coin`` only where it applies)."""
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(priced.table.names):
        row: dict[str, Any] = {
            "name": name,
            "mark_price": float(priced.mark_price[i]),
            "mark_price_usd": float(priced.mark_price_usd[i]),
            "mark_iv": _nullable(float(priced.mark_iv[i])),
            "forward": float(priced.forward[i]),
            "delta": float(priced.delta[i]),
            "gamma": float(priced.gamma[i]),
            "vega": float(priced.vega[i]),
            "theta": float(priced.theta[i]),
        }
        if not math.isnan(priced.delta_coin[i]):
            row["delta_coin"] = float(priced.delta_coin[i])
        rows.append(row)
    return {"as_of": as_of, "instruments": rows}


def register(app: typer.Typer) -> None:
    @app.command("price")
    def price(
        market: Annotated[Path, typer.Argument(help="Market snapshot JSON (docs/formats.md 1).")],
    ) -> None:
        """Every instrument: mark, IV, forward, delta, gamma, vega, theta (JSON)."""
        snapshot = run_or_fail(lambda: load_market(market))
        priced = run_or_fail(lambda: price_instruments(snapshot))
        as_of = iso_utc(snapshot.as_of)
        emit_json(priced_to_json(as_of, priced))
