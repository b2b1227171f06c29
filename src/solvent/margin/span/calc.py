"""The SPAN requirement from supplied risk arrays, for one portfolio or a whole book at once.

All amounts are in the risk parameter file's currency; requirements are positive numbers. The
computation is vectorized over accounts (a book is a sparse accounts x products matrix; one
portfolio is the one-row case); the only Python loops run over the file's spread definitions.

Per combined commodity (CC), for each account:

1. **Scan risk**: the position-weighted sum of the products' risk arrays gives the CC's loss in
   each of the 16 scenarios; scan risk is the largest loss, or 0 when every scenario is a gain.
   Scenarios 15/16 already hold their 35 % cover (docs/formats.md 6).
2. **Time risk**: the average of the CC's losses in scenarios 1 and 2 (price unchanged, vol
   up/down); **price risk** = max(scan risk - time risk, 0).
3. **Intra-commodity spread charge**: net composite delta per tier (sum of quantity x delta); the
   file's tier spreads, in the order listed, each form ``min(|delta_a|, |delta_b|)`` spreads when
   the two tiers' remaining deltas have opposite signs (either way round), consume that much
   delta from both tiers, and charge ``charge`` per spread formed.
4. **Inter-commodity spread credit**: from the CCs' net deltas (intra spreads leave a CC's net
   delta unchanged), the inter spreads in ascending ``priority`` (ties in file order) each form
   ``n = min over legs of |remaining delta| / delta_ratio`` spreads, provided side-A legs hold
   deltas of one sign and side-B legs the opposite sign; each leg consumes ``n x delta_ratio``
   delta and earns ``n x delta_ratio x WPR x credit_rate`` for its CC, where the weighted price
   risk ``WPR = price risk / |net delta|`` (the CC's original net delta; WPR = 0 when it is 0).
5. **Short option minimum**: sum over short option positions of ``|quantity| x
   short_option_minimum``.
6. **Requirement** (maintenance) = ``max(scan + intra - inter, SOM)``; **initial** = requirement x
   ``maintenance_to_initial``. The portfolio's requirements are the sums over CCs.

**Net option value** (reported, not deducted): sum over option positions of quantity x price
(long positive, short negative), defined only when every held option has a price in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.margin.span.risk_params import LegSide, SpanRiskParameters
from solvent.margin.span.scenarios import LABELS, N_SCENARIOS, TIME_RISK_SCENARIOS

#: Remaining deltas within this (relative) distance of zero after a spread are set to zero, so
#: rounding never leaves a phantom sliver of delta to form further spreads.
_DELTA_SNAP = 1e-12


@dataclass(frozen=True, slots=True, eq=False)
class SpanBookResult:
    """Every component for every account (rows) and combined commodity (columns).

    Arrays are ``(accounts, combined commodities)`` unless stated; ``scenario_losses`` is
    ``(accounts, combined commodities, 16)``. ``held`` marks the CCs in which an account holds a
    non-zero position. ``net_option_value`` is NaN where a held option has no price.
    """

    params: SpanRiskParameters
    scenario_losses: FloatArray
    scan_risk: FloatArray
    worst_scenario: NDArray[np.intp]
    time_risk: FloatArray
    price_risk: FloatArray
    net_delta: FloatArray
    weighted_price_risk: FloatArray
    intra_spread_charge: FloatArray
    inter_spread_credit: FloatArray
    short_option_minimum: FloatArray
    requirement: FloatArray
    initial_requirement: FloatArray
    net_option_value: FloatArray
    held: NDArray[np.bool_]

    @property
    def total_requirement(self) -> FloatArray:
        """Maintenance requirement per account (sum over CCs)."""
        return np.asarray(self.requirement.sum(axis=1), dtype=np.float64)

    @property
    def total_initial_requirement(self) -> FloatArray:
        """Initial requirement per account (sum over CCs)."""
        return np.asarray(self.initial_requirement.sum(axis=1), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class CombinedCommodityResult:
    """One CC's components, in the file's currency (positive = requirement / credit)."""

    code: str
    scan_risk: float
    intra_spread_charge: float
    inter_spread_credit: float
    short_option_minimum: float
    requirement: float  # maintenance: max(scan + intra - inter, SOM)
    initial_requirement: float  # requirement x maintenance_to_initial
    time_risk: float
    price_risk: float
    net_delta: float
    weighted_price_risk: float
    worst_scenario: int  # 0-based index (CME scenario number - 1)
    worst_scenario_label: str
    scenario_losses: tuple[float, ...]
    net_option_value: float | None


@dataclass(frozen=True, slots=True)
class SpanResult:
    """The SPAN requirement of one portfolio: per held CC (file order) and in total."""

    currency: str
    combined_commodities: tuple[CombinedCommodityResult, ...]
    requirement: float
    initial_requirement: float
    net_option_value: float | None


DENSE_CELLS = 1 << 16
"""Largest ``products x columns`` map built as a dense array (below it, building a sparse matrix
costs more than the product: the one-account books a liquidation-price search re-margins)."""


def _column_matrix(
    rows: NDArray[np.intp], cols: NDArray[np.intp], data: FloatArray, shape: tuple[int, int]
) -> sp.csr_array | FloatArray:
    """The ``shape`` map with ``data`` at ``(rows, cols)`` (each cell at most once), dense when
    it has at most :data:`DENSE_CELLS` cells, else sparse: ``book @`` it is the same sum."""
    if shape[0] * shape[1] <= DENSE_CELLS:
        dense = np.zeros(shape, dtype=np.float64)
        dense[rows, cols] = data
        return dense
    return sp.csr_array((data, (rows, cols)), shape=shape)


def _as_book(quantities: FloatArray | sp.csr_array, n_products: int) -> sp.csr_array:
    """A csr book (accounts x products) from a sparse matrix, a 2-D array or a 1-D vector."""
    if isinstance(quantities, sp.csr_array):
        book = quantities.astype(np.float64)
    else:
        dense = np.asarray(quantities, dtype=np.float64)
        if dense.ndim == 1:
            dense = dense[np.newaxis, :]
        book = sp.csr_array(dense)
    if book.shape[1] != n_products:
        raise ValueError(f"quantities have {book.shape[1]} columns, the file {n_products} products")
    return book


class _BookProducts:
    """A book (accounts x products, signed) times the product maps of :func:`span_book`, as
    dense (accounts x columns) arrays: ``signed(m) = Q @ m``, ``short(m) = max(-Q, 0) @ m``
    (short quantities), ``magnitude(m) = |Q| @ m``."""

    def __init__(self, book: sp.csr_array) -> None:
        self.book = book
        self.accounts = int(book.shape[0])
        self._magnitude: sp.csr_array | None = None

    def signed(self, m: Any) -> FloatArray:
        return _dense(self.book @ m)

    def short(self, m: Any) -> FloatArray:
        return _dense(-(self.book.minimum(0.0)) @ m)

    def magnitude(self, m: Any) -> FloatArray:
        if self._magnitude is None:
            self._magnitude = abs(self.book)
        return _dense(self._magnitude @ m)


class _RowProducts(_BookProducts):
    """:class:`_BookProducts` of a one-account book, given its stored ``(column, quantity)``
    pairs in storage order: each product is the sum scipy's sparse product computes, term by
    term in the same order (``out += q_j * m[j]``), so the same figures bit for bit, without
    building a sparse matrix per product (a liquidation-price search margins one account
    dozens of times)."""

    def __init__(self, columns: list[int], quantities: list[float]) -> None:
        self.accounts = 1
        self.columns, self.quantities = columns, quantities

    def _sum(self, pairs: list[tuple[int, float]], m: Any) -> FloatArray:
        rows = m if isinstance(m, np.ndarray) else np.asarray(m.toarray())
        out = np.zeros(rows.shape[1], dtype=np.float64)
        for j, q in pairs:
            out += q * rows[j]
        return out.reshape(1, rows.shape[1])

    def signed(self, m: Any) -> FloatArray:
        return self._sum(list(zip(self.columns, self.quantities, strict=True)), m)

    def short(self, m: Any) -> FloatArray:
        # scipy's ``minimum(0.0)`` keeps the negative entries only
        pairs = zip(self.columns, self.quantities, strict=True)
        return self._sum([(j, -q) for j, q in pairs if q < 0.0], m)

    def magnitude(self, m: Any) -> FloatArray:
        return self._sum(
            [(j, abs(q)) for j, q in zip(self.columns, self.quantities, strict=True)], m
        )


def _products(quantities: FloatArray | sp.csr_array, n_products: int) -> _BookProducts:
    """The products of ``quantities`` (a csr book, a 2-D array or a 1-D vector): a
    :class:`_RowProducts` for one account, else scipy's sparse products."""
    if isinstance(quantities, sp.csr_array):
        if quantities.shape[1] != n_products:
            raise ValueError(
                f"quantities have {quantities.shape[1]} columns, the file {n_products} products"
            )
        if quantities.shape[0] == 1:
            data = np.asarray(quantities.data, dtype=np.float64)
            return _RowProducts(quantities.indices.tolist(), data.tolist())
        return _BookProducts(_as_book(quantities, n_products))
    dense = np.asarray(quantities, dtype=np.float64)
    if dense.ndim == 1 or dense.shape[0] == 1:
        row = dense.reshape(-1)
        if row.size != n_products:
            raise ValueError(f"quantities have {row.size} columns, the file {n_products} products")
        stored = np.flatnonzero(row)  # sp.csr_array(dense) stores the non-zeros, in order
        return _RowProducts(stored.tolist(), row[stored].tolist())
    return _BookProducts(_as_book(dense, n_products))


