"""derive-pm over a whole book at once: PMRM_2 and PMRM v1 as segment reductions over positions.

The per-sub-account kernels (:func:`solvent.margin.derive.pmrm2.pmrm2_margin`,
:func:`solvent.margin.derive.pmrm1.pmrm1_margin`) evaluate, for one (account, underlying), every
option of every expiry in every evaluation row (base, basis up/down, each scenario), and reduce.
Everything in that evaluation except the amounts is a property of the instrument, not of the
account, so here:

1. :func:`prepare_pm` (once per market) prices one unit of every option of the book's columns in
   every row: ``prices`` (variants x rows; one variant per option and distinct forward of its
   expiry, :mod:`solvent.margin.derive.book_columns`), with the forward split into fixed and
   variable parts, the row's spot shock and vol leg, as the kernels do;
2. :func:`pm_book` (once per book) sums ``units x prices`` into every (sub-account, expiry) pair
   with one sparse product, then applies the per-expiry static discounts, dampening and skew rule,
   and reduces pairs into sub-accounts (scenario P&L, basis contingency, option MtM), (sub-account,
   expiry, strike) into naked shorts, positions into perpetual positions, and sub-accounts into
   accounts, with ``bincount`` segment sums. No Python loop runs over accounts or positions (only
   over chunks of about :data:`CHUNK_POSITIONS` positions, to bound memory).

Inputs the book path does not have are the reference mapping's defaults: oracle confidences 1
(no confidence charge), rates 0 (discount 1), no cash, no collaterals, stable price 1, perpetuals
just settled at the spot. Figures equal the per-account reference
(:mod:`solvent.margin.derive.reference`) up to floating-point summation order
(``tests/margin/derive/test_derive_book.py``). Units: USD; requirements positive; scenario P&L
signed (< 0 a loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.margin.derive._core import vol_shock_multipliers, years
from solvent.margin.derive.book_columns import (
    BookPositions,
    DeriveColumns,
    forward_split,
    pair_index,
    pair_variants,
)
from solvent.margin.derive.params import PMRM1Params, PMRM2Params, VolShock
from solvent.margin.derive.pmrm2 import BASIS_LABEL, _skew_vols, static_discounts
from solvent.margin.protocol import PricedMarket
from solvent.pricing.black76 import black76_price

CHUNK_POSITIONS = 65_536
"""Positions margined per chunk (bounds the (pairs x rows) arrays to a few tens of MB)."""

_NONE, _UP, _DOWN, _LINEAR, _ABS = 0, 1, 2, 3, 4
_MODE_OF = {
    VolShock.NONE: _NONE,
    VolShock.UP: _UP,
    VolShock.DOWN: _DOWN,
    VolShock.LINEAR: _LINEAR,
    VolShock.ABS: _ABS,
}
PM2_COMPONENTS = ("scenario_loss_im", "scenario_loss_mm", "mm_contingency", "im_contingency")
PM1_COMPONENTS = ("scenario_loss_mm", "im_add_on")


@dataclass(frozen=True, slots=True)
class PreparedPm:
    """A PMRM parameter set applied to one market (see the module docstring).

    ``rows_spot``/``rows_mode``: spot multiplier and vol leg of each evaluation row (base, basis
    up, basis down, then the scenarios); ``damp`` per scenario (all 1 for v1); ``prices``
    (variants x rows) USD value of one unit of each option variant;
    per expiry group: ``tau`` years, ``basis_factor``, ``static_pos``/``static_neg`` (v1: the one
    static discount in both).
    """

    params: PMRM2Params | PMRM1Params
    cols: DeriveColumns
    rows_spot: FloatArray
    rows_mode: IntArray
    damp: FloatArray
    labels: tuple[str, ...]
    prices: FloatArray
    up: FloatArray
    down: FloatArray
    tau: FloatArray
    basis_factor: FloatArray
    static_pos: FloatArray
    static_neg: FloatArray

    @property
    def v2(self) -> bool:
        return isinstance(self.params, PMRM2Params)

    @property
    def n_scenarios(self) -> int:
        return len(self.labels)

    @property
    def component_names(self) -> tuple[str, ...]:
        return PM2_COMPONENTS if self.v2 else PM1_COMPONENTS

    def scenario_label(self, index: int) -> str:
        """Label of scenario ``index``; ``n_scenarios`` is the basis contingency."""
        return self.labels[index] if index < len(self.labels) else BASIS_LABEL


def _option_prices(
    prep_params: PMRM2Params | PMRM1Params,
    rows_spot: FloatArray,
    rows_mode: IntArray,
    strike: FloatArray,
    is_call: BoolArray,
    vol: FloatArray,
    tau: FloatArray,
    forward: FloatArray,
    sec: FloatArray,
    up: FloatArray,
    down: FloatArray,
) -> FloatArray:
    """(rows x options) USD value of one unit of each option in each evaluation row, each with its
    own expiry's ``forward``, ``sec``, ``tau`` and vol multipliers (``up``/``down``)."""
    fixed, variable = forward_split(forward, sec)
    n_rows = rows_spot.shape[0]
    if isinstance(prep_params, PMRM2Params):
        vs, sk = prep_params.vol_shock, prep_params.skew
        is_skew = (rows_mode == _LINEAR) | (rows_mode == _ABS)
        row_spot = np.where(is_skew, 1.0, rows_spot)
        fwd = variable[None, :] * row_spot[:, None] + fixed[None, :]
        v = np.broadcast_to(vol[None, :], (n_rows, vol.shape[0])).copy()
        m = rows_mode[:, None]
        v = np.where(m == _UP, np.maximum(vs.min_vol_up_shock, v * up[None, :]), v)
        v = np.where(m == _DOWN, v * down[None, :], v)
        for mode in (_LINEAR, _ABS):
            rows = np.flatnonzero(rows_mode == mode)
            if rows.size and vol.shape[0]:
                v[rows, :] = _skew_vols(mode, vol, strike, variable + fixed, tau, sk)[None, :]
        discount = np.exp(-0.0 * tau)  # rates are 0 on the book path (discount 1)
    else:
        fwd = variable[None, :] * rows_spot[:, None] + fixed[None, :]
        mult = np.ones((n_rows, vol.shape[0]))
        mult[rows_mode == _UP] = up
        mult[rows_mode == _DOWN] = down
        v = vol[None, :] * mult
        discount = np.ones(vol.shape[0])
    return black76_price(fwd, strike[None, :], tau[None, :], v, is_call[None, :], discount[None, :])


