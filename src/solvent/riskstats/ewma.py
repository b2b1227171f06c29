"""EWMA volatility, rolling windows and filtered historical sums (pure array kernels).

Used by the fhs-es model (its scenarios and its backtest path) and by the dynamic margin
multiplier. Conventions (docs/methodology/fhs-es.md): ``r[t]`` are daily log returns
(observations x assets).
``sigma[t]`` is the EWMA forecast of the volatility of ``r[t]`` from the returns before it::

    sigma[0]^2     = mean(r[0:seed]^2)                      (the seed; those returns are burn-in)
    sigma[t+1]^2   = lam * sigma[t]^2 + (1 - lam) * r[t]^2

so ``sigma`` has one more row than ``r``: ``sigma[n]`` is the forecast for the next, unseen day
("today's" vol). Filtered returns ``z[t] = r[t] / sigma[t]``; an h-day filtered scenario ending at
``t`` is ``sigma_target * sum(z[t-h+1..t])`` (log return), i.e. each daily return rescaled to the
target vol, then summed over the margin period of risk (overlapping windows).
"""

from __future__ import annotations

import numpy as np

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError


def ewma_sigma(returns: FloatArray, lam: float, seed: int) -> FloatArray:
    """EWMA vol forecasts, shape ``(n + 1, assets)`` for ``(n, assets)`` returns (see module)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    n = r.shape[0]
    if n < seed:
        raise SolventInputError("history", f"{n} returns, need at least seed_days = {seed}")
    var0 = np.mean(r[:seed] ** 2, axis=0)
    var0 = np.where(var0 > 0.0, var0, 1e-12)
    # y[t] = lam * y[t-1] + (1 - lam) * r[t]^2 with y[-1] = var0; sigma[t+1]^2 = y[t]: the
    # recursion day by day, each asset in Python floats (IEEE doubles: the operations, in the
    # order, of the first-order IIR filter scipy.signal.lfilter runs, whose import alone costs
    # ~0.5 s of CPU at CLI start-up).
    squares = (r**2).T.tolist()
    b0 = 1.0 - lam
    y = np.empty((n, r.shape[1]), dtype=np.float64)
    for j, x in enumerate(squares):
        level = lam * float(var0[j])
        path = []
        for v in x:
            now = level + b0 * v
            path.append(now)
            level = lam * now
        y[:, j] = path
    out: FloatArray = np.sqrt(np.vstack([var0[None, :], y]))
    return out


def filtered_sums(returns: FloatArray, sigma: FloatArray, horizon: int) -> FloatArray:
    """``sum(z[t-h+1..t])`` for every ``t >= h - 1`` (rows ``n - h + 1``), ``z = r / sigma``."""
    z = np.asarray(returns) / sigma[: returns.shape[0]]
    return window_sums(z, horizon)


def window_sums(x: FloatArray, horizon: int) -> FloatArray:
    """Overlapping sums of ``horizon`` consecutive rows (rows ``n - horizon + 1``)."""
    if horizon == 1:
        return np.array(x, dtype=np.float64)
    c = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    out: FloatArray = c[horizon:] - c[:-horizon]
    return out


def long_run_sigma(returns: FloatArray, window: int) -> FloatArray:
    """Root mean square of the last ``window`` daily returns per asset (all when fewer)."""
    r = np.asarray(returns)[-window:]
    out: FloatArray = np.sqrt(np.mean(r**2, axis=0))
    return out


def trailing_rms(returns: FloatArray, window: int) -> FloatArray:
    """Root mean square of the last ``window`` returns (all when fewer) after each return of a
    1-d series: entry ``t - 1`` covers ``returns[max(0, t - window) : t]`` for ``t = 1..n``."""
    r = np.asarray(returns, dtype=np.float64).reshape(-1)
    sq = np.concatenate([[0.0], np.cumsum(r**2)])
    t = np.arange(1, r.size + 1)
    lo = np.maximum(t - window, 0)
    out: FloatArray = np.sqrt((sq[t] - sq[lo]) / (t - lo))
    return out


def stressed_window(returns: FloatArray, window: int) -> tuple[int, int]:
    """``(start, stop)`` rows of the ``window`` consecutive returns with the highest realized
    variance (mean over assets of the mean squared return); the whole sample when shorter.
    Ties go to the earliest window."""
    r = np.asarray(returns)
    n = r.shape[0]
    if n <= window:
        return 0, n
    score = np.mean(r**2, axis=1)
    c = np.concatenate([[0.0], np.cumsum(score)])
    sums = c[window:] - c[:-window]
    start = int(np.argmax(sums))
    return start, start + window
