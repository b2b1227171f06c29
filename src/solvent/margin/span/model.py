"""``solvent margin --model span``: SPAN with risk arrays computed from the market.

Every held instrument gets its 16-scenario risk array by full revaluation
(:func:`~solvent.margin.span.crypto.compute_risk_arrays`, scan ranges from the ``span-crypto``
parameter set or ``--params FILE``). Each margin pool is one settlement currency; inside it, each
underlying is one combined commodity whose tiers are its expiries, with calendar spread charges
between tiers (:func:`_with_expiry_tiers`); no inter-commodity credits are defined for crypto.
Requirements are in the pool's currency.

Components (additive, pool currency): ``scan_risk``, ``intra_spread_charge``,
``inter_spread_credit`` (subtracted), ``short_option_minimum_excess`` (the amount by which the
short option minimum exceeds ``scan + intra - inter``, summed over combined commodities) and
``initial_add_on``. ``MM = scan_risk + intra_spread_charge - inter_spread_credit +
short_option_minimum_excess``; ``IM = MM + initial_add_on`` where ``initial_add_on = (m - 1) MM``
with ``m = MAINTENANCE_TO_INITIAL``.

Through the protocol: ``prepare`` computes every instrument's risk array and builds each pool's
combined commodities and tiers once per market update; ``margin`` is then :func:`span_book` on
the book's columns of each pool. ``--explain`` lists, per pool, the 16 scenarios of every held
combined commodity (P&L, pool currency) and the worst combined commodity's positions with their
P&L in its worst scenario (adding up to minus its scan risk when that is > 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.margin.build import (
    PoolArrays,
    PositionValues,
    ScenarioBlock,
    build_book_margin,
    scenario_blocks,
)
from solvent.margin.protocol import Detail, MarketData, PricedMarket, require_prepared
from solvent.margin.result import BookMargin, Composition, Explanation
from solvent.margin.span.calc import SpanBookResult, span_book
from solvent.margin.span.crypto import (
    DEFAULT_PARAMS,
    CryptoInstrumentColumns,
    SpanCryptoParameters,
    UnderlyingScan,
    compute_risk_arrays,
    load_crypto_params,
    span_parameters_from_arrays,
)
from solvent.margin.span.risk_params import (
    CombinedCommodity,
    IntraSpread,
    SpanRiskParameters,
    make_span_parameters,
)
from solvent.margin.span.scenarios import LABELS
from solvent.portfolio.book import Book

MODEL_NAME = "span"
MAINTENANCE_TO_INITIAL = 1.1
"""Initial = 110 % of maintenance: CME's long-standing ratio for speculative accounts (ours for
crypto; a SPAN.json file sets its own per combined commodity)."""
_MAINTENANCE = {
    "scan_risk": 1.0,
    "intra_spread_charge": 1.0,
    "inter_spread_credit": -1.0,
    "short_option_minimum_excess": 1.0,
}


@dataclass(frozen=True, slots=True, eq=False)
class SpanPool:
    """One settlement currency of the prepared market: its combined commodities (one per
    underlying, tiers per expiry) as SPAN risk parameters whose products are the book columns
    ``columns`` (in product order), and the currency's price in USD."""

    currency: str
    usd: float
    columns: IntArray
    span: SpanRiskParameters


@dataclass(frozen=True, slots=True, eq=False)
class SpanPrepared:
    """Everything span needs that depends on the market and not on the book: each instrument's
    16-scenario loss per 1 unit long (``loss``, instruments x 16, settlement asset, loss > 0) and
    the pools. Built once per market update by :meth:`SpanModel.prepare`."""

    instruments: tuple[str, ...]
    params: SpanCryptoParameters
    loss: FloatArray
    pools: tuple[SpanPool, ...]


