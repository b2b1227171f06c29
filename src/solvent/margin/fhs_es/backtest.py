"""fhs-es's backtest path: the margin of one unit of a linear perpetual, day after day, in
closed form (the :class:`~solvent.margin.protocol.BacktestCapable` capability).

For ``q`` coins (+1 or -1) of one asset held as a linear USDC perpetual marked at the close
``P_T``, every scenario's P&L is ``q P_T expm1(sigma S)`` with ``S`` the filtered h-day sums
(:mod:`solvent.riskstats.ewma`) and ``sigma`` today's EWMA vol (the long-run vol for the floor
block; the raw h-day log returns of the stressed window for that block). The loss is monotonic
in ``S``, so each day needs only the ``k`` extreme sums, found by a partition: no market, no
pricing. It equals the model run on that day's market (no order book, so no liquidity add-on);
the tests check it on sample days, both sides, with and without overlays and a lookback.
"""

from __future__ import annotations

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.margin.fhs_es.overlays import combine
from solvent.margin.fhs_es.params import FhsParams
from solvent.riskstats.ewma import ewma_sigma, trailing_rms, window_sums
from solvent.riskstats.tail import tail_count

DAYS_PER_YEAR = 365.0


def unit_margins(
    params: FhsParams, closes: FloatArray, quantity: float, days: IntArray
) -> FloatArray:
    """fhs-es initial margin (USD) of ``quantity`` (+1 or -1) coins on each of ``days``
    (indexes into ``closes``, USD closes in date order; see the module docstring)."""
    r = np.diff(np.log(np.asarray(closes, dtype=np.float64)))[:, None]  # r[i] ends at close i + 1
    h, seed = params.mpor_days, params.seed_days
    sigma = ewma_sigma(r, params.ewma_lambda, seed)[:, 0]
    z = r[:, 0] / sigma[:-1]
    sums = window_sums(z[seed:, None], h)[:, 0]  # sums[j] covers z[seed+j .. seed+j+h-1]
    raw = window_sums(r, h)[:, 0]  # raw[j] covers r[j .. j+h-1]
    sq = np.concatenate([[0.0], np.cumsum(r[:, 0] ** 2)])
    ovl = params.overlays
    long_run = trailing_rms(r[:, 0], round(ovl.floor_years * DAYS_PER_YEAR))
    w_s = ovl.stressed_window_days
    win = sq[w_s:] - sq[:-w_s] if r.shape[0] >= w_s else np.zeros(0)
    long = quantity > 0
    es = np.empty(days.size)
    es_floor = np.zeros(days.size)
    es_stress = np.zeros(days.size)
    ratio = np.empty(days.size)
    for i, t in enumerate(days):
        n_ret = int(t)  # returns known at close t: r[0 .. t-1]
        n_sum = n_ret - seed - h + 1
        if n_sum < params.min_scenarios:
            raise SolventInputError(
                "warmup_days", f"day {t}: {n_sum} fhs-es scenarios < min_scenarios"
            )
        lo = max(0, n_sum - params.lookback_days) if params.lookback_days else 0
        s = sums[lo:n_sum]
        k = tail_count(s.size, params.confidence)
        p = float(closes[t])
        worst = _k_worst(s, k, long)
        sig = float(sigma[n_ret])
        es[i] = p * float(np.mean(-quantity * np.expm1(sig * worst)))
        sig_long = float(long_run[n_ret - 1])
        ratio[i] = sig / max(sig_long, 1e-12)
        if ovl.floor:
            es_floor[i] = p * float(np.mean(-quantity * np.expm1(sig_long * worst)))
        if ovl.stressed_weight > 0:
            if n_ret <= w_s:
                w0, w1 = 0, n_ret
            else:
                w0 = int(np.argmax(win[: n_ret - w_s + 1]))
                w1 = w0 + w_s
            if w1 - w0 < h:
                w0, w1 = 0, n_ret
            block = raw[w0 : w1 - h + 1]
            kb = tail_count(block.size, params.confidence)
            es_stress[i] = p * float(np.mean(-quantity * np.expm1(_k_worst(block, kb, long))))
    comps = combine(es, es_stress, es_floor, ovl, ratio)
    out: FloatArray = comps["es"] + comps["stressed_period"] + comps["floor"] + comps["buffer"]
    return out


def _k_worst(values: FloatArray, k: int, long: bool) -> FloatArray:
    """The k values giving the largest losses: smallest for a long, largest for a short."""
    if long:
        return np.partition(values, k - 1)[:k]
    return np.partition(values, values.size - k)[values.size - k :]
