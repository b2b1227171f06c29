"""Derive v2 Standard Manager (SRM): per-position margin with max-loss spreads (``standard`` model,
parameter set ``derive-srm``). Our implementation of the published rules (research note 1.6).

Sign convention (Derive's): margin = equity - requirement, USD, >= 0 passes. Per market
(underlying), summed over markets, plus cash:

- perp: ``-|pos| * perp_price * (im ? imPerpReq : mmPerpReq)`` plus its unsettled value; IM
  also subtracts ``(1 - c) * OCFactor * spot * |pos|`` when c = min(perp conf, spot conf) <
  perpThreshold;
- options (Black-76 on the forward, undiscounted), per expiry: the isolated margin of each short
  (longs count 0):
    short call: MM = mtm + mmCallSpotReq * spot * amount;
                IM = mtm + max(maxSpotReq - otm, minSpotReq) * spot * amount, otm = max(K - S, 0)/S;
    short put:  MM = mtm + min(mmPutSpotReq * spot * amount, MMPutMtMReq * mtm);
                IM = min(mtm + max(maxSpotReq - otm, minSpotReq) * spot * amount,
                         MM * mmOffsetScale), otm = max(S - K, 0)/S;
  and the expiry's max loss: the lowest of min(payoff, 0) over settlement prices {0} and every
  strike, plus ``unpaired(IM|MM)Scale * forward * netCalls`` when the net call amount is < 0.
  Expiry margin = max(sum of isolated margins, max loss). IM also subtracts
  ``(1 - c) * OCFactor * spot * shorts`` when c = min(spot, forward, vol conf) < optionThreshold;
- base asset: ``+pos * spot * marginFactor`` (IM: times IMScale, minus ``(1 - c) * OCFactor *
  pos * spot`` when the spot conf c < baseThreshold); its MtM is pos * spot / stable;
- de-peg (IM only): when stable < threshold, ``-(|perp| + shorts) * (threshold - stable) *
  depegFactor * spot``.
MtM = cash + perp unsettled value + option MtM + base value, per market summed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
from solvent.margin.derive._core import years
from solvent.margin.derive.params import SRMParams
from solvent.margin.derive.portfolio import DeriveMarket, DeriveSRMPortfolio
from solvent.pricing.black76 import black76_price

MODEL_NAME = "standard"


@dataclass(frozen=True)
class SRMMarketResult:
    """One market's contribution (USD, Derive's sign). ``components`` names every piece."""

    market: str
    im: float
    mm: float
    mtm: float
    components: dict[str, float]


@dataclass(frozen=True)
class SRMResult:
    """Standard Manager margins of one sub-account: sums of the markets plus cash."""

    model: str
    parameters: str
    im: float
    mm: float
    mtm: float
    markets: tuple[SRMMarketResult, ...]
    components: dict[str, float]

    @property
    def im_requirement(self) -> float:
        return self.mtm - self.im

    @property
    def mm_requirement(self) -> float:
        return self.mtm - self.mm


def _max_loss(strike: FloatArray, is_call: FloatArray, amount: FloatArray) -> float:
    """Lowest min(payoff, 0) at expiry over settlement prices {0} and every strike (USD)."""
    prices = np.concatenate([[0.0], strike])
    intrinsic = np.where(
        is_call[None, :] > 0,
        np.maximum(prices[:, None] - strike[None, :], 0.0),
        np.maximum(strike[None, :] - prices[:, None], 0.0),
    )
    payoff = intrinsic @ amount
    return float(np.minimum(payoff, 0.0).min())


def _market_margin(
    m: DeriveMarket, params: SRMParams, stable: float, index: int
) -> SRMMarketResult:
    mp = params.for_market(m.name)
    oc, dp = params.oracle_contingency, params.depeg
    spot = m.spot
    opts = m.options
    n_exp = len(m.expiries)
    ex = m.expiry_arrays()
    comp: dict[str, float] = {}

    # perp
    perp_abs = abs(m.perp_position)
    perp_mm = -perp_abs * m.perp_price * mp.perp.mm_perp_req
    perp_im = -perp_abs * m.perp_price * mp.perp.im_perp_req
    perp_conf = min(m.perp_confidence, m.spot_confidence)
    perp_oc = 0.0
    if perp_abs > 0.0 and perp_conf < oc.perp_threshold:
        perp_oc = (1.0 - perp_conf) * oc.oc_factor * spot * perp_abs
    comp.update(perp_mm=perp_mm, perp_im=perp_im, perp_oracle=-perp_oc, perp_value=m.perp_value)

    # options: isolated margins, vectorized over the market's options
    e_idx = opts.expiry_index
    fwd = (ex["fixed"] + ex["variable"])[e_idx]
    tau = years(ex["sec"])[e_idx]
    price = black76_price(fwd, opts.strike, tau, opts.vol, opts.is_call)
    amt = opts.amount
    mtm = amt * price
    short = amt < 0.0
    call = opts.is_call
    otm = np.where(call, np.maximum(opts.strike - spot, 0.0), np.maximum(spot - opts.strike, 0.0))
    otm = otm / spot
    spot_req = np.maximum(mp.option.max_spot_req - otm, mp.option.min_spot_req)
    im_iso_raw = mtm + spot_req * spot * amt
    mm_call = mtm + mp.option.mm_call_spot_req * spot * amt
    mm_put = mtm + np.minimum(
        mp.option.mm_put_spot_req * spot * amt, mp.option.mm_put_mtm_req * mtm
    )
    mm_iso = np.where(call, mm_call, mm_put)
    im_iso = np.where(call, im_iso_raw, np.minimum(im_iso_raw, mm_put * mp.option.mm_offset_scale))
    mm_iso = np.where(short, mm_iso, 0.0)
    im_iso = np.where(short, im_iso, 0.0)
    mm_iso_e = np.bincount(e_idx, weights=mm_iso, minlength=n_exp)
    im_iso_e = np.bincount(e_idx, weights=im_iso, minlength=n_exp)
    shorts_e = np.bincount(e_idx, weights=np.where(short, -amt, 0.0), minlength=n_exp)
    net_calls_e = np.bincount(e_idx, weights=np.where(call, amt, 0.0), minlength=n_exp)

    option_mm = option_im = option_oc = 0.0
    forward_e = ex["fixed"] + ex["variable"]
    conf_e = (
        np.minimum.reduce([np.full(n_exp, m.spot_confidence), ex["fwd_conf"], ex["vol_conf"]])
        if n_exp
        else np.zeros(0)
    )
    for j in range(n_exp):  # a handful of expiries; options inside are vectorized
        sel = e_idx == j
        if not sel.any():
            continue
        loss = _max_loss(opts.strike[sel], call[sel].astype(np.float64), amt[sel])
        unpaired = min(net_calls_e[j], 0.0) * forward_e[j]
        option_mm += max(mm_iso_e[j], loss + mp.option.unpaired_mm_scale * unpaired)
        option_im += max(im_iso_e[j], loss + mp.option.unpaired_im_scale * unpaired)
        if conf_e[j] < oc.option_threshold:
            option_oc += (1.0 - conf_e[j]) * oc.oc_factor * spot * shorts_e[j]
    option_mtm = float(mtm.sum())
    comp.update(option_mm=option_mm, option_im=option_im, option_oracle=-option_oc)

    # base asset
    base_notional = m.base_position * spot
    base_mm = base_notional * mp.base.margin_factor
    base_im = base_mm * mp.base.im_scale
    base_oc = 0.0
    if m.base_position != 0.0 and m.spot_confidence < oc.base_threshold:
        base_oc = (1.0 - m.spot_confidence) * oc.oc_factor * base_notional
    base_value = m.base_position * spot / stable
    comp.update(base_mm=base_mm, base_im=base_im, base_oracle=-base_oc)

    # de-peg
    depeg = 0.0
    if stable < dp.threshold:
        depeg = (
            (perp_abs + float(shorts_e.sum())) * (dp.threshold - stable) * dp.depeg_factor * spot
        )
    comp["depeg"] = -depeg

    mm = perp_mm + m.perp_value + option_mm + base_mm
    im = perp_im - perp_oc + m.perp_value + option_im - option_oc + base_im - base_oc - depeg
    mtm_total = m.perp_value + option_mtm + base_value
    comp.update(option_mtm=option_mtm, base_value=base_value)
    return SRMMarketResult(m.name or f"market{index}", float(im), float(mm), float(mtm_total), comp)


def srm_margin(portfolio: DeriveSRMPortfolio, params: SRMParams) -> SRMResult:
    """IM, MM and MtM of ``portfolio`` under the Standard Manager ``params``."""
    portfolio.validate()
    per = tuple(
        _market_margin(m, params, portfolio.stable_price, i)
        for i, m in enumerate(portfolio.markets)
    )
    cash = portfolio.cash
    keys = sorted({k for r in per for k in r.components})
    components = {k: float(sum(r.components.get(k, 0.0) for r in per)) for k in keys}
    components["cash"] = cash
    return SRMResult(
        model=MODEL_NAME,
        parameters=f"{params.name}@{params.version}",
        im=float(sum(r.im for r in per) + cash),
        mm=float(sum(r.mm for r in per) + cash),
        mtm=float(sum(r.mtm for r in per) + cash),
        markets=per,
        components=components,
    )
