"""Derive v2 portfolio margin, PMRM_2 (``derive-pm``): our implementation of the published rules.

Sign convention (Derive's): a margin is *equity minus requirement*, USD; >= 0 passes, < 0 is the
shortfall. ``im`` and ``mm`` in :class:`PMRM2Result` follow it; ``im_requirement`` and
``mm_requirement`` give the positive requirement (``mtm - im``, ``mtm - mm``) used by Solvent's
common output. Scenario P&L is the USD change of the portfolio's value in a scenario (< 0 = loss).

Algorithm (docs/methodology/derive.md, research note 1.3):

1. Per expiry: discount = exp(-max(rate, 0) * tau); MtM = sum amount * Black76(F, K, tau, vol, D);
   vol multipliers up/down from (30 d / max(sec, floor)) ** power; static discounts
   pos = longBase * exp(-tau (r longMult + longAdd)), neg = min(1/D, shortBase / exp(-tau (r
   shortMult + shortAdd))); the basis contingency min(up - mtm, down - mtm, 0) * (add + mult tau)
   at the spot moves scenarioSpotUp/Down; naked shorts by strike; |amount| total.
2. Each scenario (s, vol leg, dampening d): every expiry is re-priced with F' = variable * s +
   fixed and the vol leg (Up: max(minVolUpShock, vol * up), Down: vol * down, skew: the Linear or
   Abs smile multiplier with F unmoved), scaled by the static discount of its sign, and its change
   against the current MtM times d is the expiry's P&L (skew scenarios count -|P&L| per expiry);
   plus the perp (position * (s - 1) * perp price * d) and the risk-cancelling collaterals
   (value * (s - 1) * d).
3. worst = min(basis contingency, min scenario P&L) (strict <, basis first);
   MM = mmFactor * worst - MM contingencies + MtM; IM = (imFactor + peg) * worst - MM
   contingencies - IM add-ons - confidence charges + MtM; MtM includes cash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.margin.derive._core import (
    confidence_charge,
    expiry_confidence,
    expiry_values,
    market_confidence,
    naked_shorts,
    net_options,
    vol_shock_multipliers,
    years,
)
from solvent.margin.derive.params import MarginParams2, PMRM2Params, SkewParams, VolShock
from solvent.margin.derive.portfolio import DerivePortfolio

MODEL_NAME = "derive-pm"
BASIS_LABEL = "basis contingency"

_MODE_NONE, _MODE_UP, _MODE_DOWN, _MODE_LINEAR, _MODE_ABS = 0, 1, 2, 3, 4
_MODE_OF = {
    VolShock.NONE: _MODE_NONE,
    VolShock.UP: _MODE_UP,
    VolShock.DOWN: _MODE_DOWN,
    VolShock.LINEAR: _MODE_LINEAR,
    VolShock.ABS: _MODE_ABS,
}


@dataclass(frozen=True)
class PMRM2Expiries:
    """Per-expiry intermediates (arrays with one entry per expiry of the market)."""

    mtm: FloatArray
    discount: FloatArray
    vol_shock_up: FloatArray
    vol_shock_down: FloatArray
    static_discount_pos: FloatArray
    static_discount_neg: FloatArray
    basis_contingency: FloatArray
    naked_shorts: FloatArray
    net_options: FloatArray
    min_confidence: FloatArray


@dataclass(frozen=True)
class PMRM2Result:
    """PMRM_2 margins of one sub-account (USD, Derive's sign: margin = equity - requirement).

    ``scenario_pnl[i]`` is the (dampened, statically discounted) P&L of scenario ``i``;
    ``worst_index`` is ``len(scenario_pnl)`` when the basis contingency is the worst case.
    ``components`` names every additive piece: ``im = im_factor_total * worst_loss
    - mm_contingency - im_contingency + mtm`` and ``mm = mm_factor * worst_loss - mm_contingency
    + mtm`` (the contingency totals are themselves sums of the named parts).
    """

    model: str
    parameters: str
    im: float
    mm: float
    mtm: float
    scenario_pnl: FloatArray
    scenario_labels: tuple[str, ...]
    worst_index: int
    worst_label: str
    worst_loss: float
    components: dict[str, float]
    expiries: PMRM2Expiries

    @property
    def im_requirement(self) -> float:
        """Initial margin requirement (USD, >= 0 unless the worst case is a gain)."""
        return self.mtm - self.im

    @property
    def mm_requirement(self) -> float:
        """Maintenance margin requirement (USD)."""
        return self.mtm - self.mm


def _skew_vols(
    mode: int,
    vol: FloatArray,
    strike: FloatArray,
    forward: FloatArray,
    tau: FloatArray,
    sk: SkewParams,
) -> FloatArray:
    """Vols under the Linear or Abs skew shock (F unmoved), per option.

    cap = cBase sqrt(tau) + baseCap; k* = max(minKStar, sqrt(tau) widthScale (volParamStatic +
    sqrt(tau) volParamScale)); k = ln(K/F) (|k| for Abs); multiplier 1 + clamp(k cap / k*) with the
    clamp at +cap for k >= 0 and -cap for k < 0; vol' = vol * max(multiplier, 0).
    """
    sqrt_tau = np.sqrt(tau)
    linear = mode == _MODE_LINEAR
    cap = (sk.linear_c_base if linear else sk.abs_c_base) * sqrt_tau + (
        sk.linear_base_cap if linear else sk.abs_base_cap
    )
    k_star = np.maximum(
        sk.min_k_star,
        sqrt_tau * sk.width_scale * (sk.vol_param_static + sqrt_tau * sk.vol_param_scale),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.log(strike / forward)
        if not linear:
            k = np.abs(k)
        slope = np.where(cap == 0.0, 0.0, cap / k_star)
        raw = np.where(k == 0.0, 0.0, k * slope)
    raw = np.nan_to_num(raw, nan=0.0)
    shift = np.where(k >= 0.0, np.minimum(cap, raw), np.maximum(-cap, raw))
    return np.asarray(vol * np.maximum(1.0 + shift, 0.0), dtype=np.float64)


def static_discounts(
    mp: MarginParams2, tau: FloatArray, rate: FloatArray, discount: FloatArray, sec: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per expiry, the static discounts ``(positive, negative)`` applied to a scenario's gain and
    loss (``discount = exp(-rate * tau)``). An expired expiry (sec = 0) is worth its settlement
    value: no static discount (both 1), as the upstream fixture test_66_misc_post_expiry reports."""
    static_pos = mp.long_base_static_discount * np.exp(
        -tau * (rate * mp.long_rate_mult_scale + mp.long_rate_add_scale)
    )
    static_neg = np.minimum(
        1.0 / discount,
        mp.short_base_static_discount
        / np.exp(-tau * (rate * mp.short_rate_mult_scale + mp.short_rate_add_scale)),
    )
    expired = sec <= 0.0
    return np.where(expired, 1.0, static_pos), np.where(expired, 1.0, static_neg)


def pmrm2_margin(portfolio: DerivePortfolio, params: PMRM2Params) -> PMRM2Result:
    """IM, MM, MtM and every scenario P&L of ``portfolio`` under PMRM_2 ``params``."""
    portfolio.validate()
    mkt = portfolio.market
    opts = mkt.options
    vs, mp, bp, op, sk = params.vol_shock, params.margin, params.basis, params.other, params.skew
    if mkt.base_position != 0.0:
        raise SolventInputError(
            "market.base_position",
            "PMRM_2 has no built-in base asset: pass the base balance as a collateral",
        )
    for i, c in enumerate(portfolio.collaterals):
        if c.name not in params.collaterals:
            raise SolventInputError(
                f"collaterals[{i}].name",
                f"collateral {c.name!r} is not enabled in parameter set {params.name!r}",
            )

    # --- arrangement ------------------------------------------------------------------------
    spot = mkt.spot
    ex = mkt.expiry_arrays()
    n_exp = len(mkt.expiries)
    sec = ex["sec"]
    tau = years(sec)
    rate = np.maximum(ex["rate"], 0.0)
    discount = np.exp(-rate * tau)
    port_conf = market_confidence(mkt)
    exp_conf = expiry_confidence(mkt, ex)

    # --- evaluation rows: base, basis up, basis down, then every scenario ----------------------
    scen = params.scenarios
    spot_rows = np.array(
        [1.0, bp.scenario_spot_up, bp.scenario_spot_down] + [s.spot_shock for s in scen]
    )
    mode_rows = np.array([_MODE_NONE] * 3 + [_MODE_OF[s.vol_shock] for s in scen])
    n_rows = spot_rows.shape[0]
    up, down = vol_shock_multipliers(
        sec,
        vs.vol_range_up,
        vs.vol_range_down,
        vs.short_term_power,
        vs.long_term_power,
        vs.dte_floor_days,
    )
    e_idx = opts.expiry_index
    fwd_var, fwd_fix = ex["variable"][e_idx], ex["fixed"][e_idx]
    is_skew_row = (mode_rows == _MODE_LINEAR) | (mode_rows == _MODE_ABS)
    row_spot = np.where(is_skew_row, 1.0, spot_rows)  # skew scenarios never move the forward
    fwd = fwd_var[None, :] * row_spot[:, None] + fwd_fix[None, :]
    vol = np.broadcast_to(opts.vol[None, :], (n_rows, len(opts))).copy()
    opt_up, opt_down = up[e_idx], down[e_idx]
    m = mode_rows[:, None]
    vol = np.where(m == _MODE_UP, np.maximum(vs.min_vol_up_shock, vol * opt_up[None, :]), vol)
    vol = np.where(m == _MODE_DOWN, vol * opt_down[None, :], vol)
    opt_tau = tau[e_idx]
    for mode in (_MODE_LINEAR, _MODE_ABS):
        rows = np.flatnonzero(mode_rows == mode)
        if rows.size and len(opts):
            vol[rows, :] = _skew_vols(mode, opts.vol, opts.strike, fwd_var + fwd_fix, opt_tau, sk)[
                None, :
            ]
    values = expiry_values(opts, n_exp, fwd, vol, discount[e_idx], opt_tau)  # rows x expiries
    e_mtm = values[0]

    # --- precomputes ----------------------------------------------------------------------------
    basis_factor = bp.basis_cont_add_factor + bp.basis_cont_mult_factor * tau
    e_basis = np.minimum(np.minimum(values[1] - e_mtm, values[2] - e_mtm), 0.0) * basis_factor
    basis = float(e_basis.sum())
    static_pos, static_neg = static_discounts(mp, tau, rate, discount, sec)
    naked = naked_shorts(opts, n_exp)
    net = net_options(opts, n_exp)

    perp_notional = abs(mkt.perp_position) * spot
    mm_perp = perp_notional * op.mm_perp_percent
    im_perp = perp_notional * op.im_perp_percent
    conf_perp = float(
        confidence_charge(port_conf, perp_notional, op.conf_threshold, op.conf_margin)
    )
    mm_option = float(naked.sum()) * spot * op.mm_option_percent
    im_option = float(naked.sum()) * spot * op.im_option_percent
    conf_option = float(
        confidence_charge(exp_conf, net * spot, op.conf_threshold, op.conf_margin).sum()
    )

    n_col = len(portfolio.collaterals)
    c_value = np.array(
        [c.amount * c.price / portfolio.stable_price for c in portfolio.collaterals], dtype=float
    ).reshape(n_col)
    c_conf = np.array(
        [min(c.confidence, mkt.spot_confidence) for c in portfolio.collaterals], dtype=float
    ).reshape(n_col)
    specs = [params.collaterals[c.name] for c in portfolio.collaterals]
    c_mm = np.array([s.mm_haircut for s in specs], dtype=float).reshape(n_col)
    c_im = np.array([s.im_haircut for s in specs], dtype=float).reshape(n_col)
    c_rc = np.array([s.risk_cancelling for s in specs], dtype=bool).reshape(n_col)
    mm_collateral = float((c_value * c_mm).sum())
    im_collateral = float((c_value * c_im).sum())
    conf_collateral = float(
        confidence_charge(c_conf, c_value, op.conf_threshold, op.conf_margin).sum()
    )
    collateral_mtm = float(c_value.sum())
    option_mtm = float(e_mtm.sum())
    total_mtm = mkt.perp_value + option_mtm + collateral_mtm

    mm_cont = mm_perp + mm_option + mm_collateral
    conf_total = conf_perp + conf_option + conf_collateral
    im_cont = im_perp + im_option + im_collateral + conf_total

    # --- scenario P&L ---------------------------------------------------------------------------
    s_spot = spot_rows[3:]
    damp = np.array([s.dampening for s in scen], dtype=float)
    x = values[3:]
    x = x * np.where(x >= 0.0, static_pos[None, :], static_neg[None, :])
    p = (x - e_mtm[None, :]) * damp[:, None]
    p = np.where(is_skew_row[3:, None], -np.abs(p), p)
    pnl = p.sum(axis=1)
    pnl = pnl + mkt.perp_position * (s_spot - 1.0) * mkt.perp_price * damp
    rc_value = float(c_value[c_rc].sum())
    pnl = pnl + rc_value * (s_spot - 1.0) * damp

    # --- margin --------------------------------------------------------------------------------
    n_s = len(scen)
    worst_index, worst = n_s, basis
    if n_s:
        i = int(np.argmin(pnl))
        if pnl[i] < basis:
            worst_index, worst = i, float(pnl[i])
    peg = 0.0
    if portfolio.stable_price < op.peg_loss_threshold:
        peg = (op.peg_loss_threshold - portfolio.stable_price) * op.peg_loss_factor
    mtm = total_mtm + portfolio.cash
    im = worst * (mp.im_factor + peg) - im_cont - mm_cont + mtm
    mm = worst * mp.mm_factor - mm_cont + mtm
    labels = tuple(s.label for s in scen)
    components = {
        "worst_loss": worst,
        "im_factor": mp.im_factor,
        "peg_loss_addon_factor": peg,
        "mm_factor": mp.mm_factor,
        "basis_contingency": basis,
        "mm_contingency": mm_cont,
        "mm_perp_contingency": mm_perp,
        "mm_option_contingency": mm_option,
        "mm_collateral_haircut": mm_collateral,
        "im_contingency": im_cont,
        "im_perp_addon": im_perp,
        "im_option_addon": im_option,
        "im_collateral_addon": im_collateral,
        "confidence_contingency": conf_total,
        "confidence_perp": conf_perp,
        "confidence_option": conf_option,
        "confidence_collateral": conf_collateral,
        "option_mtm": option_mtm,
        "collateral_mtm": collateral_mtm,
        "perp_value": mkt.perp_value,
        "cash": portfolio.cash,
        "naked_shorts": float(naked.sum()),
    }
    return PMRM2Result(
        model=MODEL_NAME,
        parameters=f"{params.name}@{params.version}",
        im=float(im),
        mm=float(mm),
        mtm=float(mtm),
        scenario_pnl=np.asarray(pnl, dtype=np.float64),
        scenario_labels=labels,
        worst_index=worst_index,
        worst_label=labels[worst_index] if worst_index < n_s else BASIS_LABEL,
        worst_loss=worst,
        components=components,
        expiries=PMRM2Expiries(
            mtm=e_mtm,
            discount=discount,
            vol_shock_up=up,
            vol_shock_down=down,
            static_discount_pos=static_pos,
            static_discount_neg=static_neg,
            basis_contingency=e_basis,
            naked_shorts=naked,
            net_options=net,
            min_confidence=exp_conf,
        ),
    )