def _dense(x: Any) -> FloatArray:
    """A book times a map (:func:`_column_matrix`: dense or sparse) as a dense float array."""
    if isinstance(x, np.ndarray):
        return np.asarray(x, dtype=np.float64)
    return np.asarray(x.toarray(), dtype=np.float64)


def span_book(params: SpanRiskParameters, quantities: FloatArray | sp.csr_array) -> SpanBookResult:
    """SPAN components for every account of ``quantities`` (accounts x products, signed).

    A 1-D vector is one account; pass a ``scipy.sparse.csr_array`` for a large book. Columns
    follow ``params.table`` (file order).
    """
    t = params.table
    n_p = len(t.names)
    n_c = len(params.combined_commodities)
    book = _products(quantities, n_p)
    n_a = book.accounts
    prod = np.arange(n_p, dtype=np.intp)

    # 1. scenario losses per CC: Q @ (P x C*16 block matrix of risk arrays)
    ra_rows = np.repeat(prod, N_SCENARIOS)
    ra_cols = (t.cc_index[:, None] * N_SCENARIOS + np.arange(N_SCENARIOS)).ravel()
    blocks = _column_matrix(ra_rows, ra_cols, t.risk_arrays.ravel(), (n_p, n_c * N_SCENARIOS))
    losses = book.signed(blocks).reshape(n_a, n_c, N_SCENARIOS)
    worst = np.argmax(losses, axis=2) if n_c else np.zeros((n_a, 0), dtype=np.intp)
    scan = np.maximum(losses.max(axis=2, initial=0.0), 0.0)
    time_risk = losses[:, :, list(TIME_RISK_SCENARIOS)].mean(axis=2)
    price_risk = np.maximum(scan - time_risk, 0.0)

    # deltas per CC and per (CC, tier) group
    net_delta = book.signed(_column_matrix(prod, t.cc_index, t.delta, (n_p, n_c)))
    n_g = len(t.tier_groups)
    tier_delta = book.signed(_column_matrix(prod, t.tier_group, t.delta, (n_p, n_g)))

    # 3. intra-commodity (tier) spreads, in the file's order
    intra = _intra_spread_charges(params, tier_delta, n_c)

    # 4. inter-commodity spreads, by priority (stable: ties keep file order)
    abs_delta = np.abs(net_delta)
    wpr = np.divide(price_risk, abs_delta, out=np.zeros_like(price_risk), where=abs_delta > 0.0)
    remaining = net_delta.copy()
    inter = np.zeros((n_a, n_c))
    for inter_spread in sorted(params.inter_spreads, key=lambda s: s.priority):
        legs = inter_spread.legs
        idx = np.array([params.cc_position(leg.cc) for leg in legs], dtype=np.intp)
        ratio = np.array([leg.delta_ratio for leg in legs])
        side = np.array([1.0 if leg.side is LegSide.A else -1.0 for leg in legs])
        default_rate = inter_spread.credit_rate
        rate = np.array(
            [default_rate if leg.credit_rate is None else leg.credit_rate for leg in legs]
        )
        d = remaining[:, idx]
        signed = d * side
        aligned = np.all(signed > 0.0, axis=1) | np.all(signed < 0.0, axis=1)
        n = np.where(aligned, np.min(np.abs(d) / ratio, axis=1), 0.0)
        used = n[:, None] * ratio
        remaining[:, idx] = _consume(d, used)
        inter[:, idx] += used * wpr[:, idx] * rate

    # 5. short option minimum: short option quantities x rate
    som_rate = np.where(t.is_option, t.short_option_minimum, 0.0)
    som = book.short(_column_matrix(prod, t.cc_index, som_rate, (n_p, n_c)))

    # 6. requirement per CC (maintenance), initial via the CC's ratio
    requirement = np.maximum(scan + intra - inter, som)
    m2i = np.array([cc.maintenance_to_initial for cc in params.combined_commodities])
    initial = requirement * m2i

    # held CCs, net option value
    held = book.magnitude(_column_matrix(prod, t.cc_index, np.ones(n_p), (n_p, n_c))) > 0.0
    priced = np.where(t.is_option, np.nan_to_num(t.price, nan=0.0), 0.0)
    nov = book.signed(_column_matrix(prod, t.cc_index, priced, (n_p, n_c)))
    unpriced = (t.is_option & np.isnan(t.price)).astype(np.float64)
    missing = book.magnitude(_column_matrix(prod, t.cc_index, unpriced, (n_p, n_c))) > 0.0
    nov = np.where(missing, np.nan, nov)

    return SpanBookResult(
        params=params,
        scenario_losses=losses,
        scan_risk=scan,
        worst_scenario=np.asarray(worst, dtype=np.intp),
        time_risk=time_risk,
        price_risk=price_risk,
        net_delta=net_delta,
        weighted_price_risk=wpr,
        intra_spread_charge=intra,
        inter_spread_credit=inter,
        short_option_minimum=som,
        requirement=requirement,
        initial_requirement=initial,
        net_option_value=nov,
        held=held,
    )


