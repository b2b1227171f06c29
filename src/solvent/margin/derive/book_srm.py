"""derive-srm over a whole book at once: Derive's Standard Manager as segment reductions.

:func:`solvent.margin.derive.srm.srm_margin` margins one sub-account market by market (one market
per underlying), each option by its isolated margin, each expiry by the larger of its isolated
margins and its max loss at expiry. Here every step runs on all positions of the book:

- :func:`prepare_srm` (once per market): each option's undiscounted Black-76 price on each
  forward of its expiry, and each underlying's parameters (``params.for_market``) as columns;
- :func:`srm_book` (once per book): isolated margins per position; sums per (market, expiry)
  pair; the max loss of each pair from the payoff at 0 and at every strike the pair holds,
  evaluated over all (candidate strike, option) couples of the pair at once; per-market and
  per-account totals with ``bincount`` segment sums.

Book-path defaults as in :mod:`solvent.margin.derive.book_pm` (confidences 1, so no oracle
contingency; no cash; stable price 1; perpetuals settled at the spot, priced at the spot).
Units: USD; requirements positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.margin.derive._core import years
from solvent.margin.derive.book_columns import (
    BookPositions,
    DeriveColumns,
    forward_split,
    pair_index,
    pair_variants,
)
from solvent.margin.derive.params import SRMParams
from solvent.margin.protocol import PricedMarket
from solvent.pricing.black76 import black76_price


@dataclass(frozen=True, slots=True)
class PreparedSrm:
    """Standard Manager parameters applied to one market: ``price`` (per option variant, USD per
    unit; :mod:`solvent.margin.derive.book_columns`) and per-underlying parameter columns
    (``u_*``)."""

    params: SRMParams
    cols: DeriveColumns
    price: FloatArray
    u_mm_perp: FloatArray
    u_im_perp: FloatArray
    u_max_spot: FloatArray
    u_min_spot: FloatArray
    u_mm_call_spot: FloatArray
    u_mm_put_spot: FloatArray
    u_mm_put_mtm: FloatArray
    u_offset_scale: FloatArray
    u_unpaired_mm: FloatArray
    u_unpaired_im: FloatArray
    u_base_factor: FloatArray
    u_base_im_scale: FloatArray


def _expiry_forward(forward: FloatArray, sec: FloatArray) -> FloatArray:
    """The expiry's forward as the manager sees it: fixed + variable parts (as the reference)."""
    fixed, variable = forward_split(forward, sec)
    return np.asarray(fixed + variable, dtype=np.float64)


def _price(cols: DeriveColumns, column: IntArray, forward: FloatArray) -> FloatArray:
    """Undiscounted Black-76 price of the options ``column`` on ``forward`` (their expiry's)."""
    sec = cols.sec[column]
    return black76_price(
        _expiry_forward(forward, sec),
        cols.strike[column],
        years(sec),
        cols.vol[column],
        cols.is_call[column],
    )


def prepare_srm(market: PricedMarket, params: SRMParams) -> PreparedSrm:
    """Price every option of ``market`` and lay out the per-market parameters (once per market)."""
    cols = DeriveColumns.of(market)
    price = _price(cols, cols.variant_column, cols.variant_forward)
    per = [params.for_market(u) for u in cols.underlyings]

    def col(get: str) -> FloatArray:
        group, name = get.split(".")
        return np.array([getattr(getattr(m, group), name) for m in per], dtype=np.float64)

    return PreparedSrm(
        params=params,
        cols=cols,
        price=price,
        u_mm_perp=col("perp.mm_perp_req"),
        u_im_perp=col("perp.im_perp_req"),
        u_max_spot=col("option.max_spot_req"),
        u_min_spot=col("option.min_spot_req"),
        u_mm_call_spot=col("option.mm_call_spot_req"),
        u_mm_put_spot=col("option.mm_put_spot_req"),
        u_mm_put_mtm=col("option.mm_put_mtm_req"),
        u_offset_scale=col("option.mm_offset_scale"),
        u_unpaired_mm=col("option.unpaired_mm_scale"),
        u_unpaired_im=col("option.unpaired_im_scale"),
        u_base_factor=col("base.margin_factor"),
        u_base_im_scale=col("base.im_scale"),
    )


@dataclass(frozen=True, slots=True)
class SrmBook:
    """Standard Manager figures of a book (USD). Per account: ``im``, ``mm`` (requirements).
    Per market (account, underlying), sorted by account then underlying code: ``sub_account``,
    ``sub_underlying``, ``market_im`` and ``market_mm`` (each market's ``mtm - im`` and
    ``mtm - mm``: its own requirement)."""

    im: FloatArray
    mm: FloatArray
    sub_account: IntArray
    sub_underlying: IntArray
    market_im: FloatArray
    market_mm: FloatArray


def _max_loss(
    pair: IntArray, n_pairs: int, strike: FloatArray, is_call: FloatArray, amount: FloatArray
) -> FloatArray:
    """Per pair, min(0, lowest payoff at expiry over settlement at 0 and at every strike held).

    Options of each pair are taken together: every (candidate option, option) couple of the pair
    is one entry, so the work is the sum over pairs of (options in the pair) squared."""
    if n_pairs == 0:
        return np.zeros(0)
    order = np.argsort(pair, kind="stable")
    p = pair[order]
    k, c, a = strike[order], is_call[order], amount[order]
    size = np.bincount(p, minlength=n_pairs)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    reps = size[p]  # each candidate meets every option of its pair
    cand = np.repeat(np.arange(p.size), reps)
    within = np.arange(cand.size) - np.repeat(np.cumsum(reps) - reps, reps)
    other = start[p[cand]] + within
    price = k[cand]
    intrinsic = np.where(
        c[other] > 0,
        np.maximum(price - k[other], 0.0),
        np.maximum(k[other] - price, 0.0),
    )
    payoff = np.bincount(cand, weights=intrinsic * a[other], minlength=p.size)
    at_zero = np.bincount(
        p, weights=np.where(c > 0, 0.0, np.maximum(k, 0.0)) * a, minlength=n_pairs
    )
    lowest = np.minimum.reduceat(payoff, start) if p.size else np.zeros(n_pairs)
    return np.asarray(np.minimum(np.minimum(lowest, at_zero), 0.0), dtype=np.float64)


