"""Pure numpy kernels of the SIMM aggregation (no I/O, no calibration lookups).

Notation (ISDA SIMM): WS_k weighted sensitivities, CR_k concentration factors, K_b bucket
margins, S_b = max(min(sum WS, K_b), -K_b), gamma_bc inter-bucket correlations.
"""

from __future__ import annotations

import numpy as np

from solvent.arrays import FloatArray, IntArray


def group_sum(index: IntArray, values: FloatArray, n: int) -> FloatArray:
    """Sum ``values`` by group ``index`` (0..n-1)."""
    return np.bincount(index, weights=values, minlength=n).astype(np.float64)


def concentration_factor(net: FloatArray, threshold: FloatArray) -> FloatArray:
    """CR = max(1, sqrt(|net| / T)) elementwise (T in the same unit as ``net``)."""
    return np.maximum(1.0, np.sqrt(np.abs(net) / threshold))


def pair_sum_min_max(group: IntArray, w: FloatArray, cr: FloatArray, n_groups: int) -> FloatArray:
    """Per group g: sum over ordered pairs k != l in g of min(CR_k,CR_l)/max(CR_k,CR_l) w_k w_l.

    O(n log n): after sorting a group by CR, min/max = CR_k/CR_l for k before l, so the sum is
    2 sum_l (w_l/CR_l) sum_{k<l} CR_k w_k, a prefix sum. With all CR = 1 it is (sum w)^2 - sum w^2.
    """
    if w.size == 0:
        return np.zeros(n_groups)
    order = np.lexsort((cr, group))
    g = group[order]
    a = (cr * w)[order]
    c = (w / cr)[order]
    cs = np.cumsum(a)
    start = np.searchsorted(g, g, side="left")
    before = cs[start] - a[start]
    prefix = cs - a - before
    return 2.0 * group_sum(g, c * prefix, n_groups)


def clip_sum(total: FloatArray, k: FloatArray) -> FloatArray:
    """S_b = max(min(sum WS_b, K_b), -K_b)."""
    return np.maximum(np.minimum(total, k), -k)


def across_buckets(k: FloatArray, s: FloatArray, gamma: FloatArray) -> float:
    """sqrt( sum K_b^2 + sum_{b != c} gamma_bc S_b S_c ) (``gamma`` with any diagonal)."""
    off = gamma - np.diag(np.diag(gamma))
    total = float(np.sum(k * k) + s @ off @ s)
    return float(np.sqrt(max(total, 0.0)))


def curvature_margin(
    cvr: FloatArray, k: FloatArray, s: FloatArray, gamma2: FloatArray, lambda_base: float
) -> float:
    """max( sum CVR + lambda sqrt(sum K_b^2 + sum_{b!=c} gamma_bc^2 S_b S_c), 0 ).

    theta = min(sum CVR / sum |CVR|, 0) and lambda = (Phi^-1(0.995)^2 - 1)(1 + theta) - theta;
    ``gamma2`` holds the squared inter-bucket correlations; ``cvr`` all risk-factor CVRs.
    """
    if cvr.size == 0:
        return 0.0
    total = float(np.sum(cvr))
    abs_total = float(np.sum(np.abs(cvr)))
    theta = min(total / abs_total, 0.0) if abs_total > 0.0 else 0.0
    lam = lambda_base * (1.0 + theta) - theta
    return max(total + lam * across_buckets(k, s, gamma2), 0.0)
