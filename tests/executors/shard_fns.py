"""Module-level shard functions for the executor tests (pickled by value onto Ray workers)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np

from solvent.errors import SolventInputError


def scaled_sum(state: np.ndarray[Any, Any], shard: int) -> float:
    """A pure function of the broadcast state and the shard."""
    return float(state.sum() * shard)


def refuse_three(state: object, shard: int) -> int:
    if shard == 3:
        raise SolventInputError(f"shard[{shard}]", "three is refused")
    return shard


def die_once(marker_dir: str, shard: int) -> tuple[int, int]:
    """Shard 1 kills its own worker process the first time it runs (a worker lost mid-job)."""
    marker = Path(marker_dir) / f"died-{shard}"
    if shard == 1 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return shard, shard * shard


def die_always(state: object, shard: int) -> int:
    if shard == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return shard


def flaky(marker_dir: str, shard: int) -> int:
    """Raises the first time shard 0 runs (a transient error), then succeeds."""
    marker = Path(marker_dir) / f"flaky-{shard}"
    if shard == 0 and not marker.exists():
        marker.write_text("x")
        raise RuntimeError("transient")
    return shard + 100


def add(held: int, change: int) -> int:
    return held + change


def add_positive(held: int, change: int) -> int:
    if change < 0:
        raise SolventInputError("change", f"must be >= 0, got {change}")
    return held + change


def plus_state(state: int, held: int) -> int:
    return state + held


def die_in_shard_once(marker_dir: str, held: int) -> int:
    """A resident shard whose actor dies the first time it is read (the held value 20)."""
    marker = Path(marker_dir) / f"actor-died-{held}"
    if held == 20 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return held
