"""Backtest statistics: Kupiec proportion of failures, Christoffersen independence, and
procyclicality of a margin series.

Kupiec (1995) POF, for ``x`` breaches in ``n`` observations at expected rate ``p``::

    LR_pof = -2 [ (n - x) ln(1 - p) + x ln p - (n - x) ln(1 - x/n) - x ln(x/n) ]

with ``0 ln 0 = 0`` (so ``x = 0`` gives ``-2 n ln(1 - p)`` and ``x = n`` gives ``-2 n ln p``).
Christoffersen (1998) independence, from the transition counts ``n_ij`` (state i then j, 1 =
breach) of the breach sequence::

    pi01 = n01 / (n00 + n01), pi11 = n11 / (n10 + n11), pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    LR_ind = -2 [ (n00 + n10) ln(1 - pi) + (n01 + n11) ln pi
                  - n00 ln(1 - pi01) - n01 ln pi01 - n10 ln(1 - pi11) - n11 ln pi11 ]

again with ``0 ln 0 = 0``; a ratio with a zero denominator (no visit to that state) contributes
nothing. Both p-values are the chi-square (1 degree of freedom) survival function of LR; no
breaches at all give LR_ind = 0 (p = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from scipy.special import chdtrc

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError


def _xlogy(x: float, y: float) -> float:
    """``x ln y`` with ``0 ln 0 = 0``."""
    return 0.0 if x == 0 else x * math.log(y)


@dataclass(frozen=True, slots=True)
class TestResult:
    """A likelihood-ratio statistic and its chi-square(1) p-value."""

    lr: float
    p_value: float


def kupiec_pof(n: int, x: int, p: float) -> TestResult:
    """Kupiec's proportion-of-failures test (see the module docstring)."""
    if n < 1 or not 0 <= x <= n:
        raise SolventInputError("observations", f"need n >= 1 and 0 <= x <= n, got {n}, {x}")
    if not 0.0 < p < 1.0:
        raise SolventInputError("confidence", f"expected breach rate must be in (0, 1): {p}")
    phat = x / n
    ll0 = _xlogy(n - x, 1.0 - p) + _xlogy(x, p)
    ll1 = _xlogy(n - x, 1.0 - phat) + _xlogy(x, phat)
    lr = max(-2.0 * (ll0 - ll1), 0.0)
    return TestResult(lr, float(chdtrc(1, lr)))


def transition_counts(breaches: NDArray[np.bool_]) -> tuple[int, int, int, int]:
    """``(n00, n01, n10, n11)`` of consecutive pairs of the breach indicator sequence."""
    b = np.asarray(breaches, dtype=bool)
    prev, nxt = b[:-1], b[1:]
    return (
        int(np.sum(~prev & ~nxt)),
        int(np.sum(~prev & nxt)),
        int(np.sum(prev & ~nxt)),
        int(np.sum(prev & nxt)),
    )


def christoffersen_independence(breaches: NDArray[np.bool_]) -> TestResult:
    """Christoffersen's independence test (see the module docstring)."""
    n00, n01, n10, n11 = transition_counts(breaches)
    total = n00 + n01 + n10 + n11
    if n01 + n11 == 0 or total == 0:
        return TestResult(0.0, 1.0)
    pi = (n01 + n11) / total
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    ll0 = _xlogy(n00 + n10, 1.0 - pi) + _xlogy(n01 + n11, pi)
    ll1 = _xlogy(n00, 1.0 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1.0 - pi11) + _xlogy(n11, pi11)
    lr = max(-2.0 * (ll0 - ll1), 0.0)
    return TestResult(lr, float(chdtrc(1, lr)))


@dataclass(frozen=True, slots=True)
class Procyclicality:
    """Relative increases of a margin series (0.25 = +25 %); None when undefined (a zero margin).

    ``max_1d_increase``: largest ``m[t] / m[t-1] - 1``; ``max_30d_increase``: largest
    ``m[t] / min(m[t-30..t-1]) - 1`` (the biggest rise within any 30 observations);
    ``peak_to_trough``: ``max(m) / min(m)`` over the whole series.
    """

    max_1d_increase: float | None
    max_30d_increase: float | None
    peak_to_trough: float | None


def procyclicality(margin: FloatArray, window: int = 30) -> Procyclicality:
    """Procyclicality measures of a positive margin series (see :class:`Procyclicality`)."""
    m = np.asarray(margin, dtype=np.float64)
    if m.size < 2 or np.any(m <= 0) or not np.all(np.isfinite(m)):
        return Procyclicality(None, None, None)
    one = float(np.max(m[1:] / m[:-1]) - 1.0)
    padded = np.concatenate([np.full(window - 1, np.inf), m[:-1]])
    lows = sliding_window_view(padded, window).min(axis=1)  # row t-1: min(m[t-window..t-1])
    thirty = float(np.max(m[1:] / lows) - 1.0)
    return Procyclicality(one, thirty, float(np.max(m) / np.min(m)))
