"""Per-stage latency of the tick loop: what each tick spent where, and p50/p99 over a run.

A tick runs the stages of :class:`TickStage` in order (docs/engine.md). :class:`TickTimer` times
them with ``time.perf_counter`` from the moment the tick's first market event was taken from the
queue (``tick_to_margin`` ends when every account's health is known). :class:`LatencyStats`
keeps every tick's figures (milliseconds) in growable arrays and summarizes them as percentiles
(numpy's linear interpolation). Wall-clock times are measurements, never inputs: nothing the
engine decides depends on them, so replays stay deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum

import numpy as np

from solvent.arrays import FloatArray


class TickStage(StrEnum):
    """The stages of one tick, in the order they run."""

    INDEX = "index"
    """Oracle index per asset from the venues' quotes (or a price path's row)."""
    MARKS = "marks"
    """Futures, perpetual and option marks moved to the new index."""
    SURFACE = "surface"
    """Vol-surface refit and option re-marking (only when the chain moved, throttled)."""
    RISK_ARRAYS = "risk_arrays"
    """Each model's ``prepare`` on the moved market: risk arrays of the book's instruments."""
    MARGIN = "margin"
    """Each model's ``margin`` over its whole book, times the dynamic multiplier."""
    HEALTH = "health"
    """Equity of every margin unit and its health state; transitions found."""


TICK_TO_MARGIN = "tick_to_margin"
"""The figure the engine is judged by: first event of the tick taken -> every account's health
known (the sum of the stages plus the loop's own overhead)."""
TICK_CPU = "tick_cpu"
"""The process CPU time of the same span: on a loaded machine, what the tick costs apart from
waiting for a core."""


class TickTimer:
    """Times one tick's stages (seconds, ``perf_counter``)."""

    def __init__(self, started: float | None = None) -> None:
        self.started = time.perf_counter() if started is None else started
        self.cpu_started = time.process_time()
        self.seconds: dict[str, float] = {}
        self.finished: float | None = None
        self.cpu_seconds: float | None = None

    @contextmanager
    def __call__(self, stage: TickStage) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage.value] = self.seconds.get(stage.value, 0.0) + (
                time.perf_counter() - start
            )

    def finish(self) -> float:
        """Mark the tick done; returns tick-to-margin in seconds."""
        self.finished = time.perf_counter()
        self.cpu_seconds = time.process_time() - self.cpu_started
        return self.finished - self.started


class LatencyStats:
    """Every tick's stage times and tick-to-margin, in milliseconds."""

    def __init__(self) -> None:
        self._names = [s.value for s in TickStage] + [TICK_TO_MARGIN, TICK_CPU]
        self._data = np.zeros((len(self._names), 1024), dtype=np.float64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def record(self, timer: TickTimer) -> None:
        """Add one finished tick (a stage it skipped counts 0 ms)."""
        if timer.finished is None:
            timer.finish()
        assert timer.finished is not None
        if self._count == self._data.shape[1]:
            self._data = np.concatenate([self._data, np.zeros_like(self._data)], axis=1)
        column = self._data[:, self._count]
        for i, name in enumerate(self._names[:-2]):
            column[i] = 1000.0 * timer.seconds.get(name, 0.0)
        column[-2] = 1000.0 * (timer.finished - timer.started)
        column[-1] = 1000.0 * (timer.cpu_seconds or 0.0)
        self._count += 1

    def series(self, name: str = TICK_TO_MARGIN) -> FloatArray:
        """Every recorded tick's figure for ``name`` (a stage or ``tick_to_margin``), ms."""
        return self._data[self._names.index(name), : self._count].copy()

    def summary(self) -> dict[str, dict[str, float]]:
        """``{name: {"p50", "p99", "max"}}`` in ms for every stage, ``tick_to_margin`` and
        ``tick_cpu`` (zeros before the first tick)."""
        out: dict[str, dict[str, float]] = {}
        for i, name in enumerate(self._names):
            values = self._data[i, : self._count]
            if values.size == 0:
                out[name] = {"p50": 0.0, "p99": 0.0, "max": 0.0}
                continue
            p50, p99 = np.percentile(values, [50.0, 99.0])
            out[name] = {"p50": float(p50), "p99": float(p99), "max": float(values.max())}
        return out

    def tick_to_margin(self) -> Mapping[str, float]:
        """``{"p50", "p99"}`` of tick-to-margin in ms (FORMATS 10 ``latency_ms``)."""
        summary = self.summary()[TICK_TO_MARGIN]
        return {"p50": summary["p50"], "p99": summary["p99"]}
