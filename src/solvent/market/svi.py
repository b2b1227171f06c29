"""Raw SVI smiles: the formula, Gatheral-Jacquier's butterfly test and a fast arbitrage-free fit.

One expiry's implied-volatility smile is described by its **total implied variance** as a function
of log-moneyness::

    k = ln(K / F)                       (K strike, F forward, both USD per unit of underlying)
    w(k) = iv(k)^2 * T                  (iv a decimal, T in years ACT/365; w is dimensionless)
    w(k) = a + b * (rho * (k - m) + sqrt((k - m)^2 + sigma^2))        (raw SVI, Gatheral 2004)

Parameter bounds (all enforced by :func:`fit_svi_slice` and checked by :class:`SviParams`):
``b >= 0``, ``|rho| < 1`` (``<= 1`` numerically), ``sigma > 0``, minimum variance
``a + b sigma sqrt(1 - rho^2) >= 0`` and Roger Lee's moment bound on both wings
``b (1 + |rho|) <= 2``.

No butterfly arbitrage (a non-negative risk-neutral density) holds iff Gatheral and Jacquier's
(2014, "Arbitrage-free SVI volatility surfaces", eq. 2.1)::

    g(k) = (1 - k w'/(2 w))^2 - (w'^2 / 4) (1/w + 1/4) + w''/2  >=  0

The fit is the quasi-explicit reduction of De Marco and Martini (Zeliade Systems, "Quasi-explicit
calibration of Gatheral's SVI model", 2009): with ``y = (k - m)/sigma`` the smile is
``w = a + d y + c sqrt(y^2 + 1)`` with ``c = b sigma``, ``d = rho b sigma``, which for fixed
``(m, sigma)`` is *linear* in ``(a, d, c)``. We change variables once more to
``p = c + d = b sigma (1 + rho)`` and ``q = c - d = b sigma (1 - rho)``, the two wing slopes times
sigma, so that ``|rho| <= 1`` and Lee's bound become the box ``0 <= p, q <= 2 sigma``; the inner
problem is then a 3-variable box-constrained weighted least squares solved exactly by enumerating
the faces of the box, batched over many ``(m, sigma)`` candidates at once. The outer problem over
``(m, sigma)`` is two-dimensional: a global grid, then a pattern search from its two best basins.
Butterfly arbitrage is a hard constraint of the outer problem: a candidate counts only if
``g(k) >= G_MARGIN`` on its check grid (:func:`butterfly_grid`) and its minimum variance is
non-negative; candidates are ranked lexicographically (arbitrage-free first, then by fit error).
Should no candidate be arbitrage-free, the slice falls back to a flat smile at the weighted mean
total variance (always arbitrage-free) and says so (:class:`FitMethod`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError

#: Tolerance on g(k) below which a slice is flagged as butterfly arbitrage (g is dimensionless,
#: of order 1 near the money; -1e-9 absorbs rounding only).
BUTTERFLY_TOLERANCE = 1e-9

#: Margin the fit keeps ``g`` above on its check grid, so that ``g`` stays >= 0 between grid
#: points too (a dense re-check of the Deribit fits finds dips of at most ~5e-6 between points).
G_MARGIN = 1e-4

#: Lee's bound on the wing slopes of total variance: b (1 + |rho|) <= 2.
LEE_SLOPE_BOUND = 2.0

#: Smallest and largest sigma the fit searches (log-moneyness units).
SIGMA_MIN = 1e-4
SIGMA_MAX = 5.0


@dataclass(frozen=True, slots=True)
class SviParams:
    """Raw SVI parameters of one expiry's total-variance smile (see module docstring).

    ``a`` (total variance level), ``b`` (wing slope, >= 0), ``rho`` (skew, in [-1, 1]), ``m``
    (horizontal shift, log-moneyness) and ``sigma`` (ATM curvature scale, log-moneyness, > 0).
    Constructing one checks the bounds and raises :class:`SolventInputError` when violated.
    """

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def __post_init__(self) -> None:
        for name in ("a", "b", "rho", "m", "sigma"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise SolventInputError(f"svi.{name}", f"must be finite, got {value!r}")
        if self.b < 0.0:
            raise SolventInputError("svi.b", f"must be >= 0, got {self.b}")
        if abs(self.rho) > 1.0:
            raise SolventInputError("svi.rho", f"must be in [-1, 1], got {self.rho}")
        if self.sigma <= 0.0:
            raise SolventInputError("svi.sigma", f"must be > 0, got {self.sigma}")
        if self.min_total_variance < -1e-12:
            raise SolventInputError(
                "svi.a", f"a + b sigma sqrt(1 - rho^2) must be >= 0, got {self.min_total_variance}"
            )
        if self.b * (1.0 + abs(self.rho)) > LEE_SLOPE_BOUND * (1.0 + 1e-9):
            raise SolventInputError(
                "svi.b", f"Lee's bound b (1 + |rho|) <= 2 violated: {self.b * (1 + abs(self.rho))}"
            )

    @property
    def min_total_variance(self) -> float:
        """Smallest total variance of the smile, ``a + b sigma sqrt(1 - rho^2)``."""
        return self.a + self.b * self.sigma * math.sqrt(max(1.0 - self.rho * self.rho, 0.0))

    def as_array(self) -> FloatArray:
        """``[a, b, rho, m, sigma]`` as a float64 array."""
        return np.array([self.a, self.b, self.rho, self.m, self.sigma], dtype=np.float64)

    def total_variance(self, log_moneyness: ArrayLike) -> FloatArray:
        """Total implied variance ``w(k)`` (dimensionless) at log-moneyness ``k = ln(K/F)``."""
        return svi_total_variance(log_moneyness, *self.as_array())

    def implied_vol(self, log_moneyness: ArrayLike, time: float) -> FloatArray:
        """Black implied volatility (decimal) ``sqrt(w(k) / T)`` for a slice at ``time`` years."""
        return np.sqrt(np.maximum(self.total_variance(log_moneyness), 0.0) / time)

    def density_g(self, log_moneyness: ArrayLike) -> FloatArray:
        """Gatheral-Jacquier ``g(k)``; the smile is free of butterfly arbitrage iff ``g >= 0``."""
        return svi_g(log_moneyness, *self.as_array())


def svi_total_variance(
    k: ArrayLike, a: ArrayLike, b: ArrayLike, rho: ArrayLike, m: ArrayLike, sigma: ArrayLike
) -> FloatArray:
    """Raw SVI total variance, broadcasting over ``k`` and every parameter (dimensionless)."""
    x = np.asarray(k, dtype=np.float64) - np.asarray(m, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    return np.asarray(
        np.asarray(a, dtype=np.float64)
        + np.asarray(b, dtype=np.float64)
        * (np.asarray(rho, dtype=np.float64) * x + np.sqrt(x * x + s * s)),
        dtype=np.float64,
    )


def svi_g(
    k: ArrayLike, a: ArrayLike, b: ArrayLike, rho: ArrayLike, m: ArrayLike, sigma: ArrayLike
) -> FloatArray:
    """Gatheral-Jacquier butterfly function ``g(k)`` of a raw SVI slice (broadcasting).

    Where the total variance is not positive the density is undefined; ``g`` is then ``-inf``
    (which flags the slice as arbitrageable).
    """
    kk = np.asarray(k, dtype=np.float64)
    bb = np.asarray(b, dtype=np.float64)
    r = np.asarray(rho, dtype=np.float64)
    x = kk - np.asarray(m, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    root = np.sqrt(x * x + s * s)
    w = np.asarray(a, dtype=np.float64) + bb * (r * x + root)
    w1 = bb * (r + x / root)
    w2 = bb * s * s / (root * root * root)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (1.0 - kk * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
    return np.asarray(np.where(w > 0.0, g, -np.inf), dtype=np.float64)


_CENTRED = np.linspace(-8.0, 8.0, 241)


def _fixed_grid(k: FloatArray) -> FloatArray:
    lo, hi = float(np.min(k)), float(np.max(k))
    width = max(hi - lo, 1e-3)
    left, right = min(lo - width, -2.0), max(hi + width, 2.0)
    return np.concatenate([np.linspace(left, right, 201), np.linspace(lo, hi, 61)])


def butterfly_grid(log_moneyness: ArrayLike, m: ArrayLike, sigma: ArrayLike) -> FloatArray:
    """Log-moneyness points on which ``g(k) >= 0`` is imposed (in the fit) and checked.

    201 uniform points over the quoted range widened by its width on each side (and at least
    [-2, 2]), 61 over the quoted range itself, and 241 over ``m +- 8 sigma`` (the curved part of
    the smile, where ``g`` dips first). ``m`` and ``sigma`` may be arrays of N candidates: the
    result is then (N, 503). Far beyond the grid Lee's bound keeps ``g -> 1/4 - slope^2/16 >= 0``.
    """
    return _grid(_fixed_grid(np.asarray(log_moneyness, dtype=np.float64)), m, sigma)


def _grid(fixed: FloatArray, m: ArrayLike, sigma: ArrayLike) -> FloatArray:
    mm = np.asarray(m, dtype=np.float64)[..., None]
    ss = np.asarray(sigma, dtype=np.float64)[..., None]
    centred = mm + ss * _CENTRED
    return np.concatenate([np.broadcast_to(fixed, centred.shape[:-1] + fixed.shape), centred], -1)


class FitMethod(Enum):
    """How a slice's final parameters were obtained."""

    QUASI_EXPLICIT = "quasi-explicit"
    """The quasi-explicit search found an arbitrage-free SVI smile (the normal case)."""
    FLAT_FALLBACK = "flat-fallback"
    """No arbitrage-free SVI candidate was found: a flat smile at the weighted mean variance."""


