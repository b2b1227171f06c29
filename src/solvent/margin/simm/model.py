"""ISDA SIMM initial margin from a CRIF: delta, vega, curvature and base-correlation margins per
risk class, psi-aggregated per product class, summed over product classes.

All amounts are in USD (the calculation and result currency). Signs follow the CRIF: the margin is
computed for the party whose sensitivities the CRIF lists (SIMM's "call" side); the margin is
non-negative. Each step is a vectorized group-by over numpy arrays (no loop over CRIF lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.margin.simm.calibration import (
    RISK_CLASSES,
    BucketedClass,
    SimmCalibration,
)
from solvent.margin.simm.crif import PRODUCT_CLASSES, Crif, RiskType
from solvent.margin.simm.kernels import (
    across_buckets,
    clip_sum,
    concentration_factor,
    curvature_margin,
    group_sum,
    pair_sum_min_max,
)
from solvent.validation import shown

StrArray = npt.NDArray[np.str_]

SUPPORTED_CURRENCIES: tuple[str, ...] = ("USD",)

_RT = {rt: i for i, rt in enumerate(RiskType)}
RISK_CLASS_OF: dict[RiskType, str] = {
    RiskType.IR_CURVE: "InterestRate",
    RiskType.INFLATION: "InterestRate",
    RiskType.XCCY_BASIS: "InterestRate",
    RiskType.IR_VOL: "InterestRate",
    RiskType.INFLATION_VOL: "InterestRate",
    RiskType.CREDIT_Q: "CreditQualifying",
    RiskType.CREDIT_VOL: "CreditQualifying",
    RiskType.BASE_CORR: "CreditQualifying",
    RiskType.CREDIT_NON_Q: "CreditNonQualifying",
    RiskType.CREDIT_VOL_NON_Q: "CreditNonQualifying",
    RiskType.EQUITY: "Equity",
    RiskType.EQUITY_VOL: "Equity",
    RiskType.COMMODITY: "Commodity",
    RiskType.COMMODITY_VOL: "Commodity",
    RiskType.FX: "FX",
    RiskType.FX_VOL: "FX",
}


@dataclass(frozen=True)
class RiskClassMargin:
    """Margin of one risk class within one product class, USD: total = sum of the four parts."""

    delta: float
    vega: float
    curvature: float
    base_corr: float

    @property
    def total(self) -> float:
        return self.delta + self.vega + self.curvature + self.base_corr


@dataclass(frozen=True)
class ProductClassMargin:
    """SIMM_p = sqrt(sum_r IM_r^2 + sum_{r != s} psi_rs IM_r IM_s), USD."""

    name: str
    total: float
    risk_classes: tuple[tuple[str, RiskClassMargin], ...]


@dataclass(frozen=True)
class SimmResult:
    """SIMM = sum over product classes of SIMM_p (USD), with the calibration that produced it."""

    simm: float
    currency: str
    version: str
    mpor_days: int
    product_classes: tuple[ProductClassMargin, ...]

    def to_json(self) -> dict[str, Any]:
        """The ``solvent simm`` output object (docs/formats.md section 7)."""
        return {
            "simm": self.simm,
            "currency": self.currency,
            "version": self.version,
            "mpor_days": self.mpor_days,
            "product_classes": {
                pc.name: {
                    "total": pc.total,
                    "risk_classes": {
                        name: {
                            "total": rc.total,
                            "delta": rc.delta,
                            "vega": rc.vega,
                            "curvature": rc.curvature,
                            "base_corr": rc.base_corr,
                        }
                        for name, rc in pc.risk_classes
                    },
                }
                for pc in self.product_classes
            },
        }


# --- helpers ---------------------------------------------------------------------------------


def _codes(*columns: npt.NDArray[Any]) -> tuple[IntArray, IntArray]:
    """Group rows by the tuple of ``columns``: (group index per row, first row of each group)."""
    n = columns[0].shape[0]
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        uniq, inv = np.unique(col, return_inverse=True)
        key = key * np.int64(len(uniq) + 1) + inv.reshape(-1).astype(np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), first.astype(np.int64)


def _tenor_index(labels: StrArray, tenors: tuple[str, ...], lines: IntArray) -> IntArray:
    return _label_index(labels, tenors, lines, "Label1")


def _label_index(
    labels: StrArray, names: tuple[str, ...], lines: IntArray, column: str
) -> IntArray:
    """Index of each label in ``names`` (case-insensitive); unknown -> error naming the line."""
    lookup = {t.lower(): i for i, t in enumerate(names)}
    uniq, inv = np.unique(labels, return_inverse=True)
    out = np.empty(len(uniq), dtype=np.int64)
    for i, u in enumerate(uniq.tolist()):
        j = lookup.get(str(u).lower())
        if j is None:
            bad = int(lines[np.flatnonzero(inv.reshape(-1) == i)[0]])
            raise SolventInputError(
                f"crif[{bad}].{column}", f"unknown value {shown(u)} (expected one of {names})"
            )
        out[i] = j
    return out[inv.reshape(-1)]


@dataclass(frozen=True)
class _Lines:
    """The CRIF lines of one risk type set within one product class."""

    qualifier: StrArray
    bucket: StrArray
    label1: StrArray
    label2: StrArray
    amount: FloatArray
    line: IntArray
    risk_type: IntArray

    @staticmethod
    def of(crif: Crif, types: tuple[RiskType, ...]) -> _Lines:
        mask = np.isin(crif.risk_type, [_RT[t] for t in types])
        return _Lines(
            crif.qualifier[mask],
            crif.bucket[mask],
            crif.label1[mask],
            crif.label2[mask],
            crif.amount_usd[mask],
            crif.line[mask],
            crif.risk_type[mask],
        )

    @property
    def empty(self) -> bool:
        return self.amount.size == 0


# --- bucketed classes: equity, commodity, credit ----------------------------------------------


@dataclass(frozen=True)
class _Factors:
    """Risk factors after netting: per factor bucket, qualifier index, value; per qualifier CR."""

    bucket: IntArray  # per factor
    qualifier: IntArray  # per factor, into the per-qualifier arrays
    value: FloatArray  # per factor: weighted sensitivity (delta/vega) or CVR (curvature)
    q_bucket: IntArray  # per qualifier
    q_cr: FloatArray  # per qualifier concentration factor
    q_label2: IntArray  # per qualifier label2 code (credit non-qualifying groups)


def _net_factors(
    lines: _Lines, cls: BucketedClass
) -> tuple[IntArray, IntArray, IntArray, FloatArray, StrArray, StrArray]:
    """Net lines by (qualifier, bucket, label1, label2); return factor bucket, qualifier index,
    qualifier bucket, net amount, factor label1, qualifier label2."""
    b_line = _label_index(lines.bucket, cls.buckets, lines.line, "Bucket")
    f_idx, f_first = _codes(lines.qualifier, b_line, lines.label1, lines.label2)
    amount = group_sum(f_idx, lines.amount, len(f_first))
    f_bucket = b_line[f_first]
    q_idx, q_first = _codes(lines.qualifier[f_first], f_bucket)
    return (
        f_bucket,
        q_idx,
        f_bucket[q_first],
        amount,
        lines.label1[f_first],
        lines.label2[f_first][q_first],
    )


def _bucket_margins(
    cls: BucketedClass,
    fac: _Factors,
    rho_same: FloatArray,
    rho_diff: FloatArray,
    rho_group: FloatArray | None,
    use_cr: bool,
) -> tuple[FloatArray, FloatArray]:
    """K_b and sum of values per bucket.

    K_b^2 = sum_k v_k^2 + sum_{k != l} rho_kl f_kl v_k v_l with rho_kl = rho_same[b] within a
    qualifier, rho_diff[b] (or rho_group[b] for the same Label2 group) across qualifiers, and
    f_kl = min(CR)/max(CR) across qualifiers (1 within a qualifier, or always when not use_cr).
    """
    nb = len(cls.buckets)
    nq = fac.q_bucket.size
    v = fac.value
    w_q = group_sum(fac.qualifier, v, nq)
    sq_f = group_sum(fac.bucket, v * v, nb)
    within = group_sum(fac.q_bucket, w_q * w_q, nb) - sq_f
    cr = fac.q_cr if use_cr else np.ones(nq)
    cross = pair_sum_min_max(fac.q_bucket, w_q, cr, nb)
    k2 = sq_f + rho_same * within + rho_diff * cross
    if rho_group is not None:
        _, g_first = _codes(fac.q_bucket, fac.q_label2)
        g_idx, _ = _codes(fac.q_bucket, fac.q_label2)
        # pairs of different qualifiers in the same (bucket, Label2) group
        same_group = pair_sum_min_max(g_idx, w_q, cr, len(g_first))
        k2 = k2 + (rho_group - rho_diff) * group_sum(fac.q_bucket[g_first], same_group, nb)
    k = np.sqrt(np.maximum(k2, 0.0))
    return k, group_sum(fac.bucket, v, nb)


def _aggregate_buckets(
    cls: BucketedClass, k: FloatArray, total: FloatArray, present: npt.NDArray[np.bool_]
) -> float:
    """sqrt(sum K_b^2 + sum gamma_bc S_b S_c) over non-residual buckets, plus K_residual."""
    res = cls.residual
    idx = np.array([i for i in range(len(cls.buckets)) if i != res], dtype=np.int64)
    s = np.where(present[idx], clip_sum(total[idx], k[idx]), 0.0)
    margin = across_buckets(np.where(present[idx], k[idx], 0.0), s, cls.inter)
    return margin + (float(k[res]) if res is not None and present[res] else 0.0)


def _curvature_buckets(
    cls: BucketedClass,
    fac: _Factors,
    rho_same: FloatArray,
    rho_diff: FloatArray,
    rho_group: FloatArray | None,
    lambda_base: float,
    theta_by_qualifier: bool,
) -> float:
    """Curvature margin of a bucketed class: squared correlations, no concentration, the
    non-residual buckets with inter-bucket gamma^2, plus the residual bucket on its own.

    ``theta_by_qualifier``: theta's sums run over qualifiers (equity, commodity: the risk factor
    is the underlying, its vertices summed) rather than over (qualifier, vertex) (credit)."""
    rho_group2 = None if rho_group is None else rho_group**2
    k, total = _bucket_margins(cls, fac, rho_same**2, rho_diff**2, rho_group2, use_cr=False)
    present = np.bincount(fac.bucket, minlength=len(cls.buckets)) > 0
    res = cls.residual
    idx = np.array([i for i in range(len(cls.buckets)) if i != res], dtype=np.int64)
    non_res = fac.bucket != (res if res is not None else -1)
    s = np.where(present[idx], clip_sum(total[idx], k[idx]), 0.0)
    kk = np.where(present[idx], k[idx], 0.0)
    # theta uses the CVR of each risk factor k = qualifier (summed over its vertices)
    if theta_by_qualifier:
        cvr_q = group_sum(fac.qualifier, fac.value, fac.q_bucket.size)
        q_non_res = fac.q_bucket != (res if res is not None else -1)
    else:
        cvr_q, q_non_res = fac.value, non_res
    margin = curvature_margin(cvr_q[q_non_res], kk, s, cls.inter**2, lambda_base)
    if res is not None and present[res]:
        cvr = cvr_q[~q_non_res]
        margin += curvature_margin(
            cvr, k[[res]], clip_sum(total[[res]], k[[res]]), np.ones((1, 1)), lambda_base
        )
    return margin


def _bucketed_class(
    lines_delta: _Lines,
    lines_vol: _Lines,
    cls: BucketedClass,
    cal: SimmCalibration,
    rho_same: FloatArray,
    rho_diff: FloatArray,
    rho_group: FloatArray | None,
    sigma_from_delta: bool,
) -> tuple[float, float, float]:
    """Delta, vega and curvature margins of equity, commodity or credit lines."""
    nb = len(cls.buckets)
    delta = vega = curvature = 0.0
    if not lines_delta.empty:
        f_b, q_idx, q_b, s, _, q_l2 = _net_factors(lines_delta, cls)
        net_q = group_sum(q_idx, s, q_b.size)
        cr = (
            concentration_factor(net_q, cls.delta_threshold[q_b])
            if cal.concentration_enabled
            else np.ones(q_b.size)
        )
        ws = cls.delta_rw[f_b] * s * cr[q_idx]
        fac = _Factors(f_b, q_idx, ws, q_b, cr, _codes(q_l2)[0])
        k, total = _bucket_margins(cls, fac, rho_same, rho_diff, rho_group, use_cr=True)
        present = np.bincount(f_b, minlength=nb) > 0
        delta = _aggregate_buckets(cls, k, total, present)
    if not lines_vol.empty:
        _tenor_index(lines_vol.label1, cal.interest_rate.tenors, lines_vol.line)  # validate
        f_b, q_idx, q_b, s, label1, q_l2 = _net_factors(lines_vol, cls)
        tenor = _tenor_index(label1, cal.interest_rate.tenors, np.zeros(label1.size, np.int64))
        sigma = cal.sigma_multiplier * cls.delta_rw[f_b] if sigma_from_delta else np.ones(f_b.size)
        raw = sigma * s
        net_q = cls.hvr * group_sum(q_idx, raw, q_b.size)  # VCR on HVR x sigma x vega
        vcr = (
            concentration_factor(net_q, cls.vega_threshold[q_b])
            if cal.concentration_enabled
            else np.ones(q_b.size)
        )
        vr = cls.hvr * cls.vega_rw[f_b] * raw * vcr[q_idx]
        l2 = _codes(q_l2)[0]
        fac = _Factors(f_b, q_idx, vr, q_b, vcr, l2)
        k, total = _bucket_margins(cls, fac, rho_same, rho_diff, rho_group, use_cr=True)
        present = np.bincount(f_b, minlength=nb) > 0
        vega = _aggregate_buckets(cls, k, total, present)
        sf = np.array([cal.curvature_scale(t) for t in cal.interest_rate.tenors])[tenor]
        excluded = np.array([b in cls.curvature_excluded for b in cls.buckets])
        cvr = np.where(excluded[f_b], 0.0, sf * raw)
        fac_c = _Factors(f_b, q_idx, cvr, q_b, np.ones(q_b.size), l2)
        curvature = _curvature_buckets(
            cls, fac_c, rho_same, rho_diff, rho_group, cal.curvature_lambda_base, sigma_from_delta
        )
    return delta, vega, curvature


# --- interest rates ---------------------------------------------------------------------------


def _interest_rate(crif: Crif, cal: SimmCalibration) -> tuple[float, float, float] | None:
    ir = cal.interest_rate
    nt, ns = len(ir.tenors), len(ir.sub_curves)
    curve = _Lines.of(crif, (RiskType.IR_CURVE, RiskType.INFLATION, RiskType.XCCY_BASIS))
    vol = _Lines.of(crif, (RiskType.IR_VOL, RiskType.INFLATION_VOL))
    if curve.empty and vol.empty:
        return None
    delta = vega = curvature = 0.0
    if not curve.empty:
        ccys, c_idx = np.unique(curve.qualifier, return_inverse=True)
        c_idx = c_idx.reshape(-1)
        nc = len(ccys)
        is_curve = curve.risk_type == _RT[RiskType.IR_CURVE]
        is_infl = curve.risk_type == _RT[RiskType.INFLATION]
        col = np.where(is_infl, nt * ns, nt * ns + 1).astype(np.int64)
        rw = np.where(is_infl, ir.inflation_rw, ir.xccy_rw)
        if np.any(is_curve):
            t = _tenor_index(curve.label1[is_curve], ir.tenors, curve.line[is_curve])
            u = _label_index(curve.label2[is_curve], ir.sub_curves, curve.line[is_curve], "Label2")
            col[is_curve] = t * ns + u
            groups = tuple(sorted(ir.delta_rw))
            table = np.stack([ir.delta_rw[g] for g in groups])
            q_uniq, q_inv = np.unique(curve.qualifier[is_curve], return_inverse=True)
            ccy_group = np.array([groups.index(ir.vol_group(str(c))) for c in q_uniq.tolist()])
            bucket = curve.bucket[is_curve]
            explicit = np.isin(bucket, groups)
            g_idx = np.where(
                explicit,
                np.searchsorted(np.array(groups), np.where(explicit, bucket, groups[0])),
                ccy_group[q_inv.reshape(-1)],
            )
            rw[is_curve] = table[g_idx, t]
        conc_base = np.where(is_curve | is_infl, curve.amount, 0.0)
        net = group_sum(c_idx, conc_base, nc)
        thresholds = np.array([ir.delta_threshold(str(c)) for c in ccys])
        cr = concentration_factor(net, thresholds) if cal.concentration_enabled else np.ones(nc)
        ws = rw * curve.amount * np.where(is_curve | is_infl, cr[c_idx], 1.0)
        w = np.zeros((nc, nt * ns + 2))
        np.add.at(w, (c_idx, col), ws)
        corr = np.empty((nt * ns + 2, nt * ns + 2))
        sub_corr = np.where(np.eye(ns, dtype=bool), 1.0, ir.sub_curve_corr)
        corr[: nt * ns, : nt * ns] = np.kron(ir.tenor_corr, sub_corr)
        corr[: nt * ns, nt * ns] = corr[nt * ns, : nt * ns] = ir.inflation_corr
        corr[:, nt * ns + 1] = corr[nt * ns + 1, :] = ir.xccy_corr
        corr[nt * ns, nt * ns] = corr[nt * ns + 1, nt * ns + 1] = 1.0
        k = np.sqrt(np.maximum(np.einsum("ci,ij,cj->c", w, corr, w), 0.0))
        s = clip_sum(w.sum(axis=1), k)
        g = np.minimum.outer(cr, cr) / np.maximum.outer(cr, cr)
        delta = across_buckets(k, s, ir.inter_currency_corr * g)
    if not vol.empty:
        ccys, c_idx = np.unique(vol.qualifier, return_inverse=True)
        c_idx = c_idx.reshape(-1)
        nc = len(ccys)
        t = _tenor_index(vol.label1, ir.tenors, vol.line)
        is_infl = vol.risk_type == _RT[RiskType.INFLATION_VOL]
        col = t + np.where(is_infl, nt, 0)
        net = group_sum(c_idx, vol.amount, nc)
        thresholds = np.array([ir.vega_threshold(str(c)) for c in ccys])
        vcr = concentration_factor(net, thresholds) if cal.concentration_enabled else np.ones(nc)
        rw = np.where(is_infl, ir.inflation_vol_rw, ir.vega_rw)
        corr = np.block(
            [
                [ir.tenor_corr, np.full((nt, nt), ir.inflation_vol_corr)],
                [np.full((nt, nt), ir.inflation_vol_corr), np.ones((nt, nt))],
            ]
        )
        w = np.zeros((nc, 2 * nt))
        np.add.at(w, (c_idx, col), rw * vol.amount * vcr[c_idx])
        k = np.sqrt(np.maximum(np.einsum("ci,ij,cj->c", w, corr, w), 0.0))
        s = clip_sum(w.sum(axis=1), k)
        g = np.minimum.outer(vcr, vcr) / np.maximum.outer(vcr, vcr)
        vega = across_buckets(k, s, ir.inter_currency_corr * g)
        sf = np.array([cal.curvature_scale(x) for x in ir.tenors])
        cv = np.zeros((nc, 2 * nt))
        np.add.at(cv, (c_idx, col), sf[t] * vol.amount)
        k = np.sqrt(np.maximum(np.einsum("ci,ij,cj->c", cv, corr**2, cv), 0.0))
        s = clip_sum(cv.sum(axis=1), k)
        gamma2 = np.full((nc, nc), ir.inter_currency_corr**2)
        cvr = cv[cv != 0.0]
        curvature = curvature_margin(cvr, k, s, gamma2, cal.curvature_lambda_base) / ir.hvr**2
    return delta, vega, curvature


# --- FX ---------------------------------------------------------------------------------------


def _fx(crif: Crif, cal: SimmCalibration, currency: str) -> tuple[float, float, float] | None:
    fx = cal.fx
    d_lines = _Lines.of(crif, (RiskType.FX,))
    v_lines = _Lines.of(crif, (RiskType.FX_VOL,))
    if d_lines.empty and v_lines.empty:
        return None
    delta = vega = curvature = 0.0
    calc_group = fx.group(currency)
    keep = np.char.upper(d_lines.qualifier) != currency
    if np.any(keep):
        ccys, c_idx = np.unique(np.char.upper(d_lines.qualifier[keep]), return_inverse=True)
        s = group_sum(c_idx.reshape(-1), d_lines.amount[keep], len(ccys))
        groups = np.array([fx.group(str(c)) for c in ccys])
        thresholds = np.array([fx.delta_thresholds[fx.category(str(c))] for c in ccys])
        cr = concentration_factor(s, thresholds) if cal.concentration_enabled else np.ones(s.size)
        ws = fx.delta_rw[calc_group][groups] * s * cr
        base = fx.corr_regular if calc_group == 0 else fx.corr_high
        rho = base[np.ix_(groups, groups)] * np.minimum.outer(cr, cr) / np.maximum.outer(cr, cr)
        np.fill_diagonal(rho, 1.0)
        delta = float(np.sqrt(max(float(ws @ rho @ ws), 0.0)))
    if not v_lines.empty:
        pairs = np.char.upper(v_lines.qualifier)
        if np.any(np.char.str_len(pairs) != 6):
            bad = int(v_lines.line[np.flatnonzero(np.char.str_len(pairs) != 6)[0]])
            raise SolventInputError(f"crif[{bad}].Qualifier", "FXVol qualifier must be a pair")
        c1, c2 = np.char.ljust(pairs, 3).astype("<U3"), np.array([p[3:] for p in pairs.tolist()])
        lo = np.where(c1 <= c2, c1, c2)
        hi = np.where(c1 <= c2, c2, c1)
        key = np.char.add(lo, hi)
        t = _tenor_index(v_lines.label1, cal.interest_rate.tenors, v_lines.line)
        uniq, p_idx = np.unique(key, return_inverse=True)
        p_idx = p_idx.reshape(-1)
        g1 = np.array([fx.group(str(u)[:3]) for u in uniq])
        g2 = np.array([fx.group(str(u)[3:]) for u in uniq])
        sigma = cal.sigma_multiplier * fx.delta_rw[g2, g1]
        raw = sigma[p_idx] * v_lines.amount
        net = group_sum(p_idx, raw, len(uniq))
        cats = ["".join(sorted(fx.category(str(u)[:3]) + fx.category(str(u)[3:]))) for u in uniq]
        thresholds = np.array([fx.vega_thresholds[c] for c in cats])
        vcr = (
            concentration_factor(fx.hvr * net, thresholds)
            if cal.concentration_enabled
            else np.ones(net.size)
        )
        vr = fx.hvr * fx.vega_rw * net * vcr
        rho = fx.vega_corr * np.minimum.outer(vcr, vcr) / np.maximum.outer(vcr, vcr)
        np.fill_diagonal(rho, 1.0)
        vega = float(np.sqrt(max(float(vr @ rho @ vr), 0.0)))
        sf = np.array([cal.curvature_scale(x) for x in cal.interest_rate.tenors])
        cvr = group_sum(p_idx, sf[t] * raw, len(uniq))
        rho2 = np.full((cvr.size, cvr.size), fx.vega_corr**2)
        np.fill_diagonal(rho2, 1.0)
        k = np.sqrt(max(float(cvr @ rho2 @ cvr), 0.0))
        curvature = curvature_margin(
            cvr,
            np.array([k]),
            clip_sum(np.array([cvr.sum()]), np.array([k])),
            np.ones((1, 1)),
            cal.curvature_lambda_base,
        )
    return delta, vega, curvature


# --- base correlation -------------------------------------------------------------------------


def _base_corr(crif: Crif, cal: SimmCalibration) -> float | None:
    lines = _Lines.of(crif, (RiskType.BASE_CORR,))
    if lines.empty:
        return None
    uniq, idx = np.unique(lines.qualifier, return_inverse=True)
    ws = cal.credit_q_extra.base_corr_rw * group_sum(idx.reshape(-1), lines.amount, len(uniq))
    rho = cal.credit_q_extra.base_corr_corr
    k2 = (1.0 - rho) * float(ws @ ws) + rho * float(ws.sum()) ** 2
    return float(np.sqrt(max(k2, 0.0)))


# --- product classes --------------------------------------------------------------------------


def _risk_classes(crif: Crif, cal: SimmCalibration, currency: str) -> dict[str, RiskClassMargin]:
    out: dict[str, RiskClassMargin] = {}
    ir = _interest_rate(crif, cal)
    if ir is not None:
        out["InterestRate"] = RiskClassMargin(ir[0], ir[1], ir[2], 0.0)
    for name, cls, extra, d_t, v_t in (
        (
            "CreditQualifying",
            cal.credit_qualifying,
            cal.credit_q_extra,
            RiskType.CREDIT_Q,
            RiskType.CREDIT_VOL,
        ),
        (
            "CreditNonQualifying",
            cal.credit_non_qualifying,
            cal.credit_nq_extra,
            RiskType.CREDIT_NON_Q,
            RiskType.CREDIT_VOL_NON_Q,
        ),
    ):
        d_lines, v_lines = _Lines.of(crif, (d_t,)), _Lines.of(crif, (v_t,))
        bc = _base_corr(crif, cal) if name == "CreditQualifying" else None
        if d_lines.empty and v_lines.empty and bc is None:
            continue
        is_res = np.array([b == "Residual" for b in cls.buckets])
        rho_diff = cls.intra
        rho_same = np.where(is_res, extra.residual_corr, cls.same_qualifier_corr)
        # Credit non-qualifying (v2.2+): same/different correlation by Label2 group, not name
        rho_group = rho_same if name == "CreditNonQualifying" else None
        d, v, c = _bucketed_class(d_lines, v_lines, cls, cal, rho_same, rho_diff, rho_group, False)
        out[name] = RiskClassMargin(d, v, c, bc or 0.0)
    for name, cls, d_t, v_t in (
        ("Equity", cal.equity, RiskType.EQUITY, RiskType.EQUITY_VOL),
        ("Commodity", cal.commodity, RiskType.COMMODITY, RiskType.COMMODITY_VOL),
    ):
        d_lines, v_lines = _Lines.of(crif, (d_t,)), _Lines.of(crif, (v_t,))
        if d_lines.empty and v_lines.empty:
            continue
        rho_same = np.ones(len(cls.buckets))
        d, v, c = _bucketed_class(d_lines, v_lines, cls, cal, rho_same, cls.intra, None, True)
        out[name] = RiskClassMargin(d, v, c, 0.0)
    fx = _fx(crif, cal, currency)
    if fx is not None:
        out["FX"] = RiskClassMargin(fx[0], fx[1], fx[2], 0.0)
    return out


def compute_simm(crif: Crif, calibration: SimmCalibration, currency: str = "USD") -> SimmResult:
    """ISDA SIMM of the CRIF under ``calibration``; ``currency`` is the calculation currency
    (only USD: CRIF ``AmountUSD`` values are used as they are)."""
    if currency.upper() not in SUPPORTED_CURRENCIES:
        raise SolventInputError(
            "currency", f"unsupported calculation currency {currency!r} (supported: USD)"
        )
    currency = currency.upper()
    products: list[ProductClassMargin] = []
    for p, pc in enumerate(PRODUCT_CLASSES):
        mask = crif.product_class == p
        if not np.any(mask):
            continue
        rcs = _risk_classes(crif.select(mask), calibration, currency)
        im = np.array([rcs[r].total if r in rcs else 0.0 for r in RISK_CLASSES])
        total = float(np.sqrt(max(float(im @ calibration.psi @ im), 0.0)))
        ordered = tuple((r, rcs[r]) for r in RISK_CLASSES if r in rcs)
        products.append(ProductClassMargin(pc.value, total, ordered))
    return SimmResult(
        simm=float(sum(p.total for p in products)),
        currency=currency,
        version=calibration.version,
        mpor_days=calibration.mpor_days,
        product_classes=tuple(products),
    )
