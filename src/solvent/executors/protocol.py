"""The executor protocol: map a function over shards with a state broadcast once.

An :class:`Executor` runs the same pure function over many shards of work (accounts of a book,
days of a backtest, rows of a stress test) with one read-only *state* shared by all of them (the
prepared risk state of a market update, a parameter set). The state is sent once per update
(:meth:`Executor.share`), not once per shard; the shards travel on their own. This layer knows
nothing of books or models: the domain decides how to cut its work into shards and how to join
the results, and must give the same answer whatever the number of shards.

Two shapes of work:

- **batch** (:meth:`Executor.map`): ``fn(state, shard)`` for every shard, results in shard order;
  on Ray, one task per shard;
- **resident** (:meth:`Executor.hold`): shards kept by the workers between calls (on Ray, one
  actor per shard), changed in place by :meth:`Resident.update` (each change routed to its shard)
  and read by :meth:`Resident.map` with a new state on every market update: the real-time loop,
  where re-sending the book on every tick would cost more than margining it.

Failures: a shard whose worker dies is run again (up to the executor's ``max_retries``); a job
never returns a partial result. If a shard cannot be completed, the whole call raises
:class:`~solvent.errors.SolventJobError` naming the shard; bad input found while running a shard
raises the same :class:`~solvent.errors.SolventInputError` the in-process path would, and is not
retried (it would fail again).
"""

from __future__ import annotations

import enum
import itertools
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from solvent.arrays import IntArray
from solvent.errors import SolventInputError

S = TypeVar("S")
T = TypeVar("T")
U = TypeVar("U")
H = TypeVar("H")
A = TypeVar("A")


class ExecutorKind(enum.StrEnum):
    """Where the work runs (``--executor``)."""

    LOCAL = "local"
    """In this process, shard after shard (the default)."""
    RAY = "ray"
    """On a Ray cluster: an existing one (``--ray-address``), or a local one started for the
    command and stopped with it."""


@dataclass(frozen=True, slots=True)
class Shared(Generic[S]):
    """A state broadcast once by :meth:`Executor.share`: in-process, the object itself; on Ray,
    a reference to it in the cluster's object store (``handle``)."""

    handle: Any
    nbytes: int
    """Size of the broadcast: bytes of the serialized state (0 in-process: nothing is copied)."""


class Resident(Protocol[H]):
    """Shards held by workers between calls (see the module docstring). Shard ``k`` is the
    ``k``-th shard given to :meth:`Executor.hold`; calls on the same resident set are
    sequential."""

    def __len__(self) -> int: ...

    def update(self, fn: Callable[[H, A], H], changes: Mapping[int, A]) -> None:
        """Replace shard ``k`` by ``fn(shard_k, changes[k])`` for every ``k`` of ``changes``
        (in parallel); the others are untouched. ``fn`` must be pure (it may be replayed)."""
        ...

    def map(self, fn: Callable[[S, H], U], shared: Shared[S]) -> list[U]:
        """``fn(state, shard_k)`` for every shard, in shard order."""
        ...

    def collect(self) -> list[H]:
        """The shards as they are now, in shard order (a copy)."""
        ...

    def close(self) -> None:
        """Release the workers (idempotent)."""
        ...


class Executor(Protocol):
    """Maps pure functions over shards (see the module docstring). Use as a context manager or
    call :meth:`close`: an executor that started a cluster stops it."""

    @property
    def kind(self) -> ExecutorKind: ...

    @property
    def workers(self) -> int:
        """How many shards can run at once (CPUs of the cluster; 1 in-process): the default
        number of shards a domain cuts its work into."""
        ...

    def share(self, state: S) -> Shared[S]:
        """Broadcast ``state`` once; pass the result to :meth:`map` as often as needed."""
        ...

    def map(self, fn: Callable[[S, T], U], shared: Shared[S], shards: Sequence[T]) -> list[U]:
        """``fn(state, shard)`` for every shard, results in shard order; all or nothing."""
        ...

    def hold(self, shards: Sequence[H], source: Callable[[int], H] | None = None) -> Resident[H]:
        """Place ``shards`` on the workers, one resident per shard. ``source``: where a lost
        shard is rebuilt from (``source(k)``: shard ``k`` as it must be after every change
        given so far; the caller keeps the source of truth). Without it the executor keeps its
        own copy of each shard and of the changes since."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous ``(start, stop)`` ranges covering ``0..n`` (sizes differ by at most
    one; fewer ranges when ``n < shards``, none when ``n == 0``)."""
    if shards < 1:
        raise SolventInputError("shards", f"must be >= 1, got {shards}")
    k = min(shards, n)
    if k == 0:
        return []
    edges = ((np.arange(k + 1, dtype=np.int64) * n) // k).tolist()
    return list(itertools.pairwise(edges))


def route(keys: Sequence[str], shards: int) -> IntArray:
    """The shard of each key: CRC-32 of its UTF-8 bytes modulo ``shards``. Stable across
    processes and runs (unlike ``hash``), so every process routes a key to the same shard."""
    if shards < 1:
        raise SolventInputError("shards", f"must be >= 1, got {shards}")
    codes = np.fromiter((zlib.crc32(k.encode("utf-8")) for k in keys), np.int64, len(keys))
    out: IntArray = codes % shards
    return out