def srm_book(prep: PreparedSrm, pos: BookPositions) -> SrmBook:
    """Standard Manager of every account of ``pos`` (see :class:`SrmBook`)."""
    cols = prep.cols
    n_subs, n_acc = pos.n_subs, pos.n_accounts
    column = pos.column
    u_sub = pos.sub_underlying
    spot_sub = cols.underlying_spot[u_sub] if n_subs else np.zeros(0)

    perp = pos.segment(pos.sub, np.where(cols.is_perp[column], pos.units, 0.0), n_subs)
    base_pos = pos.segment(pos.sub, np.where(cols.is_spot[column], pos.units, 0.0), n_subs)

    # options, per position
    opt = np.flatnonzero(cols.is_option[column])
    oc = column[opt]
    amt = pos.units[opt]
    g = cols.group[oc]
    pair, pair_keys = pair_index(pos.sub[opt], g, cols.n_groups)
    n_pairs = pair_keys.shape[0]
    pair_sub = (pair_keys // max(cols.n_groups, 1)).astype(np.intp)
    variant, first = pair_variants(cols, oc, pair, n_pairs)
    price = prep.price[variant]  # on the pair's forward: its first option's, as the reference
    pair_forward = cols.forward[oc[first]]
    u = cols.underlying[oc]
    spot = cols.spot[oc]
    strike = cols.strike[oc]
    call = cols.is_call[oc]
    mtm = amt * price
    short = amt < 0.0
    otm = np.where(call, np.maximum(strike - spot, 0.0), np.maximum(spot - strike, 0.0))
    otm = otm / spot
    spot_req = np.maximum(prep.u_max_spot[u] - otm, prep.u_min_spot[u])
    im_iso_raw = mtm + spot_req * spot * amt
    mm_call = mtm + prep.u_mm_call_spot[u] * spot * amt
    mm_put = mtm + np.minimum(prep.u_mm_put_spot[u] * spot * amt, prep.u_mm_put_mtm[u] * mtm)
    mm_iso = np.where(call, mm_call, mm_put)
    im_iso = np.where(call, im_iso_raw, np.minimum(im_iso_raw, mm_put * prep.u_offset_scale[u]))
    mm_iso = np.where(short, mm_iso, 0.0)
    im_iso = np.where(short, im_iso, 0.0)
    mm_iso_e = pos.segment(pair, mm_iso, n_pairs)
    im_iso_e = pos.segment(pair, im_iso, n_pairs)
    shorts_e = pos.segment(pair, np.where(short, -amt, 0.0), n_pairs)
    net_calls_e = pos.segment(pair, np.where(call, amt, 0.0), n_pairs)
    loss = _max_loss(pair, n_pairs, strike, call.astype(np.float64), amt)
    unpaired = np.minimum(net_calls_e, 0.0) * _expiry_forward(pair_forward, cols.sec[oc[first]])
    u_pair = pos.sub_underlying[pair_sub]
    option_mm = pos.segment(
        pair_sub, np.maximum(mm_iso_e, loss + prep.u_unpaired_mm[u_pair] * unpaired), n_subs
    )
    option_im = pos.segment(
        pair_sub, np.maximum(im_iso_e, loss + prep.u_unpaired_im[u_pair] * unpaired), n_subs
    )
    option_mtm = pos.segment(pos.sub[opt], mtm, n_subs)
    shorts = pos.segment(pair_sub, shorts_e, n_subs)

    perp_abs = np.abs(perp)
    perp_mm = -perp_abs * spot_sub * prep.u_mm_perp[u_sub]
    perp_im = -perp_abs * spot_sub * prep.u_im_perp[u_sub]
    base_notional = base_pos * spot_sub
    base_mm = base_notional * prep.u_base_factor[u_sub]
    base_im = base_mm * prep.u_base_im_scale[u_sub]
    base_value = base_pos * spot_sub  # / stable price 1
    stable, dp = 1.0, prep.params.depeg
    depeg = (
        (perp_abs + shorts) * (dp.threshold - stable) * dp.depeg_factor * spot_sub
        if stable < dp.threshold
        else np.zeros(n_subs)
    )
    # no perp value, oracle contingency or cash on the book path (confidences 1)
    mm = perp_mm + option_mm + base_mm
    im = perp_im + option_im + base_im - depeg
    mtm_m = option_mtm + base_value
    im_acc = pos.segment(pos.sub_account, im, n_acc)
    mm_acc = pos.segment(pos.sub_account, mm, n_acc)
    mtm_acc = pos.segment(pos.sub_account, mtm_m, n_acc)
    return SrmBook(
        im=mtm_acc - im_acc,
        mm=mtm_acc - mm_acc,
        sub_account=pos.sub_account,
        sub_underlying=pos.sub_underlying,
        market_im=mtm_m - im,
        market_mm=mtm_m - mm,
    )