def _intra_spread_charges(
    params: SpanRiskParameters, tier_delta: FloatArray, n_c: int
) -> FloatArray:
    """Step 3: each account's intra-commodity spread charge per CC (accounts x CCs) from its
    net delta per (CC, tier) group (accounts x groups)."""
    t = params.table
    group_id = {g: i for i, g in enumerate(t.tier_groups)}
    pairs = [
        (c, ga, gb, spread.charge)
        for c, cc in enumerate(params.combined_commodities)
        for spread in cc.intra_spreads
        if (ga := group_id.get((c, spread.tier_a))) is not None
        and (gb := group_id.get((c, spread.tier_b))) is not None
    ]  # a spread with no product in one of its tiers never forms
    if tier_delta.shape[0] == 1:
        return _intra_one_account(pairs, tier_delta[0].tolist(), n_c)
    # A spread forms only in accounts holding both tiers, and deltas only shrink, so each
    # spread visits just those rows (and any rounding dust the first spread of a tier snaps
    # to 0).
    n_a = tier_delta.shape[0]
    td = np.ascontiguousarray(tier_delta.T)  # (groups, accounts)
    held: NDArray[np.bool_] = np.asarray(td != 0.0)
    dust = _dust(td)
    has_dust: NDArray[np.bool_] = np.asarray(dust.any(axis=1))
    intra = np.zeros((n_a, n_c))
    for c, ga, gb, charge in pairs:
        candidates = held[ga] & held[gb]
        if has_dust[ga] or has_dust[gb]:
            candidates |= dust[ga] | dust[gb]
        rows = np.flatnonzero(candidates)
        a, b = td[ga, rows], td[gb, rows]
        n = np.where(a * b < 0.0, np.minimum(np.abs(a), np.abs(b)), 0.0)
        td[ga, rows] = _consume(a, n)
        td[gb, rows] = _consume(b, n)
        intra[rows, c] += n * charge
    return intra