@dataclass(frozen=True, slots=True)
class SpanModel:
    """``MODEL`` of this module (:class:`solvent.margin.protocol.MarginModel`)."""

    name: str = MODEL_NAME
    description: str = "SPAN scan risk with risk arrays computed from the market"
    needs: frozenset[MarketData] = frozenset({MarketData.MARKS, MarketData.VOLATILITY})

    def load_params(self, spec: str | None) -> SpanCryptoParameters:
        """The ``span-crypto`` set, or a TOML file over it (``--params FILE``)."""
        return load_crypto_params(spec or DEFAULT_PARAMS)

    def prepare(
        self, market: PricedMarket, instruments: Sequence[str], params: SpanCryptoParameters
    ) -> SpanPrepared:
        """Risk arrays of ``instruments`` and each settlement currency's combined commodities."""
        market = market.subset(instruments)
        table, cols = market.table, market.columns
        columns = CryptoInstrumentColumns(
            is_option=table.is_option,
            is_inverse=table.is_inverse,
            forward=cols.forward,
            strike=np.where(table.is_option, table.strike, cols.forward),
            time=cols.time,
            vol=np.where(table.is_option, cols.vol, 0.0),
            is_call=table.is_call,
            underlying_code=table.underlying_code,
            underlyings=table.underlyings,
        )
        arrays = compute_risk_arrays(columns, params)
        pools = []
        for s_code, pool in enumerate(table.settlement_assets):
            in_pool = table.settlement_code == s_code
            ccs = []
            order: list[int] = []
            for u_code, underlying in enumerate(table.underlyings):
                rows = np.flatnonzero(in_pool & (table.underlying_code == u_code))
                if rows.size == 0:
                    continue
                cc = span_parameters_from_arrays(
                    pool, underlying, table.names, columns, arrays, rows
                ).combined_commodities[0]
                scan = params.underlyings[underlying]
                tiers = _with_expiry_tiers(
                    cc, cols.time[rows], cols.forward[rows], table.is_inverse[rows], scan
                )
                ccs.append(tiers)
                order.extend(rows.tolist())
            if not order:
                continue
            pools.append(
                SpanPool(
                    pool,
                    float(market.settlement_usd[order[0]]),
                    np.asarray(order, dtype=np.int64),
                    make_span_parameters(pool, ccs),
                )
            )
        return SpanPrepared(tuple(instruments), params, arrays.loss, tuple(pools))

    def margin(self, prepared: SpanPrepared, book: Book, *, detail: Detail) -> BookMargin:
        """SPAN margin of every account of ``book`` (columns = ``prepared.instruments``)."""
        require_prepared(book, prepared.instruments)
        n_acc = len(book)
        im_usd = np.zeros(n_acc)
        mm_usd = np.zeros(n_acc)
        pools = []
        for pool, quantities in zip(prepared.pools, _pool_quantities(book, prepared), strict=True):
            result = span_book(pool.span, quantities)
            im_usd += result.total_initial_requirement * pool.usd
            mm_usd += result.total_requirement * pool.usd
            if detail >= Detail.ACCOUNTS:
                pools.append(_pool_arrays(book, prepared, pool, result, detail))
        return build_book_margin(
            book,
            model=MODEL_NAME,
            parameters=prepared.params.label,
            initial_margin_usd=im_usd,
            maintenance_margin_usd=mm_usd,
            pools=pools,
            detail=detail,
        )

    def composition(self, params: SpanCryptoParameters) -> Composition:
        """``MM = scan + intra - inter + SOM excess``; ``IM = MM + initial_add_on``; the
        contributions add up to the worst scenario's P&L."""
        return Composition(
            _MAINTENANCE | {"initial_add_on": 1.0},
            _MAINTENANCE,
            Explanation(worst_scenario=True),
        )


def _pool_quantities(book: Book, prepared: SpanPrepared) -> list[FloatArray | sp.csr_array]:
    """Each pool's columns of ``book`` (accounts x the pool's products, in product order): a
    dense vector for a one-account book (:func:`span_book` then sums its non-zeros in column
    order, as the sparse product does), else a csr matrix."""
    if len(book) == 1:
        row = book.quantities.toarray().reshape(-1)
        return [row[pool.columns] for pool in prepared.pools]
    q_csc = book.quantities.tocsc()
    return [sp.csr_array(q_csc[:, pool.columns]) for pool in prepared.pools]


