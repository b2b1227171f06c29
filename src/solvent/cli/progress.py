"""A progress bar on stderr over the steps of an engine run (never on stdout: JSON goes there).

Shown when stderr is a terminal and the input is large enough for the wait to be noticed, or
when the input is large whatever stderr is (a log then gets the finished bar once); ``--progress``
/ ``--no-progress`` decide instead when given.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

TERMINAL_BYTES = 1 << 20
"""Input size (bytes) from which a terminal gets a progress bar (about 1,500 accounts)."""
LARGE_BYTES = 32 << 20
"""Input size (bytes) from which the bar is shown even when stderr is not a terminal."""


def wanted(input_bytes: int, forced: bool | None) -> bool:
    """Whether to show a progress bar for an input of ``input_bytes`` (see the module doc)."""
    if forced is not None:
        return forced
    return input_bytes >= LARGE_BYTES or (sys.stderr.isatty() and input_bytes >= TERMINAL_BYTES)


class StageBar:
    """A rich progress bar that advances once per finished step (a ``StageObserver``)."""

    def __init__(self, steps: Sequence[str], title: str) -> None:
        self._title = title
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(title, total=len(steps))

    def __enter__(self) -> StageBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.update(self._task, description=self._title)
        self._progress.stop()

    def started(self, stage: str) -> None:
        self._progress.update(self._task, description=f"{self._title}: {stage}")

    def finished(self, stage: str, seconds: float) -> None:
        self._progress.advance(self._task)