def _intra_one_account(
    pairs: list[tuple[int, int, int, float]], delta: list[float], n_c: int
) -> FloatArray:
    """:func:`_intra_spread_charges` of a one-account book (``delta``: its net delta per
    group), in Python floats: the same IEEE double operations in the same order as the
    vectorized loop, so the same figures bit for bit, without its per-spread array overhead
    (a liquidation-price search margins one account dozens of times)."""
    held = [d != 0.0 for d in delta]
    dust = [d != 0.0 and abs(d) <= _DELTA_SNAP for d in delta]
    charge = [0.0] * n_c
    for c, ga, gb, rate in pairs:
        if not (held[ga] and held[gb]) and not (dust[ga] or dust[gb]):
            continue
        a, b = delta[ga], delta[gb]
        n = min(abs(a), abs(b)) if a * b < 0.0 else 0.0
        delta[ga] = _consume_one(a, n)
        delta[gb] = _consume_one(b, n)
        charge[c] += n * rate
    return np.array([charge], dtype=np.float64).reshape(1, n_c)


def _consume_one(delta: float, used: float) -> float:
    """:func:`_consume` of one delta."""
    sign = (delta > 0.0) - (delta < 0.0)
    out = delta - sign * used
    return 0.0 if abs(out) <= _DELTA_SNAP * max(abs(delta), 1.0) else out