def prepare_pm(market: PricedMarket, params: PMRM2Params | PMRM1Params) -> PreparedPm:
    """Price every option of ``market`` in every evaluation row of ``params`` (once per market)."""
    cols = DeriveColumns.of(market)
    scen = params.scenarios
    bp = params.basis
    rows_spot = np.array(
        [1.0, bp.scenario_spot_up, bp.scenario_spot_down] + [s.spot_shock for s in scen]
    )
    rows_mode = np.array([_NONE] * 3 + [_MODE_OF[s.vol_shock] for s in scen], dtype=np.intp)
    damp = np.array([s.dampening for s in scen], dtype=np.float64)
    vp = params.vol_shock if isinstance(params, PMRM2Params) else params.vol
    vol_params = (
        vp.vol_range_up,
        vp.vol_range_down,
        vp.short_term_power,
        vp.long_term_power,
        vp.dte_floor_days,
    )
    sec = cols.group_sec
    tau = years(sec)
    up, down = vol_shock_multipliers(sec, *vol_params)
    basis_factor = bp.basis_cont_add_factor + bp.basis_cont_mult_factor * tau
    rate = np.zeros_like(tau)
    if isinstance(params, PMRM2Params):
        discount = np.exp(-rate * tau)
        static_pos, static_neg = static_discounts(params.margin, tau, rate, discount, sec)
    else:
        m1 = params.margin
        static_pos = m1.base_static_discount * np.exp(
            -tau * (rate * m1.rate_mult_scale + m1.rate_add_scale)
        )
        static_neg = static_pos
    vc = cols.variant_column
    g = cols.group[vc]
    prices = _option_prices(
        params,
        rows_spot,
        rows_mode,
        cols.strike[vc],
        cols.is_call[vc],
        cols.vol[vc],
        tau[g],
        cols.variant_forward,
        sec[g],
        up[g],
        down[g],
    ).T
    return PreparedPm(
        params=params,
        cols=cols,
        rows_spot=rows_spot,
        rows_mode=rows_mode,
        damp=damp,
        labels=tuple(s.label for s in scen),
        prices=prices,
        up=up,
        down=down,
        tau=tau,
        basis_factor=np.asarray(basis_factor, dtype=np.float64),
        static_pos=np.asarray(static_pos, dtype=np.float64),
        static_neg=np.asarray(static_neg, dtype=np.float64),
    )


