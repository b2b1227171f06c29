"""``fhs-es``: filtered historical simulation Expected Shortfall over a whole book (USD pool).

Three phases (:mod:`solvent.margin.protocol`): :meth:`FhsModel.prepare` builds the scenarios and
the USD risk array once per market update (steps 1-2); :meth:`FhsModel.margin` reduces any book
against them (steps 3-5). For every account at once (docs/methodology/fhs-es.md):

1. Scenarios (:mod:`.scenarios`): the joint filtered h-day moves of the book's underlyings at
   today's EWMA vol (``main``), the same at the long-run vol (``floor``), and the raw moves of
   the stressed window (``stressed``), with vol shocks from a vol beta or an implied-vol history.
2. One risk array prices every instrument in every scenario (full revaluation); coin P&L is
   converted to USD at the scenario's price of the settlement coin
   (``R_usd[i, s] = pnl[i, s] * price(settle_i) * (1 + move_s(settle_i))``).
3. Account P&L ``P = Q @ R_usd`` (accounts x scenarios, USD), in blocks of accounts; losses
   ``L = -P``. ``ES`` and ``VaR`` at ``confidence`` over ``main`` (:mod:`.tail`).
4. Requirement (USD, each part >= 0; these are the ``components``, :mod:`.overlays`)::

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

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.margin.build import (
    PoolArrays,
    PositionValues,
    ScenarioBlock,
    build_book_margin,
    scenario_blocks,
)
from solvent.margin.fhs_es.backtest import unit_margins
from solvent.margin.fhs_es.liquidity import close_out_cost
from solvent.margin.fhs_es.moved import FhsMover
from solvent.margin.fhs_es.overlays import COMPONENTS, OVERLAY_VARIANTS, combine
from solvent.margin.fhs_es.params import MODEL_NAME, FhsParams, load_params
from solvent.margin.fhs_es.prepared import FhsPrepared, prepare
from solvent.margin.fhs_es.scenarios import FhsScenarios
from solvent.margin.protocol import (
    BacktestMargins,
    Detail,
    MarketData,
    PricedMarket,
    UnitBacktest,
    require_prepared,
)
from solvent.margin.result import BookMargin, Composition, Explanation
from solvent.market.history import PriceHistory
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.riskstats.tail import es_var, tail_count, tail_indices

CHUNK_ACCOUNTS = 4096


@dataclass(frozen=True, slots=True)
class FhsBookMargin:
    """Book result with the fhs-es measures per account (USD, signed where stated).

    ``es``/``var``: signed ES and VaR of the ``main`` block at ``confidence`` (loss > 0);
    ``components``: name -> per-account USD array (see the module docstring);
    ``margin``: the protocol's :class:`BookMargin`.
    """

    margin: BookMargin
    es: FloatArray
    var: FloatArray
    components: dict[str, FloatArray]
    scenarios: FhsScenarios


def book_margin(prepared: FhsPrepared, book: Book, detail: Detail) -> FhsBookMargin:
    """fhs-es margin of every account of ``book`` (steps 3-5 of the module docstring)."""
    require_prepared(book, prepared.instruments)
    params, fhs = prepared.params, prepared.scenarios
    n_acc = len(book)
    out = {name: np.zeros(n_acc) for name in ("es_main", "var_main", "es_floor", "es_stressed")}
    worst = np.zeros(n_acc, dtype=np.intp)
    explain = detail >= Detail.EXPLAIN
    n_main = fhs.main.stop - fhs.main.start
    pnl_main = np.zeros((n_acc, n_main)) if explain else None
    tails = np.zeros((n_acc, tail_count(n_main, params.confidence) if explain else 0), np.intp)
    conf = params.confidence
    for start in range(0, n_acc, CHUNK_ACCOUNTS):
        stop = min(start + CHUNK_ACCOUNTS, n_acc)
        chunk = book.quantities if stop - start == n_acc else book.quantities[start:stop]
        losses = -np.asarray(chunk @ prepared.r_eval)
        main = losses[:, prepared.blocks["main"]]
        m = es_var(main, conf)
        out["es_main"][start:stop], out["var_main"][start:stop] = m.es, m.var
        if params.overlays.floor:
            out["es_floor"][start:stop] = es_var(losses[:, prepared.blocks["floor"]], conf).es
        if params.overlays.stressed_weight > 0:
            stressed = losses[:, prepared.blocks["stressed"]]
            out["es_stressed"][start:stop] = es_var(stressed, conf).es
        if detail >= Detail.ACCOUNTS:
            worst[start:stop] = np.argmax(main, axis=1)
        if pnl_main is not None:
            pnl_main[start:stop] = -main
            tails[start:stop] = tail_indices(main, conf)
    comps = combine(
        out["es_main"], out["es_stressed"], out["es_floor"], params.overlays, fhs.vol_ratio
    )
    comps["liquidity"] = np.zeros(n_acc)
    for ob, delta in prepared.liquidity:
        net = np.asarray(book.quantities @ delta, dtype=np.float64)
        comps["liquidity"] += params.liquidity_factor * close_out_cost(
            ob, net, params.unfilled_slippage
        )
    im = sum((comps[c] for c in COMPONENTS), np.zeros(n_acc))
    mm = params.mm_fraction * im
    pools = []
    if detail >= Detail.ACCOUNTS:
        # A flat account has no pool, as under every other model (and so no worst scenario,
        # which would otherwise depend on the scenario set the rest of the book brings).
        held = np.asarray(abs(book.quantities).sum(axis=1)).ravel() > 0
        labels = fhs.scenarios.labels[fhs.main]
        worst_ref, scenarios = scenario_blocks(
            [ScenarioBlock(labels, pnl_main)],
            np.zeros(n_acc, dtype=np.intp),
            worst,
            explain=explain,
        )
        contributions = None
        if explain:
            r_main = prepared.r_eval[:, prepared.blocks["main"]]
            contributions = PositionValues(_tail_pnl(book, r_main, tails))
        pools.append(
            PoolArrays(
                "USD",
                im,
                mm,
                {name: comps[name] for name in COMPONENTS},
                held=held,
                worst=worst_ref,
                scenarios=scenarios,
                contributions=contributions,
                risk_measures={"confidence": conf, "var": out["var_main"], "es": out["es_main"]},
            )
        )
    margin = build_book_margin(
        book,
        model=MODEL_NAME,
        parameters=params.label,
        initial_margin_usd=im,
        maintenance_margin_usd=mm,
        pools=pools,
        detail=detail,
    )
    return FhsBookMargin(margin, out["es_main"], out["var_main"], comps, fhs)


def _tail_pnl(book: Book, r_main: FloatArray, tails: NDArray[np.intp]) -> FloatArray:
    """Each stored position's USD P&L averaged over its account's tail scenarios (CSR order):
    ``q * mean(r_main[instrument, tails[account]])``; an account's values add up to ``-ES``."""
    q = book.quantities
    row = np.repeat(np.arange(len(book)), np.diff(q.indptr))
    values: FloatArray = q.data * r_main[q.indices[:, None], tails[row]].mean(axis=1)
    return values


