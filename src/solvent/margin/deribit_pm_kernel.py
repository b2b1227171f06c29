"""The deribit-pm book kernel: every account's group P&L reduced to worst losses, in one pass.

For every account of a CSR book:

1. each (settlement, underlying) group's scenario P&L ``sum q * pnl[i, :]`` (pool currency), its
   roll-shock base ``sum |q| * roll_rate[i]`` and its net USD delta ``sum q * usd_delta[i]``;
2. the extended scenarios scaled to the standard range and dampened, times the table factor;
3. gains offset (``min(gain * pnl_offset, cap)``);
4. per bucket (a group when segregated; an underlying when cross, the groups' P&L weighted by the
   scenario value of their settlement asset in USD) the worst scenario (first index of the
   minimum) and its loss ``max(-P&L, 0)``.

Two implementations of the same arithmetic, operation for operation (same order of accumulation
over a row's positions, the ``np.sign``/``np.minimum``/``np.maximum`` tie rules), so they give
the same bits (tests/margin/test_prepared_kernels.py): a numpy pass over (accounts x scenarios)
arrays, group by group, for small books; and for large ones a numba pass
(:mod:`solvent.margin.deribit_pm_compiled`) that fuses the four steps per account with no
(accounts x scenarios) temporary, in chunks of accounts spread over the machine's cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from solvent.arrays import FloatArray, IntArray

CHUNK_ACCOUNTS = 4096
"""Accounts per parallel work item of the compiled pass (scratch buffers are per chunk; any
value gives the same results)."""

COMPILED_FROM_POSITIONS = 20_000
"""Books with at least this many stored positions take the compiled pass; smaller ones the numpy
pass, which needs no numba import (about 0.4 s, more than a small book's whole margin)."""


@dataclass(frozen=True, slots=True)
class KernelInputs:
    """Book-independent arrays of a prepared deribit-pm market (see :func:`run_kernel`).

    ``pnl`` (instruments x scenarios, C order) is the risk array in each instrument's settlement
    asset; ``group_of`` maps instruments to groups; per group: ``ext_ratio`` and ``ext_damp``
    (groups x extended moves: ``|move| / price_range`` and the dampener in pool currency, floored
    at 0), ``pnl_offset`` and ``offset_cap`` (pool currency), ``bucket_of`` and ``weight``
    (groups x scenarios: 1 when segregated, USD per unit of the settlement asset when cross)."""

    pnl: FloatArray
    group_of: IntArray
    roll_rate: FloatArray
    usd_delta: FloatArray
    n_std: int
    ext_ratio: FloatArray
    ext_damp: FloatArray
    ext_factor: float
    pnl_offset: FloatArray
    offset_cap: FloatArray
    bucket_of: IntArray
    n_buckets: int
    weight: FloatArray
    cross: bool


@dataclass(frozen=True, slots=True)
class KernelOutputs:
    """Per account: each bucket's worst scenario index and loss (>= 0), each group's roll-shock
    base and net USD delta, and (when asked) each bucket's scenario P&L before gain offsets."""

    worst_index: NDArray[np.intp]  # (accounts, buckets)
    loss: FloatArray  # (accounts, buckets)
    roll: FloatArray  # (accounts, groups)
    delta: FloatArray  # (accounts, groups)
    raw: FloatArray  # (accounts, buckets, scenarios), or (0, buckets, scenarios)


def run_kernel(
    indptr: NDArray[Any],
    indices: NDArray[Any],
    data: FloatArray,
    inputs: KernelInputs,
    *,
    keep_raw: bool = False,
    chunk: int = CHUNK_ACCOUNTS,
    compiled: bool | None = None,
) -> KernelOutputs:
    """Run the kernel over a canonical CSR book (``indptr``, ``indices`` sorted per row,
    ``data``: accounts x the prepared instruments, quantities > 0 long). ``keep_raw`` also returns
    every bucket's scenario P&L before gain offsets (explain). ``compiled`` chooses the numba pass
    or the numpy one (default: numba from :data:`COMPILED_FROM_POSITIONS` positions); both give
    the same bits. ``chunk`` only changes how the compiled pass splits its work."""
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    n_acc = indptr.shape[0] - 1
    n_groups = inputs.pnl_offset.shape[0]
    n_s = inputs.pnl.shape[1]
    out = KernelOutputs(
        worst_index=np.zeros((n_acc, inputs.n_buckets), dtype=np.intp),
        loss=np.zeros((n_acc, inputs.n_buckets)),
        roll=np.zeros((n_acc, n_groups)),
        delta=np.zeros((n_acc, n_groups)),
        raw=np.zeros((n_acc if keep_raw else 0, inputs.n_buckets, n_s)),
    )
    if n_acc == 0 or n_groups == 0:
        return out
    if compiled is None:
        compiled = data.shape[0] >= COMPILED_FROM_POSITIONS
    if compiled:
        from solvent.margin.deribit_pm_compiled import kernel_for

        kernel = kernel_for(n_acc, chunk)
        kernel(
            indptr,
            indices,
            np.asarray(data, dtype=np.float64),
            inputs.pnl,
            inputs.group_of,
            inputs.roll_rate,
            inputs.usd_delta,
            inputs.n_std,
            inputs.ext_ratio,
            inputs.ext_damp,
            inputs.ext_factor,
            inputs.pnl_offset,
            inputs.offset_cap,
            inputs.bucket_of,
            inputs.weight,
            inputs.cross,
            chunk,
            out.worst_index,
            out.loss,
            out.roll,
            out.delta,
            out.raw,
            keep_raw,
        )
    else:
        _fill_numpy(indptr, indices, data, inputs, out, keep_raw=keep_raw)
    return out


def _fill_numpy(
    indptr: NDArray[Any],
    indices: NDArray[Any],
    data: FloatArray,
    inp: KernelInputs,
    out: KernelOutputs,
    *,
    keep_raw: bool,
) -> None:
    """The same steps with numpy and SciPy, group by group over (accounts x scenarios) arrays.
    SciPy's sparse products accumulate each row in column order, as the compiled pass does."""
    n_acc = indptr.shape[0] - 1
    n_inst, n_s = inp.pnl.shape
    q = sp.csr_array((np.asarray(data, dtype=np.float64), indices, indptr), shape=(n_acc, n_inst))
    q_csc = q.tocsc()
    n_std = inp.n_std
    rows_a = np.arange(n_acc)
    bucket = np.zeros((n_acc if inp.cross else 0, inp.n_buckets, n_s))
    for g in range(inp.pnl_offset.shape[0]):
        rows = np.flatnonzero(inp.group_of == g)
        sub = q_csc[:, rows]
        pnl = np.asarray(sub @ inp.pnl[rows, :])
        scaled = pnl[:, n_std:] / inp.ext_ratio[g][None, :]
        adj = np.minimum(inp.ext_damp[g][None, :], np.abs(scaled))
        pnl[:, n_std:] = (scaled - np.sign(scaled) * adj) * inp.ext_factor
        if keep_raw:
            if inp.cross:
                out.raw[:, inp.bucket_of[g], :] += pnl * inp.weight[g][None, :]
            else:
                out.raw[:, g, :] = pnl
        gains = pnl > 0
        pnl[gains] = np.minimum(pnl[gains] * inp.pnl_offset[g], inp.offset_cap[g])
        out.roll[:, g] = abs(sub) @ inp.roll_rate[rows]
        out.delta[:, g] = sub @ inp.usd_delta[rows]
        if inp.cross:
            bucket[:, inp.bucket_of[g], :] += pnl * inp.weight[g][None, :]
        else:
            idx = np.argmin(pnl, axis=1)
            out.worst_index[:, g] = idx
            out.loss[:, g] = np.maximum(-pnl[rows_a, idx], 0.0)
    if inp.cross:
        for b in range(inp.n_buckets):
            idx = np.argmin(bucket[:, b, :], axis=1)
            out.worst_index[:, b] = idx
            out.loss[:, b] = np.maximum(-bucket[rows_a, b, idx], 0.0)
