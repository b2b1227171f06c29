"""``solvent correlation --history PATH [--ewma-lambda L] [--assets BTC,ETH] [--window-days N]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.output import emit_json
from solvent.market.history import load_price_history
from solvent.scenarios.correlation import correlation_report


def parse_assets(text: str | None) -> list[str] | None:
    """``"BTC, eth"`` -> ``["BTC", "ETH"]``; None or empty -> None (all assets)."""
    if not text:
        return None
    return [a.strip().upper() for a in text.split(",") if a.strip()]


def register(app: typer.Typer) -> None:
    @app.command("correlation")
    def correlation(
        history: Annotated[
            Path, typer.Option("--history", help="Price history (docs/formats.md 8).")
        ],
        ewma_lambda: Annotated[
            float, typer.Option("--ewma-lambda", help="EWMA decay in (0, 1).")
        ] = 0.97,
        assets: Annotated[
            str | None, typer.Option("--assets", help="Comma-separated assets (default: all).")
        ] = None,
        window_days: Annotated[
            int | None, typer.Option("--window-days", help="Use only the last N joint returns.")
        ] = None,
    ) -> None:
        """Plain and EWMA correlation matrices of daily log returns (JSON)."""
        hist = load_price_history(history)
        report = correlation_report(hist, parse_assets(assets), ewma_lambda, window_days)
        emit_json(report.to_json())