@dataclass(frozen=True, slots=True)
class PmBook:
    """derive-pm of a book (USD; requirements positive).

    Per account: ``im``, ``mm`` and ``components`` (named as :attr:`PreparedPm.component_names`,
    adding up as documented in :mod:`solvent.margin.derive.model`). Per sub-account (account,
    underlying), sorted by account then underlying code: ``sub_account``, ``sub_underlying``,
    ``worst_loss`` (the worst of the basis contingency and every scenario P&L), ``worst_index``
    (into the scenarios; ``n_scenarios`` = the basis contingency), ``basis`` and, when asked,
    ``pnl`` (sub-accounts x scenarios).
    """

    im: FloatArray
    mm: FloatArray
    components: dict[str, FloatArray]
    sub_account: IntArray
    sub_underlying: IntArray
    worst_loss: FloatArray
    worst_index: IntArray
    basis: FloatArray
    pnl: FloatArray | None
    shares: FloatArray | None = None
    """With ``pnl``: each position's share of its account's IM (USD, book CSR order)."""


def _values(
    prep: PreparedPm, pos: BookPositions, opt: IntArray, pair: IntArray, n_pairs: int
) -> tuple[FloatArray, IntArray]:
    """(pairs x rows): sum of units x price over each (sub-account, expiry) pair's options, each
    priced on its pair's forward; and the variant (row of ``prices``) of every option position."""
    variant, _ = pair_variants(prep.cols, pos.column[opt], pair, n_pairs)
    m = sp.csr_array((pos.units[opt], (pair, variant)), shape=(n_pairs, prep.prices.shape[0]))
    return np.asarray(m @ prep.prices, dtype=np.float64), variant


