"""``fhs-es``: filtered historical simulation Expected Shortfall over a whole book (USD pool).

For every account at once (docs/methodology/fhs-es.md):

1. Scenarios (:mod:`.scenarios`): the joint filtered h-day moves of the book's underlyings at
   today's EWMA vol (``main``), the same at the long-run vol (``floor``), and the raw moves of
   the stressed window (``stressed``), with vol shocks from a vol beta or an implied-vol history.
2. One risk array prices every instrument in every scenario (full revaluation); coin P&L is
   converted to USD at the scenario's price of the settlement coin
   (``R_usd[i, s] = pnl[i, s] * price(settle_i) * (1 + move_s(settle_i))``).
3. Account P&L ``P = Q @ R_usd`` (accounts x scenarios, USD), in blocks of accounts; losses
   ``L = -P``. ``ES`` and ``VaR`` at ``confidence`` over ``main`` (:mod:`.tail`).
4. Requirement (USD, each part >= 0; these are the ``components``)::

       es              = max(ES_main, 0)
       stressed_period = max(0, w * (max(ES_stressed, 0) - es))             (overlay b, w > 0)
       floor           = max(0, max(ES_floor, 0) - es - stressed_period)    (overlay c)
       buffer          = b(ratio) * (es + stressed_period + floor)          (overlay a)
       liquidity       = cost of closing the net delta into the order book  (where a book exists)
       IM = sum of the components;  MM = mm_fraction * IM

   with ``b(ratio) = buffer_rate * clip((full - ratio) / (full - start), 0, 1)`` and ``ratio``
   today's EWMA vol over the long-run vol (largest over the book's underlyings).
5. Attribution (``explain``): each position's USD P&L averaged over the account's k tail
   scenarios of ``main``; the contributions sum to ``-ES_main``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.margin.fhs_es.liquidity import close_out_cost
from solvent.margin.fhs_es.params import MODEL_NAME, FhsParams, Overlays, load_params
from solvent.margin.fhs_es.scenarios import FhsScenarios, build_scenarios
from solvent.margin.fhs_es.tail import es_var, tail_indices
from solvent.margin.protocol import LegacyModel
from solvent.margin.result import (
    AccountMargin,
    BookMargin,
    Contribution,
    PoolMargin,
    ScenarioRef,
)
from solvent.market.history import PriceHistory
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.pricing.unit_greeks import unit_greeks
from solvent.scenarios.risk_array import compute_risk_array

CHUNK_ACCOUNTS = 4096
COMPONENTS = ("es", "stressed_period", "floor", "buffer", "liquidity")


def buffer_fraction(overlays: Overlays, vol_ratio: float | FloatArray) -> FloatArray:
    """Buffer as a fraction of the margin: full below ``buffer_release_start``, linearly
    released to 0 at ``buffer_release_full`` (0 when the buffer overlay is off)."""
    if not overlays.buffer:
        return np.zeros_like(np.asarray(vol_ratio, dtype=np.float64))
    span = overlays.buffer_release_full - overlays.buffer_release_start
    left = np.clip((overlays.buffer_release_full - np.asarray(vol_ratio)) / span, 0.0, 1.0)
    out: FloatArray = overlays.buffer_rate * left
    return out


def combine(
    es: FloatArray,
    es_stressed: FloatArray,
    es_floor: FloatArray,
    overlays: Overlays,
    vol_ratio: float | FloatArray,
) -> dict[str, FloatArray]:
    """The ES-based components (all but liquidity) from the three blocks' signed ES (USD)."""
    base = np.maximum(es, 0.0)
    w = overlays.stressed_weight
    stressed = np.maximum(w * (np.maximum(es_stressed, 0.0) - base), 0.0)
    floor = (
        np.maximum(np.maximum(es_floor, 0.0) - base - stressed, 0.0)
        if overlays.floor
        else np.zeros_like(base)
    )
    buffer = buffer_fraction(overlays, vol_ratio) * (base + stressed + floor)
    return {"es": base, "stressed_period": stressed, "floor": floor, "buffer": buffer}


@dataclass(frozen=True, slots=True)
class FhsBookMargin:
    """Book result with the fhs-es measures per account (USD, signed where stated).

    ``es``/``var``: signed ES and VaR of the ``main`` block at ``confidence`` (loss > 0);
    ``components``: name -> per-account USD array (see the module docstring);
    ``margin``: the registry's :class:`BookMargin`.
    """

    margin: BookMargin
    es: FloatArray
    var: FloatArray
    components: dict[str, FloatArray]
    scenarios: FhsScenarios


def usd_risk_array(book: Book, market: MarketSnapshot, fhs: FhsScenarios) -> FloatArray:
    """USD P&L of 1 unit long of every book instrument in every scenario (instruments x
    scenarios): settlement-asset P&L times the settlement asset's scenario price."""
    table = market.table(list(book.instruments), "positions")
    return compute_risk_array(table, market.columns(table), fhs.scenarios).usd_pnl(market)


