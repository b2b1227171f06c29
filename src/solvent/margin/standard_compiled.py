"""The standard-model book kernel compiled with numba (see :mod:`solvent.margin.standard_kernel`).

Imported only for books of :data:`~solvent.margin.standard_kernel.COMPILED_FROM_POSITIONS`
positions or more: importing numba and loading the compiled build costs about 0.4 s, more than a
small book's whole margin.
"""

from __future__ import annotations

from typing import Any

import numba

from solvent.margin.compiled import parallel_and_serial


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


def kernel_for(n_accounts: int, chunk: int) -> Any:
    """The build to run: parallel over chunks for more than one chunk of accounts, else serial.
    Arguments as :func:`_book_loop`'s."""
    return _book_parallel if n_accounts > chunk else _book_serial