def margin_book(
    book: Book,
    market: MarketSnapshot,
    params: FhsParams,
    *,
    history: PriceHistory | None = None,
    detail: Detail = Detail.ACCOUNTS,
) -> FhsBookMargin:
    """One-shot fhs-es margin of ``book`` with its measures: resolve, :func:`prepare` (with an
    optional ``history`` override), :func:`book_margin`."""
    priced = PricedMarket.resolve(market, book.instruments)
    prepared = prepare(priced, book.instruments, params, history=history)
    return book_margin(prepared, book, detail)


@dataclass(frozen=True, slots=True)
class FhsModel:
    """``fhs-es`` through the model protocol, with the backtest capability."""

    name: str = MODEL_NAME
    description: str = "filtered historical simulation Expected Shortfall (USD pool)"
    needs: frozenset[MarketData] = frozenset(
        {MarketData.MARKS, MarketData.VOLATILITY, MarketData.INDEX, MarketData.ORDER_BOOKS}
        | {MarketData.PRICE_HISTORY}
    )

    def load_params(self, spec: str | None) -> FhsParams:
        return load_params(spec)

    def prepare(
        self, market: PricedMarket, instruments: Sequence[str], params: FhsParams
    ) -> FhsPrepared:
        return prepare(market, instruments, params)

    def margin(self, prepared: FhsPrepared, book: Book, *, detail: Detail) -> BookMargin:
        return book_margin(prepared, book, detail).margin

    def mover(self, prepared: FhsPrepared, market: PricedMarket, underlying: str) -> FhsMover:
        """:class:`~solvent.margin.protocol.MoveCapable`: :class:`.moved.FhsMover`."""
        return FhsMover.build(prepared, market, underlying)

    def composition(self, params: FhsParams) -> Composition:
        """``IM`` = the sum of the components, ``MM = mm_fraction * IM``; the contributions add
        up to ``-ES_main`` (the ``es`` component when the ES is a loss)."""
        return Composition.scaled(
            dict.fromkeys(COMPONENTS, 1.0),
            params.mm_fraction,
            Explanation(components={"es": -1.0}),
        )

    def backtest(
        self, params: FhsParams, request: UnitBacktest, *, variants: bool
    ) -> BacktestMargins:
        """The closed path of :mod:`.backtest` with ``mpor_days = horizon_days``; the
        variants are :data:`~.overlays.OVERLAY_VARIANTS`."""
        fhs = replace(params, mpor_days=request.horizon_days)
        closes, q, days = request.closes, request.quantity, request.days
        named = {}
        if variants:
            named = {
                name: unit_margins(fhs.with_overlays(ovl), closes, q, days)
                for name, ovl in OVERLAY_VARIANTS.items()
            }
        return BacktestMargins(fhs.label, unit_margins(fhs, closes, q, days), named)


MODEL = FhsModel()