def _with_expiry_tiers(
    cc: CombinedCommodity,
    time: FloatArray,
    forward: FloatArray,
    inverse: BoolArray,
    scan: UnderlyingScan,
) -> CombinedCommodity:
    """The combined commodity with one tier per expiry (delta-1 contracts without expiry and
    spot in tier 1) and a calendar spread charge between every pair of tiers, adjacent tiers
    first: per 1 coin of delta spread, ``max(intra_spread_min, intra_spread_per_year * gap in
    years)`` of the forward (coin for an inverse pool, USD for a linear one)."""
    expiries, tier_of = np.unique(np.round(time, 10), return_inverse=True)
    products = tuple(replace(p, tier=int(tier_of[i]) + 1) for i, p in enumerate(cc.products))
    unit = 1.0 if bool(inverse.all()) else float(np.median(forward))
    pairs = sorted(
        ((a, b) for a in range(expiries.size) for b in range(a + 1, expiries.size)),
        key=lambda ab: (ab[1] - ab[0], ab[0]),
    )
    spreads = tuple(
        IntraSpread(
            a + 1,
            b + 1,
            unit
            * max(scan.intra_spread_min, scan.intra_spread_per_year * (expiries[b] - expiries[a])),
        )
        for a, b in pairs
        if scan.intra_spread_min > 0 or scan.intra_spread_per_year > 0
    )
    return CombinedCommodity(cc.code, products, spreads, MAINTENANCE_TO_INITIAL)


def _pool_arrays(
    book: Book,
    prepared: SpanPrepared,
    pool: SpanPool,
    res: SpanBookResult,
    detail: Detail,
) -> PoolArrays:
    """One pool's result over every account. The worst scenario shown is the worst one of the
    held combined commodity with the largest scan risk (the first such on ties)."""
    net = res.scan_risk + res.intra_spread_charge - res.inter_spread_credit
    som_excess = np.maximum(res.requirement - net, 0.0) * res.held
    mm = res.requirement.sum(axis=1)
    im = res.initial_requirement.sum(axis=1)
    n_acc = len(book)
    rows = np.arange(n_acc)
    worst_cc = np.argmax(np.where(res.held, res.scan_risk, -np.inf), axis=1)
    worst_s = res.worst_scenario[rows, worst_cc] if res.held.shape[1] else np.zeros(n_acc, int)
    explain = detail >= Detail.EXPLAIN
    blocks = [
        ScenarioBlock(
            tuple(f"{cc.code} {label}" for label in LABELS),
            -res.scenario_losses[:, k, :] if explain else None,
            res.held[:, k],
        )
        for k, cc in enumerate(res.params.combined_commodities)
    ]
    worst, scenarios = scenario_blocks(blocks, worst_cc, worst_s, explain=explain)
    contributions = None
    if explain:
        q = book.quantities
        row = np.repeat(rows, np.diff(q.indptr))
        cc_of_column = np.full(len(book.instruments), -1, dtype=np.int64)
        cc_of_column[pool.columns] = res.params.table.cc_index
        cc = cc_of_column[q.indices]
        s = worst_s[row]
        contributions = PositionValues(
            -q.data * prepared.loss[q.indices, s],
            include=(cc >= 0) & (cc == worst_cc[row]),
        )
    return PoolArrays(
        currency=pool.currency,
        initial_margin=im,
        maintenance_margin=mm,
        components={
            "scan_risk": res.scan_risk.sum(axis=1),
            "intra_spread_charge": res.intra_spread_charge.sum(axis=1),
            "inter_spread_credit": res.inter_spread_credit.sum(axis=1),
            "short_option_minimum_excess": som_excess.sum(axis=1),
            "initial_add_on": im - mm,
        },
        held=np.asarray(res.held.any(axis=1), dtype=np.bool_),
        worst=worst,
        scenarios=scenarios,
        contributions=contributions,
    )


MODEL = SpanModel()
