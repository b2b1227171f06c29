"""ISDA SIMM of a crypto book, every account at once, and its Euler allocation.

A book's CRIF (:mod:`solvent.margin.simm.book_crif`) has only Commodity-class lines: one delta
per (account, underlying) and one vega per (account, underlying, ISDA tenor). So the whole SIMM
aggregation (:func:`solvent.margin.simm.model.compute_simm`, one CRIF at a time) reduces to array
algebra over accounts x underlyings, with the calibration's buckets, risk weights, thresholds and
correlations as columns (notation of :mod:`solvent.margin.simm.kernels`):

- delta: ``s_u`` USD per 1 %; ``CR_u = max(1, sqrt(|s_u| / T_b))``; ``WS_u = RW_b s_u CR_u``;
- vega: ``sigma_b = sigma_multiplier RW_b``; ``VCR_u = max(1, sqrt(|HVR sum_t sigma_b v_ut| /
  VT_b))``; one value per underlying ``w_u = HVR VRW_b VCR_u sigma_b sum_t v_ut`` (tenors of one
  underlying are fully correlated in the Commodity class);
- curvature: ``c_u = sum_t SF(t) sigma_b v_ut`` (0 in an excluded bucket);
- per bucket ``K_b^2 = sum_u x_u^2 + rho_b sum_{u != v} f_uv x_u x_v`` (``f`` the concentration
  ratio min/max, 1 for curvature, whose correlations are squared), ``S_b = clip(sum x_u, +-K_b)``,
  and across buckets ``sqrt(sum K_b^2 + sum_{b != c} gamma_bc S_b S_c)``; curvature is
  ``max(sum c + lambda(theta) sqrt(...), 0)`` with ``gamma^2``;
- SIMM = ``sqrt(psi_cc) (delta + vega + curvature)`` (one risk class, one product class).

Python loops run over underlying pairs of one bucket (a handful), never over accounts.

Euler allocation (``--explain``). Each of the three margins is positively homogeneous of degree 1
in its per-underlying values (``WS``, ``w``, ``c``) once the concentration factors are held at
their level, so ``M = sum_u x_u dM/dx_u`` exactly (the clip of ``S_b`` and curvature's theta
included: theta is scale-free, its terms sum to zero). Each value is linear in the positions'
sensitivities, so position ``i``'s share is ``sum_u x_iu dM/dx_u`` with ``x_iu`` its part of
``x_u``. The shares add up to SIMM to rounding, on hedged books too (a finite-difference slope
across a kink does not). When a concentration threshold binds, this allocates the margin at the
concentration factors the book has (the factors themselves are not differentiated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.margin.protocol import PricedMarket
from solvent.margin.simm.book_crif import TENOR_YEARS, TENORS, bucket_of, tenor_weights
from solvent.margin.simm.calibration import RISK_CLASSES, SimmCalibration
from solvent.portfolio.book import Book
from solvent.pricing.unit_greeks import unit_greeks

_COMMODITY = RISK_CLASSES.index("Commodity")


@dataclass(frozen=True, slots=True)
class SimmColumns:
    """Per-instrument sensitivities of one unit and per-underlying calibration columns.

    ``delta`` (instruments) USD per 1 % rise of the underlying; ``vega`` (instruments x tenors) USD
    per vol point, split over the ISDA tenors; ``underlying`` code per instrument. Per underlying:
    ``bucket`` (index into the calibration's Commodity buckets), ``rw``, ``vega_rw``,
    ``delta_threshold``, ``vega_threshold``, ``sigma``, ``curv_on`` (1, or 0 in an excluded
    bucket). ``sf`` per tenor.
    """

    calibration: SimmCalibration
    underlyings: tuple[str, ...]
    underlying: IntArray
    delta: FloatArray
    vega: FloatArray
    bucket: IntArray
    rw: FloatArray
    vega_rw: FloatArray
    delta_threshold: FloatArray
    vega_threshold: FloatArray
    sigma: FloatArray
    curv_on: FloatArray
    sf: FloatArray

    @classmethod
    def of(cls, market: PricedMarket, calibration: SimmCalibration) -> SimmColumns:
        table, cols = market.table, market.columns
        g = unit_greeks(table, cols)
        delta = np.asarray(0.01 * g.delta * cols.forward, dtype=np.float64)
        vega = tenor_weights(cols.time) * (g.vega / 100.0)[:, None]
        cm = calibration.commodity
        names = [bucket_of(u) for u in table.underlyings]
        unknown = [b for b in names if b not in cm.buckets]
        if unknown:
            raise SolventInputError(
                "params.simm_version", f"the calibration has no Commodity bucket {unknown[0]!r}"
            )
        bucket = np.array([cm.buckets.index(b) for b in names], dtype=np.intp)
        if cm.residual is not None and np.any(bucket == cm.residual):
            raise SolventInputError("params.simm_version", "crypto in a Residual bucket")
        rw = cm.delta_rw[bucket]
        excluded = np.array([cm.buckets[b] in cm.curvature_excluded for b in bucket], dtype=bool)
        tenor_names = calibration.interest_rate.tenors
        if tuple(t.lower() for t in tenor_names) != tuple(t.lower() for t in TENORS):
            raise SolventInputError("params.simm_version", "unexpected vega tenors")
        return cls(
            calibration=calibration,
            underlyings=tuple(table.underlyings),
            underlying=np.asarray(table.underlying_code, dtype=np.intp),
            delta=delta,
            vega=np.asarray(vega, dtype=np.float64),
            bucket=bucket,
            rw=rw,
            vega_rw=cm.vega_rw[bucket],
            delta_threshold=cm.delta_threshold[bucket],
            vega_threshold=cm.vega_threshold[bucket],
            sigma=calibration.sigma_multiplier * rw,
            curv_on=np.where(excluded, 0.0, 1.0),
            sf=np.array([calibration.curvature_scale(t) for t in tenor_names], dtype=np.float64),
        )


@dataclass(frozen=True, slots=True)
class _Aggregate:
    """One margin (delta, vega or curvature) per account, and dM/dx per (account, underlying)."""

    margin: FloatArray
    grad: FloatArray | None


def _bucket_sums(
    cols: SimmColumns, x: FloatArray, cr: FloatArray, rho: FloatArray, use_cr: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(K_b^2, sum x per bucket, g) with ``g_u = x_u + rho_b sum_{v != u in b} f_uv x_v``
    (half the derivative of K_b^2 by x_u). Arrays: accounts x buckets, x buckets, x underlyings."""
    n_b = len(cols.calibration.commodity.buckets)
    n_u = x.shape[1]
    onehot = np.zeros((n_u, n_b))
    onehot[np.arange(n_u), cols.bucket] = 1.0
    g = x.copy()
    for u in range(n_u):
        for v in range(n_u):
            if u == v or cols.bucket[u] != cols.bucket[v]:
                continue
            f = np.minimum(cr[:, u], cr[:, v]) / np.maximum(cr[:, u], cr[:, v]) if use_cr else 1.0
            g[:, u] += rho[cols.bucket[u]] * f * x[:, v]
    k2 = (x * g) @ onehot
    total = x @ onehot
    return k2, total, g


def _across(
    cols: SimmColumns,
    x: FloatArray,
    cr: FloatArray,
    rho: FloatArray,
    gamma: FloatArray,
    use_cr: bool,
    want_grad: bool,
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """sqrt(sum K_b^2 + sum_{b != c} gamma_bc S_b S_c) per account, the inner sum, and (when
    asked) its derivative by each x_u."""
    k2, total, g = _bucket_sums(cols, x, cr, rho, use_cr)
    k = np.sqrt(np.maximum(k2, 0.0))
    s = np.maximum(np.minimum(total, k), -k)
    off = gamma - np.diag(np.diag(gamma))
    inner = np.sum(k * k, axis=1) + np.einsum("ab,bc,ac->a", s, off, s)
    margin = np.sqrt(np.maximum(inner, 0.0))
    if not want_grad:
        return margin, inner, None
    b = cols.bucket
    with np.errstate(divide="ignore", invalid="ignore"):
        dk = np.where(k[:, b] > 0.0, g / k[:, b], 0.0)  # dK_b/dx_u
    clipped = np.abs(total) > k
    ds = np.where(clipped[:, b], np.sign(total)[:, b] * dk, 1.0)  # dS_b/dx_u
    others = s @ off  # sum_{c != b} gamma_bc S_c, per bucket
    d_inner = 2.0 * g + 2.0 * others[:, b] * ds
    return margin, inner, d_inner


def _gamma(cols: SimmColumns) -> FloatArray:
    """Inter-bucket correlations over every Commodity bucket (no residual: checked)."""
    return np.asarray(cols.calibration.commodity.inter, dtype=np.float64)


def _delta(cols: SimmColumns, s: FloatArray, want_grad: bool) -> tuple[_Aggregate, FloatArray]:
    """Delta margin; returns it and the weight turning s_u into WS_u (RW_b CR_u)."""
    cal = cols.calibration
    cm = cal.commodity
    if cal.concentration_enabled:
        cr = np.maximum(1.0, np.sqrt(np.abs(s) / cols.delta_threshold[None, :]))
    else:
        cr = np.ones_like(s)
    weight = cols.rw[None, :] * cr
    ws = cols.rw[None, :] * s * cr
    margin, _, d_inner = _across(cols, ws, cr, cm.intra, _gamma(cols), True, want_grad)
    grad = None
    if d_inner is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = np.where(margin[:, None] > 0.0, d_inner / (2.0 * margin[:, None]), 0.0)
    return _Aggregate(margin, grad), weight


def _vega(cols: SimmColumns, v: FloatArray, want_grad: bool) -> tuple[_Aggregate, FloatArray]:
    """Vega margin from v (accounts x underlyings x tenors); returns the weight turning
    sum_t v_ut into w_u."""
    cal = cols.calibration
    cm = cal.commodity
    raw = cols.sigma[None, :, None] * v
    raw_u = raw.sum(axis=2)
    if cal.concentration_enabled:
        vcr = np.maximum(1.0, np.sqrt(np.abs(cm.hvr * raw_u) / cols.vega_threshold[None, :]))
    else:
        vcr = np.ones_like(raw_u)
    vr = cm.hvr * cols.vega_rw[None, :, None] * raw * vcr[:, :, None]
    w = vr.sum(axis=2)
    weight = cm.hvr * cols.vega_rw[None, :] * cols.sigma[None, :] * vcr
    margin, _, d_inner = _across(cols, w, vcr, cm.intra, _gamma(cols), True, want_grad)
    grad = None
    if d_inner is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = np.where(margin[:, None] > 0.0, d_inner / (2.0 * margin[:, None]), 0.0)
    return _Aggregate(margin, grad), weight


def _curvature(cols: SimmColumns, v: FloatArray, want_grad: bool) -> _Aggregate:
    """Curvature margin from v (accounts x underlyings x tenors), with its full gradient by c_u
    (theta's terms included)."""
    cal = cols.calibration
    cm = cal.commodity
    c = (cols.sf[None, None, :] * cols.sigma[None, :, None] * v).sum(axis=2) * cols.curv_on
    rho2 = cm.intra**2
    root, _, d_inner = _across(cols, c, np.ones_like(c), rho2, _gamma(cols) ** 2, False, want_grad)
    total = c.sum(axis=1)
    abs_total = np.abs(c).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(abs_total > 0.0, np.minimum(total / abs_total, 0.0), 0.0)
    base = cal.curvature_lambda_base
    lam = base * (1.0 + theta) - theta
    raw_margin = total + lam * root
    margin = np.maximum(raw_margin, 0.0)
    grad = None
    if d_inner is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            d_root = np.where(root[:, None] > 0.0, d_inner / (2.0 * root[:, None]), 0.0)
            d_theta = np.where(
                (theta < 0.0)[:, None],
                1.0 / abs_total[:, None] - total[:, None] * np.sign(c) / abs_total[:, None] ** 2,
                0.0,
            )
        d_lam = (base - 1.0) * d_theta
        grad = np.where((raw_margin > 0.0)[:, None], 1.0 + lam[:, None] * d_root, 0.0)
        grad = grad + np.where((raw_margin > 0.0)[:, None], root[:, None] * d_lam, 0.0)
    return _Aggregate(margin, grad)


@dataclass(frozen=True, slots=True)
class SimmBook:
    """SIMM of every account (USD): ``im`` and its components ``delta``, ``vega``,
    ``curvature`` and ``other_risk_classes`` (``im`` = their sum, to rounding as in
    :mod:`solvent.margin.simm.margin_model`); with ``explain``, ``shares``: each stored position's
    Euler share of its account's ``im`` (book CSR order)."""

    im: FloatArray
    delta: FloatArray
    vega: FloatArray
    curvature: FloatArray
    other: FloatArray
    shares: FloatArray | None = None


def _sensitivities(cols: SimmColumns, book: Book) -> tuple[FloatArray, FloatArray]:
    """Delta (accounts x underlyings) and vega (accounts x underlyings x tenors), USD."""
    n_i = cols.delta.shape[0]
    n_u, n_t = len(cols.underlyings), TENOR_YEARS.size
    rows = np.arange(n_i)
    to_u = sp.csr_array((cols.delta, (rows, cols.underlying)), shape=(n_i, n_u))
    cols_vt = cols.underlying[:, None] * n_t + np.arange(n_t)[None, :]
    to_v = sp.csr_array(
        (cols.vega.ravel(), (np.repeat(rows, n_t), cols_vt.ravel())), shape=(n_i, n_u * n_t)
    )
    q = book.quantities
    delta = np.asarray((q @ to_u).toarray(), dtype=np.float64)
    vega = np.asarray((q @ to_v).toarray(), dtype=np.float64).reshape(len(book), n_u, n_t)
    return delta, vega


def simm_book(cols: SimmColumns, book: Book, *, explain: bool = False) -> SimmBook:
    """SIMM of every account of ``book`` (whose columns are ``cols``'s instruments); with
    ``explain`` also each position's Euler share (module docstring)."""
    s, v = _sensitivities(cols, book)
    d, d_weight = _delta(cols, s, explain)
    vg, v_weight = _vega(cols, v, explain)
    cv = _curvature(cols, v, explain)
    psi = float(cols.calibration.psi[_COMMODITY, _COMMODITY])
    commodity = d.margin + vg.margin + cv.margin  # base correlation: none in Commodity
    im = np.sqrt(np.maximum(commodity * psi * commodity, 0.0))
    shares = None
    if explain:
        assert d.grad is not None and vg.grad is not None and cv.grad is not None
        q = book.quantities
        acc = np.repeat(np.arange(len(book)), np.diff(q.indptr))
        col = np.asarray(q.indices, dtype=np.intp)
        qty = np.asarray(q.data, dtype=np.float64)
        u = cols.underlying[col]
        c_unit = (cols.sf[None, :] * cols.sigma[u][:, None] * cols.vega[col]).sum(axis=1)
        shares = (
            qty * cols.delta[col] * d_weight[acc, u] * d.grad[acc, u]
            + qty * cols.vega[col].sum(axis=1) * v_weight[acc, u] * vg.grad[acc, u]
            + qty * c_unit * cols.curv_on[u] * cv.grad[acc, u]
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(commodity > 0.0, im / commodity, 0.0)
        shares = shares * scale[acc]
    return SimmBook(im, d.margin, vg.margin, cv.margin, im - commodity, shares)
