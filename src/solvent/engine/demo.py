"""The main job on the embedded sample data (``solvent demo`` and ``make demo``).

1. Load the embedded Deribit chain of 2026-01-05 and fit an SVI surface per underlying.
2. Generate a venue book of a few thousand accounts (:mod:`solvent.engine.venue_book`: option
   writers and spreads, basis trades, leveraged perpetuals, multi-asset collateral, sub-accounts),
   deterministically from a seed.
3. Margin every margin unit under every model side by side (:func:`margin_side_by_side`), the
   capital efficiency of each portfolio model against ``standard`` per kind of account
   (:func:`capital_efficiency`) and, where a portfolio model asks more than ``standard``, one
   line explaining why from the model's own worst scenario and position contributions
   (:func:`explain_higher`).
4. An HTML report with PNG charts (:func:`solvent.engine.demo_report.write_report`).

Amounts are USD at the snapshot's prices; every step is vectorized over the book except the few
explained accounts, margined alone with ``explain``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from solvent.arrays import FloatArray
from solvent.engine.margin import MarginRun, margin_accounts, margin_portfolios
from solvent.engine.venue_book import ARCHETYPES, VenueBook, generate_venue_book
from solvent.files import loads_json
from solvent.margin.protocol import Detail
from solvent.margin.result import AccountMargin
from solvent.market.deribit import (
    EMBEDDED_PERPETUALS,
    EMBEDDED_SNAPSHOT,
    chain_to_records,
    read_chain_rows,
    read_perpetual_marks,
)
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.market.surface_marks import fit_snapshot_surfaces
from solvent.market.vol_surface import SurfaceFit
from solvent.portfolio.portfolio import Portfolio
from solvent.validation import iso_timestamp, iso_utc

DEMO_MODELS: tuple[tuple[str, str | None], ...] = (
    ("standard", None),
    ("standard", "derive-srm"),
    ("deribit-pm", None),
    ("deribit-pm", "deribit-xpm"),
    ("derive-pm", None),
    ("span", None),
    ("fhs-es", None),
    ("simm", None),
)
"""Every model of the side-by-side table, as ``(model, params)``; the first is the baseline."""

PER_POSITION_MODELS = frozenset({"standard", "derive-srm"})
"""Models without portfolio offsets (not explained against the baseline)."""

DEFAULT_ACCOUNTS = 3_000
DEFAULT_SEED = 20260105

Progress = Callable[[str], None]
"""Told the name of each stage as it starts (the CLI's progress bar)."""


def model_label(model: str, params: str | None) -> str:
    """Column label of a model: its name, or ``name (params)``; ``derive-srm`` stands alone."""
    if params is None:
        return model
    if params == "derive-srm":
        return "derive-srm"
    return params if params.startswith(model.split("-")[0]) else f"{model} ({params})"


@dataclass(frozen=True)
class SideBySide:
    """Every margin unit (an account with its cross sub-accounts) under every model.

    ``initial_margin_usd``/``maintenance_margin_usd``: ``(units, models)``; ``equity_usd``:
    ``(units,)`` (collateral with haircuts plus positions at the mark, the baseline's valuation);
    ``archetype`` of each unit's top account; ``members`` the accounts of each unit.
    """

    models: tuple[str, ...]
    specs: tuple[tuple[str, str | None], ...]
    units: tuple[str, ...]
    archetype: tuple[str, ...]
    members: tuple[tuple[str, ...], ...]
    initial_margin_usd: FloatArray
    maintenance_margin_usd: FloatArray
    equity_usd: FloatArray

    def column(self, label: str) -> int:
        return self.models.index(label)


def margin_side_by_side(
    book: VenueBook,
    market: MarketSnapshot,
    models: tuple[tuple[str, str | None], ...] = DEMO_MODELS,
    progress: Progress | None = None,
) -> SideBySide:
    """Margin ``book`` under each of ``models`` (one vectorized run per model)."""
    runs: list[MarginRun] = []
    for model, params in models:
        if progress is not None:
            progress(f"margin: {model_label(model, params)}")
        runs.append(margin_accounts(book.accounts, market, model, params, detail=Detail.TOTALS))
    base = runs[0]
    tops = base.groups.tops.tolist()
    return SideBySide(
        models=tuple(model_label(m, p) for m, p in models),
        specs=models,
        units=base.book.accounts,
        archetype=tuple(book.archetype[t] for t in tops),
        members=tuple(base.members(g) for g in range(len(base.book.accounts))),
        initial_margin_usd=np.column_stack(
            [np.asarray(r.result.initial_margin_usd, dtype=np.float64) for r in runs]
        ),
        maintenance_margin_usd=np.column_stack(
            [np.asarray(r.result.maintenance_margin_usd, dtype=np.float64) for r in runs]
        ),
        equity_usd=np.asarray(base.equity.equity_usd, dtype=np.float64),
    )


@dataclass(frozen=True)
class Efficiency:
    """One model against the baseline over the units of one archetype (``"all"``: every unit):
    total initial margins (USD), their ratio (< 1: the model frees capital) and how many units
    the model charges more than the baseline."""

    model: str
    archetype: str
    units: int
    baseline_usd: float
    model_usd: float
    higher: int

    @property
    def ratio(self) -> float:
        return self.model_usd / self.baseline_usd if self.baseline_usd > 0 else float("nan")

    @property
    def capital_freed_usd(self) -> float:
        return self.baseline_usd - self.model_usd


def capital_efficiency(side: SideBySide) -> list[Efficiency]:
    """Per model (after the baseline) and archetype, then ``"all"``."""
    kinds = np.asarray(side.archetype)
    im = side.initial_margin_usd
    base = im[:, 0]
    out = []
    for j, model in enumerate(side.models[1:], start=1):
        for name in [k for k, _ in ARCHETYPES] + ["all"]:
            rows = np.ones(len(kinds), dtype=bool) if name == "all" else kinds == name
            if not rows.any():
                continue
            out.append(
                Efficiency(
                    model=model,
                    archetype=name,
                    units=int(rows.sum()),
                    baseline_usd=float(base[rows].sum()),
                    model_usd=float(im[rows, j].sum()),
                    higher=int(np.count_nonzero(im[rows, j] > base[rows] * (1 + 1e-9))),
                )
            )
    return out


@dataclass(frozen=True)
class Explanation:
    """Why ``model`` asks more than the baseline of ``account`` (one line, ``text``)."""

    model: str
    archetype: str
    account: str
    model_usd: float
    baseline_usd: float
    text: str


def _charges(margin: AccountMargin, market: MarketSnapshot) -> dict[str, float]:
    """Each instrument's charge in an ``explain`` result, USD: its loss in the pool's worst
    scenario (``-pnl``) for scenario models, its own (or Euler) initial margin otherwise."""
    out: dict[str, float] = {}
    for pool in margin.pools:
        usd = market.price_usd(pool.currency)
        for c in pool.contributions or ():
            charge = -c.pnl if c.pnl is not None else (c.initial_margin or 0.0)
            out[c.instrument] = out.get(c.instrument, 0.0) + charge * usd
    return out


def _worst_label(margin: AccountMargin) -> str:
    """Label of the worst scenario of the pool with the largest initial margin ("" if none)."""
    pools = [p for p in margin.pools if p.worst_scenario is not None]
    if not pools:
        return ""
    top = max(pools, key=lambda p: p.initial_margin)
    assert top.worst_scenario is not None
    return top.worst_scenario.label


def explain_higher(
    side: SideBySide,
    book: VenueBook,
    market: MarketSnapshot,
    per_archetype: int = 1,
) -> list[Explanation]:
    """For each portfolio model (not :data:`PER_POSITION_MODELS`) and archetype, the
    ``per_archetype`` units it charges most above the baseline, each with one line built from
    the model's own explanation (worst scenario and the position that loses most in it) against
    the baseline's charge for that position."""
    portfolios = {p.account: p for p in book.portfolios()}
    im = side.initial_margin_usd
    base = im[:, 0]
    kinds = np.asarray(side.archetype)
    base_model, base_params = side.specs[0]
    out: list[Explanation] = []
    for j, (model, params) in enumerate(side.specs[1:], start=1):
        label = side.models[j]
        if label in PER_POSITION_MODELS:
            continue
        for kind, _ in ARCHETYPES:
            rows = np.flatnonzero((kinds == kind) & (im[:, j] > base * (1 + 1e-9)))
            if rows.size == 0:
                continue
            excess = im[rows, j] - base[rows]
            for g in rows[np.argsort(-excess, kind="stable")][:per_archetype].tolist():
                members = [portfolios[a] for a in side.members[g]]
                run = margin_portfolios(members, market, model, params, explain=True)
                std = margin_portfolios(members, market, base_model, base_params, explain=True)
                mine, theirs = run[0].margin, std[0].margin
                charges = _charges(mine, market)
                account = side.units[g]
                head = (
                    f"{account} ({kind}): {label} {im[g, j]:,.0f} USD > {side.models[0]} "
                    f"{base[g]:,.0f} USD"
                )
                if charges:
                    inst = max(charges, key=lambda n: charges[n])
                    theirs_usd = _charges(theirs, market).get(inst, 0.0)
                    scenario = _worst_label(mine)
                    where = f"its worst scenario ({scenario})" if scenario else "its own charge"
                    text = (
                        f"{head}: {inst} ({positions_of(members, inst):+g}) carries "
                        f"{charges[inst]:,.0f} USD of it in {where}, where {side.models[0]} "
                        f"charges that position {theirs_usd:,.0f} USD"
                    )
                else:
                    components = {
                        name: value
                        for pool in mine.pools
                        for name, value in pool.components.items()
                    }
                    top = max(components, key=lambda n: abs(components[n]), default="")
                    text = (
                        f"{head}: driven by its {top} component ({components.get(top, 0.0):,.0f})"
                    )
                out.append(Explanation(label, kind, account, float(im[g, j]), float(base[g]), text))
    return out


def positions_of(portfolios: list[Portfolio], instrument: str) -> float:
    """Net quantity of ``instrument`` over ``portfolios``."""
    return sum(p.quantity for pf in portfolios for p in pf.positions if p.instrument == instrument)


@dataclass(frozen=True)
class DemoResult:
    """What the main job computed (the report and the tests read it)."""

    market: MarketSnapshot
    surfaces: dict[str, SurfaceFit]
    book: VenueBook
    side: SideBySide
    efficiency: list[Efficiency]
    explanations: list[Explanation]
    report: Path | None = None
    extras: dict[str, object] = field(default_factory=dict)


EMBEDDED_ORDER_BOOK = "binance_spot_btcusdt_20240808.json"
"""The shipped depth snapshot (solvent/data/orderbook/README.md)."""


def demo_market_json() -> dict[str, Any]:
    """The demo's market (docs/formats.md 1 and 5): the embedded Deribit chain with an order book
    per underlying, the shipped Binance BTC depth rescaled to each index (prices x index / mid;
    sizes x BTC index / index, so every underlying has the same USD depth; solvent/data/orderbook).
    What ``solvent serve --market`` reads back from the demo's folder."""
    base = resources.files("solvent.data") / "deribit"
    with resources.as_file(base / EMBEDDED_PERPETUALS) as perps:
        marks = read_perpetual_marks(perps)
    with resources.as_file(base / EMBEDDED_SNAPSHOT) as chain:
        as_of, index, records = chain_to_records(read_chain_rows(chain), marks)
    source = resources.files("solvent.data") / "orderbook" / EMBEDDED_ORDER_BOOK
    raw = loads_json(source.read_text(encoding="utf-8"), "order_book", EMBEDDED_ORDER_BOOK)
    bids = np.asarray(raw["bids"], dtype=np.float64)
    asks = np.asarray(raw["asks"], dtype=np.float64)
    mid = 0.5 * (bids[0, 0] + asks[0, 0])
    reference = float(index.get("BTC", mid))
    books = {}
    for underlying, price in index.items():
        scale = np.array([price / mid, reference / price])
        books[underlying] = {"bids": (bids * scale).tolist(), "asks": (asks * scale).tolist()}
    stamp = iso_utc(iso_timestamp(as_of, "timestamp"))
    return {
        "as_of": stamp,
        "index": index,
        "rates": {},
        "instruments": records,
        "order_books": books,
    }


def demo_market() -> MarketSnapshot:
    """:func:`demo_market_json` as a snapshot."""
    return parse_market(demo_market_json())


def run_demo(
    *,
    accounts: int = DEFAULT_ACCOUNTS,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> DemoResult:
    """Run the main job's margin part (deterministic: embedded data and ``seed`` only); the
    report is :func:`solvent.engine.demo_report.write_report` of the result."""

    def stage(name: str) -> None:
        if progress is not None:
            progress(name)

    stage("load the Deribit chain and order book")
    market = demo_market()
    stage("fit the SVI surfaces")
    fits = fit_snapshot_surfaces(market)
    stage(f"generate {accounts:,} accounts")
    book = generate_venue_book(market, accounts, seed)
    side = margin_side_by_side(book, market, progress=progress)
    stage("explain")
    efficiency = capital_efficiency(side)
    explanations = explain_higher(side, book, market)
    return DemoResult(market, fits, book, side, efficiency, explanations)