@dataclass(frozen=True, slots=True)
class SviSliceFit:
    """Result of fitting one expiry: parameters, objective and the butterfly diagnostic.

    ``objective`` is the weighted sum of squared IV residuals (decimal vol squared) in the
    linearised form used by the fit; ``min_g`` the minimum of ``g(k)`` over the check grid.
    """

    params: SviParams
    objective: float
    min_g: float
    method: FitMethod

    @property
    def butterfly_arbitrage(self) -> bool:
        """True when ``g(k) < 0`` somewhere on the check grid."""
        return self.min_g < -BUTTERFLY_TOLERANCE


# -- inner problem: box-constrained linear least squares in (a, p, q), batched over (m, sigma) ---

# Faces of the box 0 <= p, q <= 2 sigma: each of p, q is free (None), at 0 (0.0) or at 2 sigma (1.0)
_FACES: tuple[tuple[float | None, float | None], ...] = tuple(
    (fp, fq) for fp in (None, 0.0, 1.0) for fq in (None, 0.0, 1.0)
)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One slice's data in the form the fit uses."""

    k: FloatArray  # log-moneyness of the points
    w: FloatArray  # market total variance iv^2 T
    u2: FloatArray  # squared weights on total-variance residuals
    uw: FloatArray  # u2 * w
    uw2: FloatArray  # columns u2 and u2 * w, shape (n, 2)
    sww: float  # sum u2 w^2
    su: float  # sum u2
    time: float
    w_scale: float  # typical total variance, to scale the min-variance penalty
    k_fixed: FloatArray  # the candidate-independent part of the butterfly grid


