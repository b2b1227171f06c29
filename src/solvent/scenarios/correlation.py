"""Correlation matrices of the underlyings' daily log returns: plain (Pearson) and EWMA.

Returns are the joint 1-day log returns on the dates where every asset has a close
(:meth:`PriceHistory.log_returns`), optionally only the last ``window_days`` of them.

- plain: the Pearson correlation (sample means removed);
- EWMA (RiskMetrics, zero mean): ``C = sum_i w_i r_i r_i^T`` with weights
  ``w_i = (1 - lam) lam^(n-1-i) / (1 - lam^n)`` (the newest return has the largest weight; the
  weights sum to 1), and ``corr_jk = C_jk / sqrt(C_jj C_kk)``.

Daily volatilities (decimal) come with each: the sample standard deviation, and ``sqrt(C_jj)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.market.history import PriceHistory


@dataclass(frozen=True, slots=True)
class CorrelationReport:
    """Correlations of ``assets`` over ``observations`` joint returns from ``start`` to ``end``
    (dates of the first and last return), with daily vols (decimal)."""

    assets: tuple[str, ...]
    start: str
    end: str
    observations: int
    ewma_lambda: float
    window_days: int | None
    plain: FloatArray
    ewma: FloatArray
    plain_vol: FloatArray
    ewma_vol: FloatArray

    def to_json(self) -> dict[str, object]:
        """The ``solvent correlation`` output (docs/methodology/fhs-es.md)."""
        return {
            "assets": list(self.assets),
            "start": self.start,
            "end": self.end,
            "observations": self.observations,
            "ewma_lambda": self.ewma_lambda,
            "window_days": self.window_days,
            "plain": self.plain.tolist(),
            "ewma": self.ewma.tolist(),
            "daily_volatility": {"plain": self.plain_vol.tolist(), "ewma": self.ewma_vol.tolist()},
        }


def plain_correlation(returns: FloatArray) -> FloatArray:
    """Pearson correlation of the columns of ``returns`` (observations x assets)."""
    r = np.asarray(returns, dtype=np.float64)
    c = np.atleast_2d(np.corrcoef(r, rowvar=False))
    out: FloatArray = 0.5 * (c + c.T)
    np.fill_diagonal(out, 1.0)
    return out


def ewma_covariance(returns: FloatArray, lam: float) -> FloatArray:
    """Zero-mean EWMA covariance with normalized weights (see the module docstring)."""
    r = np.asarray(returns, dtype=np.float64)
    n = r.shape[0]
    w = (1.0 - lam) * lam ** np.arange(n - 1, -1, -1, dtype=np.float64)
    w /= w.sum()
    out: FloatArray = (r * w[:, None]).T @ r
    return out


def ewma_correlation(returns: FloatArray, lam: float) -> FloatArray:
    """EWMA correlation (see :func:`ewma_covariance`)."""
    c = ewma_covariance(returns, lam)
    d = np.sqrt(np.diag(c))
    out: FloatArray = c / np.outer(d, d)
    out = 0.5 * (out + out.T)
    np.fill_diagonal(out, 1.0)
    return out


def correlation_report(
    history: PriceHistory,
    assets: Sequence[str] | None = None,
    ewma_lambda: float = 0.97,
    window_days: int | None = None,
) -> CorrelationReport:
    """Plain and EWMA correlations of ``assets`` (default: all) from ``history``."""
    if not 0.0 < ewma_lambda < 1.0:
        raise SolventInputError("ewma_lambda", f"must be in (0, 1), got {ewma_lambda!r}")
    if window_days is not None and window_days < 2:
        raise SolventInputError("window_days", f"must be >= 2, got {window_days!r}")
    joint = history.log_returns(assets)
    r, dates = np.asarray(joint.values), joint.dates
    if window_days is not None:
        r, dates = r[-window_days:], dates[-window_days:]
    if r.shape[0] < 2:
        raise SolventInputError("history", "need at least 2 joint returns")
    if np.any(np.std(r, axis=0) == 0.0):
        flat = joint.assets[int(np.argmin(np.std(r, axis=0)))]
        raise SolventInputError("history", f"{flat} has constant prices: no correlation")
    cov = ewma_covariance(r, ewma_lambda)
    return CorrelationReport(
        assets=joint.assets,
        start=str(dates[0]),
        end=str(dates[-1]),
        observations=int(r.shape[0]),
        ewma_lambda=ewma_lambda,
        window_days=window_days,
        plain=plain_correlation(r),
        ewma=ewma_correlation(r, ewma_lambda),
        plain_vol=np.std(r, axis=0, ddof=1),
        ewma_vol=np.sqrt(np.diag(cov)),
    )