def _dust(delta: FloatArray) -> NDArray[np.bool_]:
    """Where :func:`_consume` with nothing used would still change ``delta`` (snap it to 0)."""
    out: NDArray[np.bool_] = (delta != 0.0) & (np.abs(delta) <= _DELTA_SNAP)
    return out


def _consume(delta: FloatArray, used: FloatArray) -> FloatArray:
    """``delta`` moved towards zero by ``used`` (>= 0, <= |delta|), snapping rounding dust."""
    out = delta - np.sign(delta) * used
    return np.where(np.abs(out) <= _DELTA_SNAP * np.maximum(np.abs(delta), 1.0), 0.0, out)


def account_result(book: SpanBookResult, row: int = 0) -> SpanResult:
    """The :class:`SpanResult` of one account (row) of a book result; held CCs only."""
    params = book.params
    ccs: list[CombinedCommodityResult] = []
    for c, cc in enumerate(params.combined_commodities):
        if not book.held[row, c]:
            continue
        nov = float(book.net_option_value[row, c])
        worst = int(book.worst_scenario[row, c])
        ccs.append(
            CombinedCommodityResult(
                code=cc.code,
                scan_risk=float(book.scan_risk[row, c]),
                intra_spread_charge=float(book.intra_spread_charge[row, c]),
                inter_spread_credit=float(book.inter_spread_credit[row, c]),
                short_option_minimum=float(book.short_option_minimum[row, c]),
                requirement=float(book.requirement[row, c]),
                initial_requirement=float(book.initial_requirement[row, c]),
                time_risk=float(book.time_risk[row, c]),
                price_risk=float(book.price_risk[row, c]),
                net_delta=float(book.net_delta[row, c]),
                weighted_price_risk=float(book.weighted_price_risk[row, c]),
                worst_scenario=worst,
                worst_scenario_label=LABELS[worst],
                scenario_losses=tuple(float(x) for x in book.scenario_losses[row, c]),
                net_option_value=None if np.isnan(nov) else nov,
            )
        )
    novs = [r.net_option_value for r in ccs]
    total_nov = (
        None if any(v is None for v in novs) else float(sum(v for v in novs if v is not None))
    )
    return SpanResult(
        currency=params.currency,
        combined_commodities=tuple(ccs),
        requirement=float(sum(r.requirement for r in ccs)),
        initial_requirement=float(sum(r.initial_requirement for r in ccs)),
        net_option_value=total_nov,
    )


def span_margin(params: SpanRiskParameters, quantities: FloatArray) -> SpanResult:
    """The SPAN requirement of one portfolio: ``quantities`` signed, per product (file order)."""
    return account_result(span_book(params, np.asarray(quantities, dtype=np.float64)), 0)