def _inner_batch(
    prep: _Prepared, m: FloatArray, sigma: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """For each candidate ``(m_i, sigma_i)`` minimise ``sum u2 (a + p A + q B - w)^2`` exactly.

    ``A = (sqrt(y^2+1) + y)/2``, ``B = (sqrt(y^2+1) - y)/2``, ``y = (k - m)/sigma``; ``a`` free,
    ``0 <= p, q <= 2 sigma``. A convex QP in 3 variables: its optimum is the best feasible
    stationary point over the 9 faces of the box (the interior first; the 8 boundary faces only for
    candidates whose interior solution leaves the box). Returns ``(sse, a, p, q)`` arrays (N,).
    """
    y = (prep.k[None, :] - m[:, None]) / sigma[:, None]
    z = np.sqrt(y * y + 1.0)
    A = 0.5 * (z + y)
    B = 0.5 * (z - y)
    n = m.size
    # all weighted sums in one product: rows A, B, A^2, B^2 against columns u2, u2 w
    sums = np.stack([A, B, A * A, B * B]) @ prep.uw2
    G = np.empty((n, 3, 3))
    G[:, 0, 0] = prep.su
    G[:, 0, 1] = G[:, 1, 0] = sums[0, :, 0]
    G[:, 0, 2] = G[:, 2, 0] = sums[1, :, 0]
    G[:, 1, 1] = sums[2, :, 0]
    G[:, 1, 2] = G[:, 2, 1] = 0.25 * prep.su  # A B = (z^2 - y^2)/4 = 1/4
    G[:, 2, 2] = sums[3, :, 0]
    h = np.empty((n, 3))
    h[:, 0] = prep.uw.sum()
    h[:, 1] = sums[0, :, 1]
    h[:, 2] = sums[1, :, 1]
    # relative ridge: keeps degenerate faces (e.g. all points on one wing) solvable
    idx = np.arange(3)
    G[:, idx, idx] *= 1.0 + 1e-12
    hi = 2.0 * sigma
    best_beta = np.linalg.solve(G, h[:, :, None])[:, :, 0]
    tol = 1e-12 * hi
    p, q = best_beta[:, 1], best_beta[:, 2]
    out = (p < -tol) | (p > hi + tol) | (q < -tol) | (q > hi + tol)
    if np.any(out):
        rows = np.flatnonzero(out)
        Gs, hs, his = G[rows], h[rows], hi[rows]
        best = np.full(rows.size, np.inf)
        sub_best = np.zeros((rows.size, 3))
        for fp, fq in _FACES[1:]:
            fixed = (None, fp, fq)
            free = [i for i in range(3) if fixed[i] is None]
            beta = np.zeros((rows.size, 3))
            for i in (1, 2):
                f = fixed[i]
                if f is not None:
                    beta[:, i] = f * his
            rhs = hs[:, free] - np.einsum("nij,nj->ni", Gs[:, free, :], beta)
            beta[:, free] = np.linalg.solve(Gs[:, free, :][:, :, free], rhs[:, :, None])[:, :, 0]
            bp, bq = beta[:, 1], beta[:, 2]
            t = 1e-12 * his
            ok = (bp >= -t) & (bp <= his + t) & (bq >= -t) & (bq <= his + t)
            beta[:, 1] = np.clip(bp, 0.0, his)
            beta[:, 2] = np.clip(bq, 0.0, his)
            sse = np.einsum("ni,nij,nj->n", beta, Gs, beta) - 2.0 * (hs * beta).sum(axis=1)
            better = ok & (sse < best)
            best = np.where(better, sse, best)
            sub_best[better] = beta[better]
        best_beta[rows] = sub_best
    sse_all = (
        np.einsum("ni,nij,nj->n", best_beta, G, best_beta)
        - 2.0 * (h * best_beta).sum(axis=1)
        + prep.sww
    )
    sse_out = np.asarray(np.maximum(sse_all, 0.0), dtype=np.float64)
    beta_out = np.asarray(best_beta, dtype=np.float64)
    return sse_out, beta_out[:, 0], beta_out[:, 1], beta_out[:, 2]


def _violation(
    prep: _Prepared, a: FloatArray, p: FloatArray, q: FloatArray, m: FloatArray, sigma: FloatArray
) -> FloatArray:
    """Total arbitrage violation of candidates: negative minimum variance plus sum of ``max(-g, 0)``
    on each one's :func:`butterfly_grid`. Zero means free of butterfly arbitrage on the grid."""
    neg_var = np.maximum(-(a + np.sqrt(p * q)), 0.0) / prep.w_scale
    c = 0.5 * (p + q)
    b = c / sigma
    rho = np.where(c > 0.0, (p - q) / np.where(c > 0.0, p + q, 1.0), 0.0)
    grid = _grid(prep.k_fixed, m, sigma)
    g = svi_g(grid, a[:, None], b[:, None], rho[:, None], m[:, None], sigma[:, None])
    g_neg = np.maximum(G_MARGIN - g, 0.0)
    return np.asarray(
        neg_var + np.sum(np.where(np.isfinite(g_neg), g_neg, 1.0), axis=1), dtype=np.float64
    )


def _rank_block(
    prep: _Prepared,
    sse: FloatArray,
    beta: tuple[FloatArray, FloatArray, FloatArray],
    m: FloatArray,
    sigma: FloatArray,
    rows: NDArray[np.intp],
    count: int,
) -> list[tuple[int, float]]:
    """The best ``count`` candidates among ``rows``: smallest fit error among arbitrage-free ones.

    Candidates are checked for arbitrage in order of increasing fit error, in growing chunks, so
    the (costly) density check usually runs on a handful only. If none is arbitrage-free, the one
    with the smallest violation is returned alone (the search then walks towards feasibility).
    Returns ``(index, violation)`` pairs, violation 0 when arbitrage-free.
    """
    a, p, q = beta
    order = rows[np.argsort(sse[rows], kind="stable")]
    found: list[tuple[int, float]] = []
    viol = np.empty(0)
    start, chunk = 0, count
    while start < order.size:
        idx = order[start : start + chunk]
        start, chunk = start + chunk, 4 * chunk
        v = _violation(prep, a[idx], p[idx], q[idx], m[idx], sigma[idx])
        found.extend((int(i), 0.0) for i in idx[v <= 0.0])
        if len(found) >= count:
            return found[:count]
        viol = np.concatenate([viol, v])
    if found:
        return found
    j = int(np.argmin(viol))
    return [(int(order[j]), float(viol[j]))]


def _prepare(
    log_moneyness: ArrayLike, implied_vol: ArrayLike, time: float, weights: ArrayLike | None
) -> _Prepared:
    k = np.asarray(log_moneyness, dtype=np.float64)
    iv = np.asarray(implied_vol, dtype=np.float64)
    if k.ndim != 1 or iv.shape != k.shape:
        raise SolventInputError("implied_vol", "log_moneyness and implied_vol must be equal 1-D")
    if not (math.isfinite(time) and time > 0.0):
        raise SolventInputError("time", f"must be finite and > 0, got {time!r}")
    if not np.all(np.isfinite(k)):
        raise SolventInputError("log_moneyness", "must be finite")
    if not np.all(np.isfinite(iv) & (iv > 0.0)):
        raise SolventInputError("implied_vol", "must be finite and > 0")
    if k.size < 5:
        raise SolventInputError("implied_vol", f"need at least 5 points, got {k.size}")
    omega = np.ones_like(k) if weights is None else np.asarray(weights, dtype=np.float64)
    if omega.shape != k.shape or not np.all(np.isfinite(omega) & (omega >= 0.0)):
        raise SolventInputError("weights", "must be finite, >= 0 and match the points")
    if not np.any(omega > 0.0):
        raise SolventInputError("weights", "at least one weight must be > 0")
    # IV residual ~ (w_model - w_mkt) / (2 iv T): weight total-variance residuals accordingly
    u = omega / (2.0 * iv * time)
    u2 = u * u
    w = iv * iv * time
    return _Prepared(
        k=k,
        w=w,
        u2=u2,
        uw=u2 * w,
        uw2=np.column_stack([u2, u2 * w]),
        sww=float(u2 @ (w * w)),
        su=float(u2.sum()),
        time=time,
        w_scale=float(np.median(w)),
        k_fixed=_fixed_grid(k),
    )


def _search(prep: _Prepared) -> tuple[float, float, bool]:
    """Best ``(m, sigma)`` and whether it is arbitrage-free.

    A global grid over ``(m, log sigma)``; then, from the ``_STARTS`` best arbitrage-free grid
    points lying in different basins, a batched pattern search: each round re-grids a box around
    each start's current best point with 7x7 candidates (the centre is kept, so no start ever
    worsens); the box shrinks by 3 when the best point is inside it and keeps its size when the
    best point is on its edge (so the search can follow a long valley). The best start wins.
    """
    lo, hi = float(prep.k.min()), float(prep.k.max())
    width = max(hi - lo, 1e-3)
    ls_min, ls_max = math.log(SIGMA_MIN), math.log(SIGMA_MAX)
    m0 = np.linspace(lo - 0.25 * width, hi + 0.25 * width, 41)
    ls0 = np.linspace(math.log(max(1e-3 * width, SIGMA_MIN)), math.log(min(2 * width, 5.0)), 21)
    mm, ll = np.meshgrid(m0, ls0)
    m, ls = mm.ravel(), ll.ravel()
    sigma = np.exp(ls)
    sse, a, p, q = _inner_batch(prep, m, sigma)
    ranked = _rank_block(prep, sse, (a, p, q), m, sigma, np.arange(m.size), 4 * _STARTS)
    dm, ds = float(m0[1] - m0[0]), float(ls0[1] - ls0[0])
    starts: list[tuple[float, float, float]] = []  # (m, log sigma, violation)
    for i, v in ranked:
        if all(abs(m[i] - sm) > 1.5 * dm or abs(ls[i] - sl) > 1.5 * ds for sm, sl, _ in starts):
            starts.append((float(m[i]), float(ls[i]), v))
        if len(starts) == _STARTS:
            break
    offsets = np.linspace(-1.0, 1.0, _PATTERN_POINTS)
    shrink = (_PATTERN_POINTS - 1) / 2.0
    om, ol = (x.ravel() for x in np.meshgrid(offsets, offsets))
    edge = (np.abs(om) == 1.0) | (np.abs(ol) == 1.0)
    block = om.size
    state = [[sm, sl, v, math.inf, dm, ds] for sm, sl, v in starts]  # m, ls, viol, sse, hm, hs
    for _ in range(_ZOOM_ROUNDS):
        live = [st for st in state if st[4] > _M_TOL * width or st[5] > _LS_TOL]
        if not live:
            break
        m = np.concatenate([st[0] + st[4] * om for st in live])
        ls = np.clip(np.concatenate([st[1] + st[5] * ol for st in live]), ls_min, ls_max)
        sigma = np.exp(ls)
        sse, a, p, q = _inner_batch(prep, m, sigma)
        # the best fit of every block is usually arbitrage-free: check those in one batch
        firsts = np.argmin(sse.reshape(len(live), block), axis=1) + block * np.arange(len(live))
        v_first = _violation(prep, a[firsts], p[firsts], q[firsts], m[firsts], sigma[firsts])
        for j, st in enumerate(live):
            if v_first[j] <= 0.0:
                i, v = int(firsts[j]), 0.0
            else:
                rows = np.arange(j * block, (j + 1) * block)
                i, v = _rank_block(prep, sse, (a, p, q), m, sigma, rows, 1)[0]
            # pattern search: follow a valley at constant box size, shrink once bracketed
            on_edge = bool(edge[i - j * block])
            st[0], st[1], st[2], st[3] = float(m[i]), float(ls[i]), v, float(sse[i])
            if not on_edge:
                st[4], st[5] = st[4] / shrink, st[5] / shrink
    best = min(state, key=lambda st: (st[2], st[3]))
    return best[0], math.exp(best[1]), best[2] == 0.0


#: Starting points of the zoom (distinct basins of the global grid).
_STARTS = 2

#: Convergence of the search: box half-widths in m (relative to the quoted range) and log sigma.
_M_TOL = 1e-5
_LS_TOL = 1e-5

#: Candidates per side of the pattern-search box (the box shrinks by (points - 1)/2 a round
#: unless the best point moved to its edge).
_PATTERN_POINTS = 7

#: Most rounds of the pattern search.
_ZOOM_ROUNDS = 30


def fit_svi_slice(
    log_moneyness: ArrayLike,
    implied_vol: ArrayLike,
    time: float,
    weights: ArrayLike | None = None,
) -> SviSliceFit:
    """Fit raw SVI to one expiry's implied vols by weighted least squares, free of butterfly arb.

    ``log_moneyness`` = ln(K/F) per point; ``implied_vol`` decimal; ``time`` in years (> 0);
    ``weights`` >= 0 per point (the surface fit passes Black-76 vega; default all 1). The loss is
    ``sum weights^2 (iv_model - iv)^2``, linearised as total-variance residuals divided by
    ``2 iv T``. Raises :class:`SolventInputError` naming the field on bad input.
    """
    prep = _prepare(log_moneyness, implied_vol, time, weights)
    k = prep.k
    m, sigma, arbitrage_free = _search(prep)
    if arbitrage_free:
        _, a_arr, p_arr, q_arr = _inner_batch(prep, np.array([m]), np.array([sigma]))
        a, p, q = float(a_arr[0]), float(p_arr[0]), float(q_arr[0])
        c = 0.5 * (p + q)
        b = c / sigma
        rho = (p - q) / (p + q) if c > 0.0 else 0.0
        params = SviParams(a, b, rho, m, sigma)
        method = FitMethod.QUASI_EXPLICIT
    else:
        params = SviParams(prep.uw.sum() / prep.su, 0.0, 0.0, 0.0, 1.0)
        method = FitMethod.FLAT_FALLBACK
    min_g = float(np.min(params.density_g(butterfly_grid(k, params.m, params.sigma))))
    r = np.sqrt(prep.u2) * (params.total_variance(k) - prep.w)
    return SviSliceFit(params=params, objective=float(r @ r), min_g=min_g, method=method)
