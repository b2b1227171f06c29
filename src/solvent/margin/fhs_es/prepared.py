"""fhs-es's prepared state: the scenarios and USD risk array of a book's instruments (steps 1-2
of :mod:`solvent.margin.fhs_es.model`), built once per market update.

Only the scenarios the parameters use are revalued (``main``, plus ``floor`` and ``stressed``
when their overlays are on): the margin never reads the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
from solvent.margin.fhs_es.params import FhsParams
from solvent.margin.fhs_es.scenarios import FhsScenarios, build_scenarios, scenarios_for
from solvent.margin.protocol import PricedMarket
from solvent.market.history import PriceHistory
from solvent.market.order_book import OrderBook
from solvent.pricing.unit_greeks import unit_greeks
from solvent.scenarios.risk_array import revaluation, revalue
from solvent.scenarios.scenario_set import ScenarioSet


@dataclass(frozen=True, slots=True)
class FhsPrepared:
    """Everything fhs-es needs from one market update, for the instruments in order.

    ``evaluated``: the scenarios the parameters use (``main``, then ``floor`` and ``stressed``
    when their overlay is on), in that order; ``r_eval``: USD P&L of 1 unit long of each
    instrument in each of them (instruments x evaluated scenarios, contiguous), each block's
    columns in it given by ``blocks`` (the margin multiplies the book by these only);
    ``liquidity``: for each underlying with an order book in the market (when the add-on is
    on), the book and each instrument's delta per unit on that underlying (coins; 0 for the
    other underlyings').
    """

    params: FhsParams
    instruments: tuple[str, ...]
    scenarios: FhsScenarios
    evaluated: ScenarioSet
    r_eval: FloatArray
    blocks: dict[str, slice]
    liquidity: tuple[tuple[OrderBook, FloatArray], ...]


def prepare(
    market: PricedMarket,
    instruments: Sequence[str],
    params: FhsParams,
    *,
    history: PriceHistory | None = None,
) -> FhsPrepared:
    """Scenarios (steps 1-2 of the module docstring) and the USD risk array of ``instruments``
    in the scenarios the parameters use. ``history`` overrides the parameter set's history (the
    closes up to the day before ``market``'s ``as_of`` are used either way)."""
    priced = market.subset(instruments)
    table = priced.table
    snapshot = priced.snapshot
    if history is None:
        fhs = scenarios_for(table.underlyings, snapshot.as_of, params)
    else:
        fhs = build_scenarios(table.underlyings, snapshot.as_of, params, history)
    evaluated, blocks = evaluated_scenarios(fhs, params)
    r_eval = revalue(revaluation(table, priced.columns, evaluated), priced.columns.forward)
    return assemble(priced, params, fhs, evaluated, r_eval.usd_pnl(snapshot), blocks)


def evaluated_scenarios(
    fhs: FhsScenarios, params: FhsParams
) -> tuple[ScenarioSet, dict[str, slice]]:
    """The scenarios ``params`` use (``main``, then ``floor`` and ``stressed`` when their
    overlay is on) and each block's columns among them."""
    used = [("main", fhs.main)]
    if params.overlays.floor:
        used.append(("floor", fhs.floor))
    if params.overlays.stressed_weight > 0:
        used.append(("stressed", fhs.stressed))
    columns = np.concatenate([np.arange(b.start, b.stop) for _, b in used])
    blocks, at = {}, 0
    for name, b in used:
        blocks[name] = slice(at, at + b.stop - b.start)
        at += b.stop - b.start
    every = columns.size == len(fhs.scenarios) and bool(np.all(columns == np.arange(columns.size)))
    return (fhs.scenarios if every else fhs.scenarios.take(columns)), blocks


def assemble(
    priced: PricedMarket,
    params: FhsParams,
    fhs: FhsScenarios,
    evaluated: ScenarioSet,
    r_usd: FloatArray,
    blocks: dict[str, slice],
) -> FhsPrepared:
    """The prepared state of ``priced``'s instruments from their USD risk array ``r_usd``
    (instruments x ``evaluated``): the liquidity add-on's order books and deltas added."""
    table, snapshot = priced.table, priced.snapshot
    liquidity: list[tuple[OrderBook, FloatArray]] = []
    books = [(code, snapshot.order_books.get(u)) for code, u in enumerate(table.underlyings)]
    held = [(code, ob) for code, ob in books if ob is not None]
    if params.liquidity_enabled and held:  # the deltas only matter against an order book
        per_unit = unit_greeks(table, priced.columns).delta
        for code, ob in held:
            liquidity.append((ob, np.where(table.underlying_code == code, per_unit, 0.0)))
    r_eval = np.ascontiguousarray(r_usd)
    return FhsPrepared(params, priced.instruments, fhs, evaluated, r_eval, blocks, tuple(liquidity))
