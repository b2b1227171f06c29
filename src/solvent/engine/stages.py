"""Named steps of an engine run, timed: where the time goes, and what a progress bar shows.

An engine function takes an optional :class:`Stages` and wraps each step in ``with
stages("margin"):``; the caller reads :attr:`Stages.seconds` afterwards (benchmarks, ``--timings``)
or passes an observer that is told when each step starts and ends (the CLI's progress bar on
stderr). The engine itself never prints.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Protocol


class Stage(StrEnum):
    """The steps of ``solvent margin``, in the order they run."""

    LOAD = "load"
    GROUP = "group"
    PREPARE = "prepare"
    MARGIN = "margin"
    COLLATERAL = "collateral"
    HEALTH = "health"
    RENDER = "render"


class StageObserver(Protocol):
    """Told when a step starts and when it ends (with its wall time in seconds)."""

    def started(self, stage: str) -> None: ...

    def finished(self, stage: str, seconds: float) -> None: ...


class Stages:
    """Wall time (seconds) of each named step, in the order they ran; steps run twice add up."""

    def __init__(self, observer: StageObserver | None = None) -> None:
        self.observer = observer
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self.observer is not None:
            self.observer.started(stage)
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed
            if self.observer is not None:
                self.observer.finished(stage, elapsed)

    @property
    def total(self) -> float:
        """Sum of every step's time (seconds)."""
        return sum(self.seconds.values())