def _pm_chunk(prep: PreparedPm, pos: BookPositions, keep_pnl: bool) -> PmBook:
    cols, params = prep.cols, prep.params
    n_subs, n_acc = pos.n_subs, pos.n_accounts
    n_s = prep.n_scenarios
    column = pos.column
    spot_sub = cols.underlying_spot[pos.sub_underlying] if n_subs else np.zeros(0)

    base = pos.segment(pos.sub, np.where(cols.is_spot[column], pos.units, 0.0), n_subs)
    bad = np.flatnonzero(base != 0.0)
    if bad.size:
        s = int(bad[0])
        raise SolventInputError(
            f"accounts[{int(pos.sub_account[s])}].positions",
            f"derive-pm does not margin spot {cols.underlyings[int(pos.sub_underlying[s])]}: "
            "hold it as collateral",
        )
    perp = pos.segment(pos.sub, np.where(cols.is_perp[column], pos.units, 0.0), n_subs)

    opt = np.flatnonzero(cols.is_option[column])
    g = cols.group[column[opt]]
    pair, pair_keys = pair_index(pos.sub[opt], g, cols.n_groups)
    n_pairs = pair_keys.shape[0]
    pair_sub = (pair_keys // max(cols.n_groups, 1)).astype(np.intp)
    pair_g = (pair_keys % max(cols.n_groups, 1)).astype(np.intp)
    values, variant = _values(prep, pos, opt, pair, n_pairs)  # pairs x rows
    e_mtm = values[:, 0]
    e_basis = (
        np.minimum(np.minimum(values[:, 1] - e_mtm, values[:, 2] - e_mtm), 0.0)
        * prep.basis_factor[pair_g]
    )
    x = values[:, 3:]
    skew = (prep.rows_mode[3:] == _LINEAR) | (prep.rows_mode[3:] == _ABS)
    if prep.v2:
        x = x * np.where(x >= 0.0, prep.static_pos[pair_g, None], prep.static_neg[pair_g, None])
        p = (x - e_mtm[:, None]) * prep.damp[None, :]
        p = np.where(skew[None, :], -np.abs(p), p)
    else:
        x = np.where(x > 0.0, x * prep.static_pos[pair_g, None], x)
        p = x - e_mtm[:, None]
    m_sum = sp.csr_array(
        (np.ones(n_pairs), (pair_sub, np.arange(n_pairs))), shape=(n_subs, n_pairs)
    )
    pnl = np.asarray(m_sum @ p, dtype=np.float64) if n_pairs else np.zeros((n_subs, n_s))
    s_spot = prep.rows_spot[3:]
    if prep.v2:
        pnl = pnl + (perp[:, None] * (s_spot - 1.0)[None, :]) * spot_sub[:, None] * prep.damp
    else:
        pnl = pnl + perp[:, None] * (s_spot - 1.0)[None, :] * spot_sub[:, None]
    basis = pos.segment(pair_sub, e_basis, n_subs)
    option_mtm = pos.segment(pair_sub, e_mtm, n_subs)

    sg, sg_keys = pair_index(pos.sub[opt], cols.strike_group[column[opt]], cols.n_strike_groups)
    net = pos.segment(sg, pos.units[opt], sg_keys.shape[0])
    sg_sub = (sg_keys // max(cols.n_strike_groups, 1)).astype(np.intp)
    naked = pos.segment(sg_sub, np.maximum(-net, 0.0), n_subs)

    if n_s:
        i = np.argmin(pnl, axis=1) if n_subs else np.zeros(0, dtype=np.intp)
        at_i = pnl[np.arange(n_subs), i]
        scen_worse = at_i < basis
        worst = np.where(scen_worse, at_i, basis)
        worst_index = np.where(scen_worse, i, n_s).astype(np.intp)
    else:
        worst, worst_index = basis, np.full(n_subs, n_s, dtype=np.intp)

    stable = 1.0
    op = params.other
    peg = (
        (op.peg_loss_threshold - stable) * op.peg_loss_factor
        if stable < op.peg_loss_threshold
        else 0.0
    )
    comps: dict[str, FloatArray]
    if isinstance(params, PMRM2Params):
        o2, mp = params.other, params.margin
        perp_notional = np.abs(perp) * spot_sub
        mm_perp = perp_notional * o2.mm_perp_percent
        im_perp = perp_notional * o2.im_perp_percent
        mm_option = naked * spot_sub * o2.mm_option_percent
        im_option = naked * spot_sub * o2.im_option_percent
        # the kernel's perp value, collateral, cash and confidence terms are 0 on the book path
        mtm = option_mtm
        mm_cont = mm_perp + mm_option
        im_cont = im_perp + im_option
        im_m = worst * (mp.im_factor + peg) - im_cont - mm_cont + mtm
        mm_m = worst * mp.mm_factor - mm_cont + mtm
        im_req, mm_req = mtm - im_m, mtm - mm_m
        comps = {
            "scenario_loss_im": im_req - mm_cont - im_cont,
            "scenario_loss_mm": mm_req - mm_cont,
            "mm_contingency": mm_cont,
            "im_contingency": im_cont,
        }
    else:
        o1, m1 = params.other, params.margin
        static_perp = np.abs(perp) * o1.perp_percent * spot_sub
        static_option = naked * o1.option_percent * spot_sub
        # no base asset, perp value, cash or confidence charge on the book path
        static_cont = static_perp + static_option
        mtm = option_mtm
        mm_m = worst - static_cont + mtm
        im_m = (worst - static_cont) * (m1.im_factor + peg) + mtm
        im_req, mm_req = mtm - im_m, mtm - mm_m
        comps = {"scenario_loss_mm": mm_req, "im_add_on": im_req - mm_req}
    shares = None
    if keep_pnl:
        shares = _shares(
            prep,
            pos,
            _ChunkState(opt, pair, pair_g, values, variant, sg, net, perp, spot_sub, worst_index),
            peg,
        )
    return PmBook(
        im=pos.segment(pos.sub_account, im_req, n_acc),
        mm=pos.segment(pos.sub_account, mm_req, n_acc),
        components={k: pos.segment(pos.sub_account, v, n_acc) for k, v in comps.items()},
        sub_account=pos.sub_account,
        sub_underlying=pos.sub_underlying,
        worst_loss=np.asarray(worst, dtype=np.float64),
        worst_index=worst_index,
        basis=basis,
        pnl=pnl if keep_pnl else None,
        shares=shares,
    )


@dataclass(frozen=True, slots=True)
class _ChunkState:
    """What :func:`_shares` needs from a chunk's evaluation (see :func:`_pm_chunk`)."""

    opt: IntArray
    pair: IntArray
    pair_g: IntArray
    values: FloatArray
    variant: IntArray
    strike_pair: IntArray
    strike_net: FloatArray
    perp: FloatArray
    spot_sub: FloatArray
    worst_index: IntArray


def _shares(prep: PreparedPm, pos: BookPositions, st: _ChunkState, peg: float) -> FloatArray:
    """Each position's share of its account's IM requirement (USD), adding up to it.

    The requirement is ``-(factor) * worst + contingencies`` (v1: ``-(worst - static) *
    factor``), every piece a sum over positions once the worst scenario, the sign of each
    expiry's shocked value (static discount), of each skew P&L, of each strike's net amount
    (naked shorts) and of the perpetual position are fixed: the position's share is its own
    term in each sum (an exact Euler allocation of a function that is linear by pieces).
    """
    params = prep.params
    n_s = prep.n_scenarios
    column = pos.column
    units = pos.units
    sub = pos.sub
    opt = st.opt
    out = np.zeros(units.shape[0])
    w = st.worst_index[sub]  # per position: its sub-account's worst scenario (n_s = basis)
    in_scen = w < n_s
    row = np.where(in_scen, 3 + np.minimum(w, max(n_s - 1, 0)), 0)
    damp = prep.damp[np.minimum(w, max(n_s - 1, 0))] if n_s else np.ones(units.shape[0])
    damp = np.where(in_scen, damp, 0.0) if prep.v2 else in_scen.astype(np.float64)

    # option positions: prices of their own unit in the rows that matter
    price = prep.prices[st.variant]
    o_row = row[opt]
    o_units = units[opt]
    v_row = st.values[st.pair, o_row]
    e_mtm = st.values[st.pair, 0]
    g = st.pair_g[st.pair]  # per option position: its expiry group
    if prep.v2:
        sd = np.where(v_row >= 0.0, prep.static_pos[g], prep.static_neg[g])
    else:
        sd = np.where(v_row > 0.0, prep.static_pos[g], 1.0)
    at_row = price[np.arange(opt.size), o_row]
    scen_share = (o_units * at_row * sd - o_units * price[:, 0]) * damp[opt]
    if prep.v2:
        skew = (prep.rows_mode == _LINEAR) | (prep.rows_mode == _ABS)
        p_e = (v_row * sd - e_mtm) * damp[opt]
        scen_share = np.where(skew[o_row], -np.sign(p_e) * scen_share, scen_share)
    d1 = st.values[st.pair, 1] - e_mtm
    d2 = st.values[st.pair, 2] - e_mtm
    leg = np.where(d1 <= d2, 1, 2)
    basis_share = np.where(
        np.minimum(d1, d2) < 0.0,
        o_units * (price[np.arange(opt.size), leg] - price[:, 0]) * prep.basis_factor[g],
        0.0,
    )
    pnl_share = np.zeros(units.shape[0])
    pnl_share[opt] = np.where(in_scen[opt], scen_share, basis_share)
    perp_rows = np.flatnonzero(prep.cols.is_perp[column])
    s_spot = prep.rows_spot[row[perp_rows]]
    pnl_share[perp_rows] = (
        units[perp_rows] * (s_spot - 1.0) * st.spot_sub[sub[perp_rows]] * damp[perp_rows]
    )

    naked_share = np.zeros(units.shape[0])
    naked_share[opt] = np.where(st.strike_net[st.strike_pair] < 0.0, -o_units, 0.0)
    perp_sign = np.zeros(units.shape[0])
    perp_sign[perp_rows] = np.sign(st.perp[sub[perp_rows]]) * units[perp_rows]
    spot = st.spot_sub[sub] if sub.size else np.zeros(0)
    if isinstance(params, PMRM2Params):
        o2 = params.other
        cont = perp_sign * spot * (o2.mm_perp_percent + o2.im_perp_percent) + naked_share * spot * (
            o2.mm_option_percent + o2.im_option_percent
        )
        out = -(params.margin.im_factor + peg) * pnl_share + cont
    else:
        o1 = params.other
        static = perp_sign * o1.perp_percent * spot + naked_share * o1.option_percent * spot
        out = -(pnl_share - static) * (params.margin.im_factor + peg)
    return np.asarray(out, dtype=np.float64)


def pm_book(prep: PreparedPm, pos: BookPositions, *, keep_pnl: bool = False) -> PmBook:
    """derive-pm of every account of ``pos`` (see :class:`PmBook`), in chunks of accounts."""
    n_acc = pos.n_accounts
    if pos.account.shape[0] <= CHUNK_POSITIONS:
        return _pm_chunk(prep, pos, keep_pnl)
    parts = [_pm_chunk(prep, chunk, keep_pnl) for chunk in _chunks(pos)]
    names = prep.component_names
    return PmBook(
        im=np.concatenate([c.im for c in parts]) if parts else np.zeros(n_acc),
        mm=np.concatenate([c.mm for c in parts]) if parts else np.zeros(n_acc),
        components={k: np.concatenate([c.components[k] for c in parts]) for k in names},
        sub_account=np.concatenate(
            [c.sub_account + off for c, off in zip(parts, _offsets(pos), strict=True)]
        ),
        sub_underlying=np.concatenate([c.sub_underlying for c in parts]),
        worst_loss=np.concatenate([c.worst_loss for c in parts]),
        worst_index=np.concatenate([c.worst_index for c in parts]),
        basis=np.concatenate([c.basis for c in parts]),
        pnl=np.concatenate([c.pnl for c in parts if c.pnl is not None]) if keep_pnl else None,
        shares=(
            np.concatenate([c.shares for c in parts if c.shares is not None]) if keep_pnl else None
        ),
    )


def _bounds(pos: BookPositions) -> list[tuple[int, int]]:
    """Account ranges [a0, a1) holding about CHUNK_POSITIONS positions each."""
    starts = np.searchsorted(pos.account, np.arange(pos.n_accounts + 1), side="left")
    out, a0 = [], 0
    while a0 < pos.n_accounts:
        a1 = int(np.searchsorted(starts, starts[a0] + CHUNK_POSITIONS, side="right")) - 1
        a1 = min(max(a1, a0 + 1), pos.n_accounts)
        out.append((a0, a1))
        a0 = a1
    return out


def _offsets(pos: BookPositions) -> list[int]:
    return [a0 for a0, _ in _bounds(pos)]


def _chunks(pos: BookPositions) -> list[BookPositions]:
    """``pos`` split at account boundaries (each chunk renumbers its accounts and subs from 0)."""
    out = []
    for a0, a1 in _bounds(pos):
        p0, p1 = np.searchsorted(pos.account, [a0, a1], side="left")
        sub = pos.sub[p0:p1]
        s0 = int(sub.min()) if sub.size else 0  # an account's sub-accounts are contiguous
        s1 = int(sub.max()) + 1 if sub.size else 0
        out.append(
            BookPositions(
                n_accounts=a1 - a0,
                account=pos.account[p0:p1] - a0,
                column=pos.column[p0:p1],
                quantity=pos.quantity[p0:p1],
                units=pos.units[p0:p1],
                sub=sub - s0,
                sub_account=pos.sub_account[s0:s1] - a0,
                sub_underlying=pos.sub_underlying[s0:s1],
            )
        )
    return out
