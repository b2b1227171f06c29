"""Helpers shared by the benchmarks (not a benchmark: no ``bench_`` prefix)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, ``"1.2, 0.9, 0.7"``."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


@contextmanager
def local_postgres() -> Iterator[str | None]:
    """A throwaway PostgreSQL server started by scripts/postgres.sh, stopped on exit: yields its
    URL, or ``None`` (after printing why) when it cannot start."""
    workdir = tempfile.mkdtemp(prefix="solvent-pg-bench-")
    script = ROOT / "scripts" / "postgres.sh"
    started = subprocess.run([str(script), "start", workdir], capture_output=True, text=True)
    try:
        if started.returncode != 0:
            print(f"PostgreSQL skipped: {started.stderr.strip()[-300:]}")
            yield None
        else:
            yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(script), "stop", workdir], capture_output=True)
