"""The main job on the embedded sample data (``solvent demo`` and ``make demo``).

Loads the embedded Deribit chain of 2026-01-05, fits an SVI surface per underlying, and margins a
small sample book (a short strangle, a covered call, a calendar basis trade, a BTC/ETH pair, a
linear perpetual) under every scenario model side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from solvent.engine.margin import margin_portfolios
from solvent.market.deribit import load_embedded_chain
from solvent.market.snapshot import MarketSnapshot
from solvent.market.surface_marks import fit_snapshot_surfaces
from solvent.market.vol_surface import SurfaceFitReport
from solvent.portfolio.portfolio import Portfolio, Position

DEMO_MODELS: tuple[tuple[str, str | None], ...] = (
    ("standard", None),
    ("standard", "derive-srm"),
    ("deribit-pm", None),
    ("deribit-pm", "deribit-xpm"),
    ("derive-pm", None),
    ("span", None),
)


def sample_book() -> list[Portfolio]:
    """Five accounts over instruments of the embedded chain (quantities in coin)."""

    def pf(account: str, collateral: dict[str, float], *pos: tuple[str, float]) -> Portfolio:
        return Portfolio(account, collateral, tuple(Position(n, q) for n, q in pos))

    return [
        pf(
            "short-strangle",
            {"BTC": 1.0},
            ("BTC-30JAN26-110000-C", -1.0),
            ("BTC-30JAN26-80000-P", -1.0),
        ),
        pf("covered-call", {"BTC": 2.0}, ("BTC-PERPETUAL", 1.0), ("BTC-27MAR26-110000-C", -1.0)),
        pf("basis-trade", {"BTC": 0.5}, ("BTC-PERPETUAL", 5.0), ("BTC-27MAR26", -5.0)),
        pf("btc-eth-pair", {"USDC": 20_000.0}, ("BTC-PERPETUAL", 1.0), ("ETH-PERPETUAL", -29.0)),
        pf(
            "eth-risk-reversal",
            {"ETH": 10.0},
            ("ETH-27MAR26-4000-C", 10.0),
            ("ETH-27MAR26-2600-P", -10.0),
        ),
    ]


@dataclass(frozen=True, slots=True)
class DemoResult:
    market: MarketSnapshot
    surfaces: dict[str, SurfaceFitReport]
    accounts: tuple[str, ...]
    columns: tuple[str, ...]
    initial_margin_usd: tuple[tuple[float, ...], ...]  # accounts x models


def run_demo() -> DemoResult:
    """Run the main job (deterministic: embedded data only)."""
    market = load_embedded_chain()
    fits = fit_snapshot_surfaces(market)
    book = sample_book()
    columns = []
    table: list[list[float]] = [[] for _ in book]
    for model, params in DEMO_MODELS:
        columns.append(model if params is None else f"{model} ({params})")
        for row, report in zip(table, margin_portfolios(book, market, model, params), strict=True):
            row.append(report.margin.initial_margin_usd)
    return DemoResult(
        market=market,
        surfaces={u: f.report for u, f in fits.items()},
        accounts=tuple(p.account for p in book),
        columns=tuple(columns),
        initial_margin_usd=tuple(tuple(r) for r in table),
    )
