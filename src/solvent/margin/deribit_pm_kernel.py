"""The deribit-pm book kernel, compiled with numba: one fused pass over the book's CSR rows.

For every account, in one pass over its positions and with no (accounts x scenarios) temporary:

1. each (settlement, underlying) group's scenario P&L ``sum q * pnl[i, :]`` (pool currency), its
   roll-shock base ``sum |q| * roll_rate[i]`` and its net USD delta ``sum q * usd_delta[i]``;
2. the extended scenarios scaled to the standard range and dampened, times the table factor;
3. gains offset (``min(gain * pnl_offset, cap)``);
4. per bucket (a group when segregated; an underlying when cross, the groups' P&L weighted by the
   scenario value of their settlement asset in USD) the worst scenario (first index of the
   minimum) and its loss ``max(-P&L, 0)``.

The arithmetic is the one of the numpy formulation in :mod:`solvent.margin.deribit_pm` operation
for operation (same order of accumulation over a row's positions, ``np.sign``/``np.minimum``/
``np.maximum`` tie rules), so results are identical to the last bit. Accounts are independent:
they are processed in chunks of ``chunk`` accounts spread over the machine's cores, each chunk with
its own small scratch buffers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray, IntArray
from solvent.margin.compiled import parallel_and_serial

CHUNK_ACCOUNTS = 4096
"""Accounts per parallel work item (scratch buffers are per chunk; any value gives the same
results)."""


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


def _book_loop(  # pragma: no cover - compiled below; covered through run_kernel
    indptr: Any,
    indices: Any,
    data: Any,
    pnl: Any,
    group_of: Any,
    roll_rate: Any,
    usd_delta: Any,
    n_std: int,
    ext_ratio: Any,
    ext_damp: Any,
    ext_factor: float,
    pnl_offset: Any,
    offset_cap: Any,
    bucket_of: Any,
    weight: Any,
    cross: bool,
    chunk: int,
    worst_index: Any,
    loss: Any,
    roll: Any,
    delta: Any,
    raw: Any,
    keep_raw: bool,
) -> None:
    n_groups = pnl_offset.shape[0]
    n_buckets = worst_index.shape[1]
    n_s = pnl.shape[1]
    n_acc = indptr.shape[0] - 1
    n_chunks = (n_acc + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        acc = np.empty((n_groups, n_s))  # per group: P&L, then after gain offsets
        bucket = np.empty((n_buckets, n_s))  # cross: per underlying, USD
        for a in range(c * chunk, min((c + 1) * chunk, n_acc)):
            # 1. group P&L, roll-shock base and net USD delta (row order, as scipy's products)
            acc[:, :] = 0.0
            for p in range(indptr[a], indptr[a + 1]):
                i = indices[p]
                q = data[p]
                g = group_of[i]
                for s in range(n_s):
                    acc[g, s] += q * pnl[i, s]
                roll[a, g] += abs(q) * roll_rate[i]
                delta[a, g] += q * usd_delta[i]
            # 2. extended scenarios: scale to the standard range, dampen, apply the table factor
            for g in range(n_groups):
                for s in range(n_std, n_s):
                    j = s - n_std
                    scaled = acc[g, s] / ext_ratio[g, j]
                    size = abs(scaled)
                    damp = ext_damp[g, j]
                    adj = damp if damp < size else size  # np.minimum
                    sign = 1.0 if scaled > 0.0 else (-1.0 if scaled < 0.0 else 0.0)  # np.sign
                    acc[g, s] = (scaled - sign * adj) * ext_factor
            if keep_raw:  # explain: the P&L before gain offsets
                if cross:
                    raw[a, :, :] = 0.0
                    for g in range(n_groups):
                        b = bucket_of[g]
                        for s in range(n_s):
                            raw[a, b, s] += acc[g, s] * weight[g, s]
                else:
                    raw[a, :, :] = acc
            # 3. gains count pnl_offset of themselves, at most the cap
            for g in range(n_groups):
                off = pnl_offset[g]
                cap = offset_cap[g]
                for s in range(n_s):
                    v = acc[g, s]
                    if v > 0.0:
                        x = v * off
                        acc[g, s] = x if x < cap else cap  # np.minimum
            # 4. worst scenario of each bucket (first index of the minimum) and its loss
            if cross:
                bucket[:, :] = 0.0
                for g in range(n_groups):
                    b = bucket_of[g]
                    for s in range(n_s):
                        bucket[b, s] += acc[g, s] * weight[g, s]
                vectors = bucket
            else:
                vectors = acc
            for b in range(n_buckets):
                best = vectors[b, 0]
                idx = 0
                for s in range(1, n_s):
                    if vectors[b, s] < best:
                        best = vectors[b, s]
                        idx = s
                worst_index[a, b] = idx
                x = -best
                loss[a, b] = x if x > 0.0 else 0.0  # np.maximum(-v, 0.0)


_book_parallel, _book_serial = parallel_and_serial(_book_loop)
"""Books of more than one chunk run in parallel, smaller ones serially."""


def run_kernel(
    indptr: NDArray[Any],
    indices: NDArray[Any],
    data: FloatArray,
    inputs: KernelInputs,
    *,
    keep_raw: bool = False,
    chunk: int = CHUNK_ACCOUNTS,
) -> KernelOutputs:
    """Run the kernel over a CSR book (``indptr``, ``indices``, ``data``: accounts x the prepared
    instruments, quantities > 0 long). ``keep_raw`` also returns every bucket's scenario P&L
    before gain offsets (explain); ``chunk`` only changes how work is split."""
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    n_acc = indptr.shape[0] - 1
    n_groups = inputs.pnl_offset.shape[0]
    n_s = inputs.pnl.shape[1]
    worst_index = np.zeros((n_acc, inputs.n_buckets), dtype=np.intp)
    loss = np.zeros((n_acc, inputs.n_buckets))
    roll = np.zeros((n_acc, n_groups))
    delta = np.zeros((n_acc, n_groups))
    raw = np.zeros((n_acc if keep_raw else 0, inputs.n_buckets, n_s))
    if n_acc:
        kernel = _book_parallel if n_acc > chunk else _book_serial
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
            worst_index,
            loss,
            roll,
            delta,
            raw,
            keep_raw,
        )
    return KernelOutputs(worst_index, loss, roll, delta, raw)
