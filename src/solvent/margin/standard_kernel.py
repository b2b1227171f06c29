"""The standard-model book kernel: every position's requirements, summed per (account, pool).

Every position's five requirements (``futures_im``, ``options_im``, ``futures_mm``,
``options_mm``, ``fee_provision``; formulas in :mod:`solvent.margin.standard`) from its size and
its instrument's prepared per-unit rates, summed per (account, pool) in row order. Per-unit rates
depend on the market only (:class:`StandardRates`); the size slope makes futures requirements
quadratic in the size, so they are evaluated per position. Two implementations of the same
arithmetic, giving the same bits: numpy over the positions for small books, and for large ones a
numba pass over the rows (:mod:`solvent.margin.standard_compiled`) in chunks of accounts spread
over the machine's cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import BoolArray, FloatArray, IntArray

CHUNK_ACCOUNTS = 8192
"""Accounts per parallel work item of the compiled pass."""

COMPILED_FROM_POSITIONS = 20_000
"""Books with at least this many stored positions take the compiled pass; smaller ones the numpy
pass, which needs no numba import (about 0.4 s, more than a small book's whole margin)."""

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


def book_requirements(
    indptr: NDArray[Any],
    indices: NDArray[Any],
    data: FloatArray,
    rates: StandardRates,
    *,
    chunk: int = CHUNK_ACCOUNTS,
    compiled: bool | None = None,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """``(components, held)`` of a canonical CSR book (accounts x the prepared instruments):
    components ``(5, accounts, pools)`` in pool currency, in :data:`N_COMPONENTS` order, each the
    sum of the account's positions in row order; ``held[a, k]`` when account ``a`` has a non-zero
    position settled in pool ``k``. ``compiled`` chooses the numba pass or the numpy one (default:
    numba from :data:`COMPILED_FROM_POSITIONS` positions); both give the same bits."""
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    n_acc = indptr.shape[0] - 1
    n_pools = rates.n_pools
    out = np.zeros((N_COMPONENTS, n_acc, n_pools))
    held = np.zeros((n_acc, n_pools), dtype=np.bool_)
    if n_acc == 0 or data.shape[0] == 0:
        return out, held
    if compiled is None:
        compiled = data.shape[0] >= COMPILED_FROM_POSITIONS
    if compiled:
        from solvent.margin.standard_compiled import kernel_for

        kernel = kernel_for(n_acc, chunk)
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
    row = np.repeat(np.arange(n_acc), np.diff(indptr))
    pool = rates.pool[indices]
    key = row * n_pools + pool
    values = position_requirements(np.asarray(indices, dtype=np.intp), data, rates)
    for j in range(N_COMPONENTS):  # bincount adds in input order, as the compiled pass
        out[j] = np.bincount(key, weights=values[j], minlength=n_acc * n_pools).reshape(
            n_acc, n_pools
        )
    nonzero = data != 0.0
    held[row[nonzero], pool[nonzero]] = True
    return out, held


def position_requirements(
    cols: NDArray[np.intp], qty: FloatArray, rates: StandardRates
) -> FloatArray:
    """``(5, positions)``: each position's own requirements (pool currency), in
    :data:`N_COMPONENTS` order (the formulas of :mod:`solvent.margin.standard`)."""
    size = np.abs(np.asarray(qty, dtype=np.float64))
    uv = rates.unit_value[cols]
    option = rates.is_option[cols]
    short = option & (qty < 0.0)
    slope = rates.slope[cols]
    return np.stack(
        [
            np.where(option, 0.0, size * (rates.im_base[cols] + slope * size) * uv),
            np.where(short, size * rates.option_im[cols] * uv, 0.0),
            np.where(option, 0.0, size * (rates.mm_base[cols] + slope * size) * uv),
            np.where(short, size * rates.option_mm[cols] * uv, 0.0),
            rates.fee[cols] * size,
        ]
    )
