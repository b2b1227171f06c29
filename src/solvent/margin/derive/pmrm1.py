"""Derive v2 portfolio margin, PMRM v1 (``derive-pm`` with a v1 parameter set).

Same sign convention as :mod:`solvent.margin.derive.pmrm2` (margin = equity - requirement, USD).
Differences from PMRM_2 (research note 1.5; docs/methodology/derive.md):

- options are priced undiscounted (discount 1); rates enter only the single static discount
  ``baseStaticDiscount * exp(-tau (rate * rateMultScale + rateAddScale))``, applied to a shocked
  expiry value only when it is > 0;
- the manager's base asset is built in and always risk-cancelling: value = position * spot /
  stable, scenario P&L = value * (s - 1);
- no up-shock vol floor, no skew scenarios, no dampening, no collateral list;
- static contingency = (|perp| perpPercent + base basePercent) spot + sum naked shorts *
  optionPercent * spot; confidence contingency = Conf(minConf, (|perp| + base) spot) + sum over
  expiries Conf(expiry conf, |options| spot);
- MM = worst - static + MtM;  IM = (worst - static) (imFactor + peg) - confidence + MtM,
  with worst = min(basis contingency, min scenario P&L) and MtM including cash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
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
from solvent.margin.derive.params import PMRM1Params, VolShock
from solvent.margin.derive.pmrm2 import BASIS_LABEL
from solvent.margin.derive.portfolio import DerivePortfolio

MODEL_NAME = "derive-pmrm1"


@dataclass(frozen=True)
class PMRM1Result:
    """PMRM v1 margins of one sub-account (USD, margin = equity - requirement).

    ``components`` names every piece: ``mm = worst_loss - static_contingency + mtm`` and
    ``im = (worst_loss - static_contingency) * (im_factor + peg) - confidence_contingency + mtm``.
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

    @property
    def im_requirement(self) -> float:
        return self.mtm - self.im

    @property
    def mm_requirement(self) -> float:
        return self.mtm - self.mm


def pmrm1_margin(portfolio: DerivePortfolio, params: PMRM1Params) -> PMRM1Result:
    """IM, MM, MtM and every scenario P&L of ``portfolio`` under PMRM v1 ``params``."""
    portfolio.validate()
    mkt = portfolio.market
    opts = mkt.options
    bp, op, mp, vp = params.basis, params.other, params.margin, params.vol
    spot, stable = mkt.spot, portfolio.stable_price
    ex = mkt.expiry_arrays()
    n_exp = len(mkt.expiries)
    sec = ex["sec"]
    tau = years(sec)
    rate = ex["rate"]
    min_conf = market_confidence(mkt)
    exp_conf = expiry_confidence(mkt, ex)

    scen = params.scenarios
    spot_rows = np.array(
        [1.0, bp.scenario_spot_up, bp.scenario_spot_down] + [s.spot_shock for s in scen]
    )
    up, down = vol_shock_multipliers(
        sec,
        vp.vol_range_up,
        vp.vol_range_down,
        vp.short_term_power,
        vp.long_term_power,
        vp.dte_floor_days,
    )
    e_idx = opts.expiry_index
    fwd = ex["variable"][e_idx][None, :] * spot_rows[:, None] + ex["fixed"][e_idx][None, :]
    mult_rows = np.ones((spot_rows.shape[0], n_exp))
    for j, s in enumerate(scen):
        if s.vol_shock is VolShock.UP:
            mult_rows[3 + j] = up
        elif s.vol_shock is VolShock.DOWN:
            mult_rows[3 + j] = down
    vol = opts.vol[None, :] * mult_rows[:, e_idx]
    values = expiry_values(opts, n_exp, fwd, vol, np.ones(len(opts)), tau[e_idx])
    e_mtm = values[0]

    basis_factor = bp.basis_cont_add_factor + bp.basis_cont_mult_factor * tau
    e_basis = np.minimum(np.minimum(values[1] - e_mtm, values[2] - e_mtm), 0.0) * basis_factor
    basis = float(e_basis.sum())
    static = mp.base_static_discount * np.exp(
        -tau * (rate * mp.rate_mult_scale + mp.rate_add_scale)
    )

    s_spot = spot_rows[3:]
    x = values[3:]
    x = np.where(x > 0.0, x * static[None, :], x)
    pnl = (x - e_mtm[None, :]).sum(axis=1)
    pnl = pnl + mkt.perp_position * (s_spot - 1.0) * mkt.perp_price
    base_value = mkt.base_position * spot / stable
    pnl = pnl + base_value * (s_spot - 1.0)

    naked = naked_shorts(opts, n_exp)
    net = net_options(opts, n_exp)
    static_perp = abs(mkt.perp_position) * op.perp_percent * spot
    static_base = mkt.base_position * op.base_percent * spot
    static_option = float(naked.sum()) * op.option_percent * spot
    static_cont = static_perp + static_base + static_option
    conf_delta1 = float(
        confidence_charge(
            min_conf,
            (abs(mkt.perp_position) + mkt.base_position) * spot,
            op.conf_threshold,
            op.conf_margin,
        )
    )
    conf_option = float(
        confidence_charge(exp_conf, net * spot, op.conf_threshold, op.conf_margin).sum()
    )
    conf_cont = conf_delta1 + conf_option

    n_s = len(scen)
    worst_index, worst = n_s, basis
    if n_s:
        i = int(np.argmin(pnl))
        if pnl[i] < basis:
            worst_index, worst = i, float(pnl[i])
    peg = 0.0
    if stable < op.peg_loss_threshold:
        peg = (op.peg_loss_threshold - stable) * op.peg_loss_factor
    option_mtm = float(e_mtm.sum())
    mtm = mkt.perp_value + option_mtm + base_value + portfolio.cash
    mm = worst - static_cont + mtm
    im = (worst - static_cont) * (mp.im_factor + peg) - conf_cont + mtm
    labels = tuple(s.label for s in scen)
    components = {
        "worst_loss": worst,
        "basis_contingency": basis,
        "im_factor": mp.im_factor,
        "peg_loss_addon_factor": peg,
        "static_contingency": static_cont,
        "static_perp": static_perp,
        "static_base": static_base,
        "static_option": static_option,
        "confidence_contingency": conf_cont,
        "confidence_perp_base": conf_delta1,
        "confidence_option": conf_option,
        "option_mtm": option_mtm,
        "base_value": base_value,
        "perp_value": mkt.perp_value,
        "cash": portfolio.cash,
    }
    return PMRM1Result(
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
    )
