"""Finite-sample Expected Shortfall and Value at Risk over scenario losses (pure kernels).

For ``n`` equally weighted scenario losses (loss = -P&L, > 0 is a loss) and a confidence ``c``:

- ``k = tail_count(n, c) = ceil(n (1 - c))`` (at least 1), computed after rounding ``n (1 - c)``
  to 9 decimals so that e.g. ``1000 x 0.025`` counts 25 scenarios, not 26;
- ``VaR_c`` = the k-th largest loss (the ``n - k + 1``-th order statistic ascending);
- ``ES_c`` = the mean of the k largest losses (so ``ES_c >= VaR_c``).

Both are signed: a book that gains in every tail scenario has a negative ES (models floor the
requirement at 0). Everything works row-wise on ``(accounts, scenarios)`` arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError


def tail_count(n: int, confidence: float) -> int:
    """``ceil(n (1 - confidence))``, at least 1 (see the module docstring)."""
    if n < 1:
        raise SolventInputError("scenarios", "need at least one scenario")
    if not 0.0 < confidence < 1.0:
        raise SolventInputError("confidence", f"must be in (0, 1), got {confidence!r}")
    return max(1, min(n, math.ceil(round(n * (1.0 - confidence), 9))))


@dataclass(frozen=True, slots=True)
class TailMeasures:
    """Row-wise ``es`` and ``var`` (loss units, signed) and the ``k`` tail scenarios used."""

    es: FloatArray
    var: FloatArray
    k: int


def es_var(losses: FloatArray, confidence: float) -> TailMeasures:
    """ES and VaR of every row of ``losses`` (rows x scenarios; a 1-d array is one row)."""
    rows = np.atleast_2d(np.asarray(losses, dtype=np.float64))
    n = rows.shape[1]
    k = tail_count(n, confidence)
    part = np.partition(rows, n - k, axis=1)[:, n - k :]
    return TailMeasures(es=part.mean(axis=1), var=part.min(axis=1), k=k)


def tail_indices(losses: FloatArray, confidence: float) -> NDArray[np.intp]:
    """Indices of each row's k largest losses (rows x k, unordered); ties broken by numpy."""
    rows = np.atleast_2d(np.asarray(losses, dtype=np.float64))
    n = rows.shape[1]
    k = tail_count(n, confidence)
    return np.argpartition(rows, n - k, axis=1)[:, n - k :]