def _net_delta(book: Book, market: MarketSnapshot, underlying: str) -> FloatArray:
    table = market.table(list(book.instruments), "positions")
    cols = market.columns(table)
    per_unit = unit_greeks(table, cols).delta
    mine = table.underlying_code == table.underlyings.index(underlying)
    return np.asarray(book.quantities @ np.where(mine, per_unit, 0.0), dtype=np.float64)


def margin_book(
    book: Book,
    market: MarketSnapshot,
    params: FhsParams,
    *,
    history: PriceHistory | None = None,
    detail: bool = True,
    explain: bool = False,
) -> FhsBookMargin:
    """fhs-es margin of every account of ``book`` (see the module docstring). ``history``
    overrides the parameter set's history (the closes up to the day before ``market.as_of``
    are used either way)."""
    table = market.table(list(book.instruments), "positions")
    fhs = build_scenarios(table.underlyings, market.as_of, params, history)
    r_usd = usd_risk_array(book, market, fhs)
    n_acc = len(book)
    out = {name: np.zeros(n_acc) for name in ("es_main", "var_main", "es_floor", "es_stressed")}
    worst = np.zeros(n_acc, dtype=np.intp)
    tails: list[NDArray[np.intp]] = []
    conf = params.confidence
    for start in range(0, n_acc, CHUNK_ACCOUNTS):
        stop = min(start + CHUNK_ACCOUNTS, n_acc)
        losses = -np.asarray(book.quantities[start:stop] @ r_usd)
        main = losses[:, fhs.main]
        m = es_var(main, conf)
        out["es_main"][start:stop], out["var_main"][start:stop] = m.es, m.var
        if params.overlays.floor:
            out["es_floor"][start:stop] = es_var(losses[:, fhs.floor], conf).es
        if params.overlays.stressed_weight > 0:
            out["es_stressed"][start:stop] = es_var(losses[:, fhs.stressed], conf).es
        if detail:
            worst[start:stop] = np.argmax(main, axis=1)
            if explain:
                tails.append(tail_indices(main, conf))
    comps = combine(
        out["es_main"], out["es_stressed"], out["es_floor"], params.overlays, fhs.vol_ratio
    )
    comps["liquidity"] = np.zeros(n_acc)
    if params.liquidity_enabled:
        for u in table.underlyings:
            ob = market.order_books.get(u)
            if ob is not None:
                cost = close_out_cost(ob, _net_delta(book, market, u), params.unfilled_slippage)
                comps["liquidity"] += params.liquidity_factor * cost
    im = sum((comps[c] for c in COMPONENTS), np.zeros(n_acc))
    mm = params.mm_fraction * im
    details = None
    if detail:
        tail_all = np.vstack(tails) if explain else None
        measures = {"var": out["var_main"], "es": out["es_main"]}
        details = tuple(
            _account(book, a, params, fhs, r_usd, comps, im, mm, worst, tail_all, measures)
            for a in range(n_acc)
        )
    margin = BookMargin(MODEL_NAME, params.label, book.accounts, im, mm, details)
    return FhsBookMargin(margin, out["es_main"], out["var_main"], comps, fhs)


def _account(
    book: Book,
    a: int,
    params: FhsParams,
    fhs: FhsScenarios,
    r_usd: FloatArray,
    comps: dict[str, FloatArray],
    im: FloatArray,
    mm: FloatArray,
    worst: NDArray[np.intp],
    tails: NDArray[np.intp] | None,
    measures: dict[str, FloatArray],
) -> AccountMargin:
    cols_a, qty_a = book.row(a)
    s = int(worst[a])
    scen_list = None
    contrib = None
    if tails is not None:
        pnl = qty_a @ r_usd[cols_a][:, fhs.main]
        labels = fhs.scenarios.labels[fhs.main]
        scen_list = tuple((labels[j], float(pnl[j])) for j in range(len(labels)))
        tail_pnl = r_usd[cols_a][:, fhs.main][:, tails[a]].mean(axis=1)
        contrib = tuple(
            Contribution(book.instruments[c], float(q), float(q * t))
            for c, q, t in zip(cols_a, qty_a, tail_pnl, strict=True)
        )
    pool = PoolMargin(
        currency="USD",
        initial_margin=float(im[a]),
        maintenance_margin=float(mm[a]),
        components={name: float(comps[name][a]) for name in COMPONENTS},
        worst_scenario=ScenarioRef(s, fhs.scenarios.labels[s]),
        scenarios=scen_list,
        contributions=contrib,
        risk_measures={
            "confidence": params.confidence,
            **{name: float(values[a]) for name, values in measures.items()},
        },
    )
    return AccountMargin(
        book.accounts[a], MODEL_NAME, params.label, (pool,), float(im[a]), float(mm[a])
    )


def _run(
    book: Book, market: MarketSnapshot, params: str | None, detail: bool, explain: bool
) -> BookMargin:
    return margin_book(book, market, load_params(params), detail=detail, explain=explain).margin


MODEL = LegacyModel("fhs-es", "filtered historical simulation Expected Shortfall (USD pool)", _run)
