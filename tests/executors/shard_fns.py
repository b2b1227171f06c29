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


class DieInMargin:
    """A margin model that kills the first Ray worker process calling its ``margin`` (never the
    driver, ``driver_pid``), mid-call, then behaves as ``model``: an actor lost in the middle of
    a tick's margin."""

    def __init__(self, model: Any, marker_dir: str, driver_pid: int) -> None:
        self.model = model
        self.marker = str(Path(marker_dir) / "margin-died")
        self.driver_pid = driver_pid

    def __getattr__(self, name: str) -> Any:
        if name in ("model", "marker", "driver_pid") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.model, name)

    def margin(self, prepared: Any, book: Any, *, detail: Any) -> Any:
        if os.getpid() != self.driver_pid:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return self.model.margin(prepared, book, detail=detail)
