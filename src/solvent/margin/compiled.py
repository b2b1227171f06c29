"""Compiling a book kernel twice: in parallel for large books, serially for small ones.

Waking numba's thread pool costs more than a what-if's whole work (one account: microseconds),
so a kernel written as a ``numba.prange`` loop over chunks of accounts is compiled both ways and
the caller picks by book size. numba's on-disk cache is keyed by a function's name and first line,
not by its compile options, so the serial build compiles a renamed copy of the function (one
function compiled twice under one name would load the other build from the cache).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numba


def parallel_and_serial(fn: Callable[..., None]) -> tuple[Any, Any]:
    """``(parallel, serial)`` numba builds of ``fn`` (no fast-math, numpy error model, no bounds
    checks, cached on disk)."""
    options: dict[str, Any] = {
        "cache": True,
        "fastmath": False,
        "error_model": "numpy",
        "boundscheck": False,
    }
    name = f"{fn.__name__}_serial"
    code = fn.__code__.replace(co_name=name, co_qualname=name)
    copy = types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    parallel = numba.njit(parallel=True, **options)(fn)
    serial = numba.njit(parallel=False, **options)(copy)
    return parallel, serial
