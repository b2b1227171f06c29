"""``solvent dynamic``: replay the dynamic margin multiplier over a price history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from solvent.cli.output import emit_json, fail
from solvent.market.history import load_price_history
from solvent.stress.dynamic import DynamicParams, DynamicReplay, replay


def _signals(raw: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in raw or []:
        day, sep, value = item.partition("=")
        try:
            out[day] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            fail(f"--signal: expected DAY=VALUE (e.g. 2022-11-08=0.5), got {item!r}")
    return out


def replay_to_json(result: DynamicReplay, params: DynamicParams) -> dict[str, Any]:
    m = result.multiplier
    return {
        "asset": result.asset,
        "start": str(result.dates[0]),
        "end": str(result.dates[-1]),
        "params": {
            "floor": params.floor,
            "cap": params.cap,
            "max_step": params.max_step,
            "sensitivity": params.sensitivity,
        },
        "final_multiplier": float(m[-1]),
        "max_multiplier": float(m.max()),
        "days_above_1": int(np.sum(m > 1.0)),
        "largest_step": float(np.max(np.abs(np.diff(m)))) if m.size > 1 else 0.0,
        "events": [
            {
                "time": e.time.date().isoformat(),
                "previous": e.previous,
                "new": e.new,
                "target": e.target,
                "reason": e.reason.value,
                "rate_limited": e.rate_limited,
                "vol_ratio": e.vol_ratio,
                "signal": e.signal,
            }
            for e in result.state.log
        ],
    }


def register(app: typer.Typer) -> None:
    @app.command("dynamic")
    def dynamic(
        history: Annotated[
            Path, typer.Option("--history", help="Price history (docs/formats.md 8).")
        ],
        asset: Annotated[str, typer.Option("--asset")] = "BTC",
        floor: Annotated[float, typer.Option("--floor")] = 1.0,
        cap: Annotated[float, typer.Option("--cap")] = 3.0,
        max_step: Annotated[float, typer.Option("--max-step")] = 0.10,
        sensitivity: Annotated[float, typer.Option("--sensitivity")] = 1.0,
        signal: Annotated[
            list[str] | None,
            typer.Option("--signal", help="External risk signal DAY=VALUE (0.5 asks +50 %)."),
        ] = None,
    ) -> None:
        """The dynamic margin multiplier day by day, with every change and its reason (JSON)."""
        signals = _signals(signal)
        params = DynamicParams(floor, cap, max_step, sensitivity)
        prices = load_price_history(history)
        result = replay(prices, asset, params, signals)
        emit_json(replay_to_json(result, params))
