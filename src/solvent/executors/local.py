"""The in-process executor (the default): every shard in this process, one after the other.

Nothing is copied or serialized: :meth:`LocalExecutor.share` wraps the state itself, and a
resident shard is the object given to :meth:`LocalExecutor.hold`. With one shard (``workers``
is 1) a domain's sharded path is its plain in-process path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Generic, TypeVar

from solvent.errors import SolventInputError
from solvent.executors.protocol import ExecutorKind, Shared

S = TypeVar("S")
T = TypeVar("T")
U = TypeVar("U")
H = TypeVar("H")
A = TypeVar("A")


class LocalResident(Generic[H]):
    """Shards held in this process (:class:`~solvent.executors.protocol.Resident`)."""

    def __init__(self, shards: Sequence[H]) -> None:
        self._shards = list(shards)

    def __len__(self) -> int:
        return len(self._shards)

    def update(self, fn: Callable[[H, A], H], changes: Mapping[int, A]) -> None:
        for k in changes:
            if not 0 <= k < len(self._shards):
                raise SolventInputError("shard", f"no shard {k} (have {len(self._shards)})")
        # All new shards first, then swap: a change that raises leaves every shard as it was.
        new = {k: fn(self._shards[k], arg) for k, arg in changes.items()}
        for k, shard in new.items():
            self._shards[k] = shard

    def map(self, fn: Callable[[S, H], U], shared: Shared[S]) -> list[U]:
        return [fn(shared.handle, shard) for shard in self._shards]

    def collect(self) -> list[H]:
        return list(self._shards)

    def close(self) -> None:
        self._shards = []


class LocalExecutor:
    """Runs every shard in this process (:class:`~solvent.executors.protocol.Executor`)."""

    @property
    def kind(self) -> ExecutorKind:
        return ExecutorKind.LOCAL

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise SolventInputError("workers", f"must be >= 1, got {workers}")
        self._workers = workers

    @property
    def workers(self) -> int:
        """1 by default; more makes domains cut their work into that many shards, all run in
        this process one after the other (to exercise the sharded paths without a cluster)."""
        return self._workers

    def share(self, state: S) -> Shared[S]:
        return Shared(state, 0)

    def map(self, fn: Callable[[S, T], U], shared: Shared[S], shards: Sequence[T]) -> list[U]:
        return [fn(shared.handle, shard) for shard in shards]

    def hold(
        self, shards: Sequence[H], source: Callable[[int], H] | None = None
    ) -> LocalResident[H]:
        return LocalResident(shards)  # nothing is lost in this process: no rebuild needed

    def close(self) -> None:
        return None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
