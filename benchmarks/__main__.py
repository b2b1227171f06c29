"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn, or the ones named.

python -m benchmarks                 # all of them
python -m benchmarks pricing svi     # bench_pricing, bench_svi (``bench_`` prefix optional)
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks


def available() -> list[str]:
    """Names of the benchmark modules (``bench_*``), sorted."""
    return sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )


def run(names: list[str]) -> int:
    known = available()
    chosen = [n if n.startswith("bench_") else f"bench_{n}" for n in names] or known
    unknown = [n for n in chosen if n not in known]
    if unknown:
        sys.stderr.write(f"unknown benchmark(s) {unknown}; available: {known}\n")
        return 2
    for name in chosen:
        print(f"=== {name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"benchmarks.{name}").main()
        print(f"=== {name} done in {time.perf_counter() - started:.1f} s ===\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
