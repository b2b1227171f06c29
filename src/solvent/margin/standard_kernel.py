"""The standard-model book kernel, compiled with numba: one pass over the book's CSR rows.

Every position's five requirements (``futures_im``, ``options_im``, ``futures_mm``,
``options_mm``, ``fee_provision``; formulas in :mod:`solvent.margin.standard`) from its size and
its instrument's prepared per-unit rates, summed per (account, pool) in row order. Per-unit rates
depend on the market only (:class:`StandardRates`); the size slope makes futures requirements
quadratic in the size, so they are evaluated per position. Accounts are processed in chunks of
``chunk`` accounts spread over the machine's cores; any chunk size gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.margin.compiled import parallel_and_serial

CHUNK_ACCOUNTS = 8192
"""Accounts per parallel work item."""

N_COMPONENTS = 5
"""``futures_im``, ``options_im``, ``futures_mm``, ``options_mm``, ``fee_provision``."""


@dataclass(frozen=True, slots=True)
class StandardRates:
    """Per instrument, settlement-currency rates of one unit (see :mod:`solvent.margin.standard`):
    ``unit_value`` (notional of one unit: 1 coin for inverse, the forward for linear futures, the
    index for linear options), the futures ``im_base``/``mm_base``/``slope`` fractions, the short
    option IM and MM fractions of the unit value, and the linear fee per unit (0 for inverse)."""

    pool: IntArray
    is_option: BoolArray
    unit_value: FloatArray
    im_base: FloatArray
    mm_base: FloatArray
    slope: FloatArray
    option_im: FloatArray
    option_mm: FloatArray
    fee: FloatArray
    n_pools: int


@numba.njit(inline="always", cache=True)
def _position(  # pragma: no cover - compiled; covered through the public functions
    i: int,
    q: float,
    is_option: Any,
    unit_value: Any,
    im_base: Any,
    mm_base: Any,
    slope: Any,
    option_im: Any,
    option_mm: Any,
    fee: Any,
) -> tuple[float, float, float, float, float]:
    size = abs(q)
    uv = unit_value[i]
    if is_option[i]:
        fut_im = 0.0
        fut_mm = 0.0
        if q < 0.0:
            opt_im = size * option_im[i] * uv
            opt_mm = size * option_mm[i] * uv
        else:
            opt_im = 0.0
            opt_mm = 0.0
    else:
        fut_im = size * (im_base[i] + slope[i] * size) * uv
        fut_mm = size * (mm_base[i] + slope[i] * size) * uv
        opt_im = 0.0
        opt_mm = 0.0
    return fut_im, opt_im, fut_mm, opt_mm, fee[i] * size


def _book_loop(  # pragma: no cover - compiled below; covered through book_requirements
    indptr: Any,
    indices: Any,
    data: Any,
    pool: Any,
    is_option: Any,
    unit_value: Any,
    im_base: Any,
    mm_base: Any,
    slope: Any,
    option_im: Any,
    option_mm: Any,
    fee: Any,
    chunk: int,
    out: Any,
    held: Any,
) -> None:
    n_acc = indptr.shape[0] - 1
    n_chunks = (n_acc + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        for a in range(c * chunk, min((c + 1) * chunk, n_acc)):
            for p in range(indptr[a], indptr[a + 1]):
                i = indices[p]
                q = data[p]
                k = pool[i]
                values = _position(
                    i, q, is_option, unit_value, im_base, mm_base, slope, option_im, option_mm, fee
                )
                for j in range(5):
                    out[j, a, k] += values[j]
                if q != 0.0:
                    held[a, k] = True


_book_parallel, _book_serial = parallel_and_serial(_book_loop)
"""Books of more than one chunk run in parallel, smaller ones serially."""


@numba.njit(cache=True, fastmath=False, error_model="numpy", boundscheck=False)
def _row_kernel(  # pragma: no cover - compiled; covered through position_requirements
    cols: Any,
    qty: Any,
    is_option: Any,
    unit_value: Any,
    im_base: Any,
    mm_base: Any,
    slope: Any,
    option_im: Any,
    option_mm: Any,
    fee: Any,
    out: Any,
) -> None:
    for p in range(cols.shape[0]):
        i = cols[p]
        values = _position(
            i, qty[p], is_option, unit_value, im_base, mm_base, slope, option_im, option_mm, fee
        )
        for j in range(5):
            out[j, p] = values[j]


def book_requirements(
    indptr: NDArray[Any],
    indices: NDArray[Any],
    data: FloatArray,
    rates: StandardRates,
    *,
    chunk: int = CHUNK_ACCOUNTS,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """``(components, held)`` of a CSR book (accounts x the prepared instruments): components
    ``(5, accounts, pools)`` in pool currency, in :data:`N_COMPONENTS` order; ``held[a, k]``
    when account ``a`` has a non-zero position settled in pool ``k``."""
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    n_acc = indptr.shape[0] - 1
    out = np.zeros((N_COMPONENTS, n_acc, rates.n_pools))
    held = np.zeros((n_acc, rates.n_pools), dtype=np.bool_)
    if n_acc:
        kernel = _book_parallel if n_acc > chunk else _book_serial
        kernel(
            indptr,
            indices,
            np.asarray(data, dtype=np.float64),
            rates.pool,
            rates.is_option,
            rates.unit_value,
            rates.im_base,
            rates.mm_base,
            rates.slope,
            rates.option_im,
            rates.option_mm,
            rates.fee,
            chunk,
            out,
            held,
        )
    return out, held


def position_requirements(
    cols: NDArray[np.intp], qty: FloatArray, rates: StandardRates
) -> FloatArray:
    """``(5, positions)``: each position's own requirements (pool currency), in
    :data:`N_COMPONENTS` order."""
    out = np.zeros((N_COMPONENTS, cols.shape[0]))
    if cols.shape[0]:
        _row_kernel(
            np.asarray(cols, dtype=np.intp),
            np.asarray(qty, dtype=np.float64),
            rates.is_option,
            rates.unit_value,
            rates.im_base,
            rates.mm_base,
            rates.slope,
            rates.option_im,
            rates.option_mm,
            rates.fee,
            out,
        )
    return out
