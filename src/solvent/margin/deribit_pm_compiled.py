"""The deribit-pm book kernel compiled with numba (see :mod:`solvent.margin.deribit_pm_kernel`).

Imported only for books of :data:`~solvent.margin.deribit_pm_kernel.COMPILED_FROM_POSITIONS`
positions or more: importing numba and loading the compiled build costs about 0.4 s, more than a
small book's whole margin.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from solvent.margin.compiled import parallel_and_serial


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


def kernel_for(n_accounts: int, chunk: int) -> Any:
    """The build to run: parallel over chunks for more than one chunk of accounts, else serial.
    Arguments as :func:`_book_loop`'s."""
    return _book_parallel if n_accounts > chunk else _book_serial
