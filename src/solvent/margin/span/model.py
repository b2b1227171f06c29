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
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from solvent.margin.protocol import LegacyModel
from solvent.margin.result import AccountMargin, BookMargin, Contribution, PoolMargin, ScenarioRef
from solvent.margin.span.calc import SpanBookResult, span_book
from solvent.margin.span.crypto import (
    DEFAULT_PARAMS,
    CryptoInstrumentColumns,
    UnderlyingScan,
    compute_risk_arrays,
    load_crypto_params,
    span_parameters_from_arrays,
)
from solvent.margin.span.risk_params import (
    CombinedCommodity,
    IntraSpread,
    make_span_parameters,
)
from solvent.margin.span.scenarios import LABELS
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

MODEL_NAME = "span"
MAINTENANCE_TO_INITIAL = 1.1
"""Initial = 110 % of maintenance: CME's long-standing ratio for speculative accounts (ours for
crypto; a SPAN.json file sets its own per combined commodity)."""


def margin_book(
    book: Book,
    market: MarketSnapshot,
    params: str | None = None,
    detail: bool = True,
    explain: bool = False,
) -> BookMargin:
    """SPAN margin of every account of ``book`` with risk arrays computed from ``market``."""
    crypto = load_crypto_params(params or DEFAULT_PARAMS)
    table = market.table(book.instruments, "positions")
    cols = market.columns(table)
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
    arrays = compute_risk_arrays(columns, crypto)
    q_csc = book.quantities.tocsc()
    n_acc = len(book)
    im_usd = np.zeros(n_acc)
    mm_usd = np.zeros(n_acc)
    pool_results: list[tuple[str, NDArray[np.intp], SpanBookResult, NDArray[np.bool_]]] = []
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
            scan = crypto.underlyings[underlying]
            tiers = _with_expiry_tiers(
                cc, cols.time[rows], cols.forward[rows], table.is_inverse[rows], scan
            )
            ccs.append(tiers)
            order.extend(rows.tolist())
        params_pool = make_span_parameters(pool, ccs)
        cols_idx = np.asarray(order, dtype=np.intp)
        quantities = sp.csr_array(q_csc[:, cols_idx])
        result = span_book(params_pool, quantities)
        px = market.price_usd(pool, "settlement_asset")
        im_usd += result.total_initial_requirement * px
        mm_usd += result.total_requirement * px
        pool_results.append((pool, cols_idx, result, np.asarray(result.held.any(axis=1))))
    details = None
    if detail:
        details = tuple(
            AccountMargin(
                book.accounts[a],
                MODEL_NAME,
                crypto.label,
                tuple(
                    _pool(book, a, pool, cols_idx, res, arrays.loss, explain)
                    for pool, cols_idx, res, held in pool_results
                    if held[a]
                ),
                float(im_usd[a]),
                float(mm_usd[a]),
            )
            for a in range(n_acc)
        )
    return BookMargin(MODEL_NAME, crypto.label, book.accounts, im_usd, mm_usd, details)


def _with_expiry_tiers(
    cc: CombinedCommodity,
    time: NDArray[np.float64],
    forward: NDArray[np.float64],
    inverse: NDArray[np.bool_],
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


def _pool(
    book: Book,
    a: int,
    pool: str,
    cols_idx: np.ndarray,
    res: SpanBookResult,
    loss: np.ndarray,
    explain: bool,
) -> PoolMargin:
    net = res.scan_risk[a] + res.intra_spread_charge[a] - res.inter_spread_credit[a]
    som_excess = np.maximum(res.requirement[a] - net, 0.0) * res.held[a]
    mm = float(res.requirement[a].sum())
    im = float(res.initial_requirement[a].sum())
    worst_cc = int(np.argmax(res.scan_risk[a]))
    s = int(res.worst_scenario[a, worst_cc])
    code = res.params.combined_commodities[worst_cc].code
    scenarios = None
    contributions = None
    if explain:
        scenarios = tuple(
            (f"{cc.code} {LABELS[j]}", float(-res.scenario_losses[a, k, j]))
            for k, cc in enumerate(res.params.combined_commodities)
            if res.held[a, k]
            for j in range(len(LABELS))
        )
        cols_a, qty_a = book.row(a)
        in_cc = set(cols_idx[res.params.table.cc_index == worst_cc].tolist())
        contributions = tuple(
            Contribution(book.instruments[c], float(q), pnl=float(-q * loss[c, s]))
            for c, q in zip(cols_a, qty_a, strict=True)
            if int(c) in in_cc
        )
    return PoolMargin(
        currency=pool,
        initial_margin=im,
        maintenance_margin=mm,
        components={
            "scan_risk": float(res.scan_risk[a].sum()),
            "intra_spread_charge": float(res.intra_spread_charge[a].sum()),
            "inter_spread_credit": float(res.inter_spread_credit[a].sum()),
            "short_option_minimum_excess": float(som_excess.sum()),
            "initial_add_on": im - mm,
        },
        worst_scenario=ScenarioRef(s, f"{code} {LABELS[s]}"),
        scenarios=scenarios,
        contributions=contributions,
    )


MODEL = LegacyModel(
    MODEL_NAME,
    "SPAN scan risk with risk arrays computed from the market",
    lambda book, market, params, detail, explain: margin_book(
        book, market, params, detail, explain
    ),
)
