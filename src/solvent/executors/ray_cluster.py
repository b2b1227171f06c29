"""The Ray executor: shards as Ray tasks (batch) or Ray actors (resident), state broadcast once.

- :meth:`RayExecutor.share` is one ``ray.put``: the state sits once in the object store of the
  cluster and every task or actor call receives the same reference (numpy arrays are read from
  shared memory without a copy on the node that holds them).
- :meth:`RayExecutor.map` submits one task per shard (``fn``, the state's reference, the shard)
  and gathers the results in shard order.
- :meth:`RayExecutor.hold` starts one actor per shard (spread over the nodes); each holds its
  shard between calls.

Failures. A task whose worker process dies (killed, out of memory, node lost) is re-run by Ray up
to ``max_retries`` times, and so is one that raises (a transient error); a shard that still fails
makes the whole call raise :class:`~solvent.errors.SolventJobError` (a lost worker) or the
shard's own exception (a bug), after cancelling the other shards: never a partial result. Bad
input (:class:`~solvent.errors.SolventInputError`) is returned by the worker, not retried, and
raised in the caller as itself. A resident shard is rebuilt on a new actor when its actor dies:
the driver keeps each shard's last checkpoint (an object-store reference) and the changes since
(the journal, compacted into a new checkpoint every ``checkpoint_every`` changes), replays them and
retries the call. A caller that keeps the source of truth itself (the real-time engine's book)
passes ``source`` to :meth:`RayExecutor.hold` instead: a lost shard is rebuilt from
``source(k)``, and the driver keeps no copy of the shards in the object store.

Starting and joining. ``RayExecutor(address)`` joins an existing cluster (``ray.init(address)``:
``"auto"``, ``"host:port"`` or ``"ray://host:10001"``); with no address it starts a private
single-node Ray bound to 127.0.0.1 only (no dashboard, a bounded object store, usage statistics
off) and stops it in :meth:`close`. A process already connected to Ray (inside a Ray job, or a test
session) uses that connection and leaves it open.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import ray
import ray.exceptions
from ray import cloudpickle
from ray._private import ray_constants

from solvent.errors import SolventInputError, SolventJobError, one_line
from solvent.executors.protocol import ExecutorKind, Shared

S = TypeVar("S")
T = TypeVar("T")
U = TypeVar("U")
H = TypeVar("H")
A = TypeVar("A")

DEFAULT_OBJECT_STORE_BYTES = 1 << 30
"""Object store of a local Ray started by the executor (1 GiB; a cluster keeps its own)."""
DEFAULT_MAX_RETRIES = 3
"""Re-runs of a failed shard before the job fails."""
DEFAULT_CHECKPOINT_EVERY = 64
"""Changes to a resident shard between two checkpoints of it."""


@dataclass(frozen=True, slots=True)
class _Refused:
    """Bad input found by a worker: carried back as data (never retried), raised by the driver."""

    kind: type[SolventInputError]
    field: str
    message: str

    def raise_it(self) -> None:
        raise self.kind(self.field, self.message)


def _guarded(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except SolventInputError as exc:
        return _Refused(type(exc), exc.field, exc.message)


def _run_shard(fn: Callable[[Any, Any], Any], state: Any, shard: Any) -> Any:
    return _guarded(lambda: fn(state, shard))


class _ShardActor:
    """Holds one resident shard. ``stage`` computes a change without applying it; ``commit``
    applies the staged change (two phases, so that a refused change leaves every shard as it
    was)."""

    def __init__(self, shard: Any, journal: list[tuple[Any, Any]]) -> None:
        for fn, ref in journal:  # a rebuilt actor replays the changes since the checkpoint
            shard = fn(shard, ray.get(ref))
        self._shard = shard
        self._staged: Any = None

    def pid(self) -> int:
        return os.getpid()

    def stage(self, fn: Callable[[Any, Any], Any], arg: Any) -> Any:
        def compute() -> None:
            self._staged = fn(self._shard, arg)

        return _guarded(compute)

    def commit(self) -> None:
        self._shard, self._staged = self._staged, None

    def abort(self) -> None:
        self._staged = None

    def run(self, fn: Callable[[Any, Any], Any], state: Any) -> Any:
        return _guarded(lambda: fn(state, self._shard))

    def get(self) -> Any:
        return self._shard


_remote_shard = ray.remote(_run_shard)
_RemoteShardActor = ray.remote(_ShardActor)

_LOST = (
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.RayActorError,
    ray.exceptions.ObjectLostError,
    ray.exceptions.NodeDiedError,
    ray.exceptions.OutOfMemoryError,
    ray.exceptions.LocalRayletDiedError,
    ray.exceptions.TaskCancelledError,
)
"""Failures of the machinery rather than of the shard's code."""


_CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's own switch for a node that only uses the loopback interface (``ray_constants``)."""


def _loopback_only() -> tuple[str | None, bool]:
    """Make the Ray started next bind and advertise 127.0.0.1 only (every server of the node:
    GCS, raylet, object manager, workers), not the machine's routable address: Ray's switch in
    the environment (inherited by the processes it starts) and in the driver's copy of its
    constants (read when ``ray`` was imported). Returns what to restore."""
    previous = (os.environ.get(_CLUSTER_SWITCH), bool(ray_constants.ENABLE_RAY_CLUSTER))
    os.environ[_CLUSTER_SWITCH] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    return previous


def _restore_loopback(env: str | None, enabled: bool) -> None:
    if env is None:
        os.environ.pop(_CLUSTER_SWITCH, None)
    else:
        os.environ[_CLUSTER_SWITCH] = env
    ray_constants.ENABLE_RAY_CLUSTER = enabled


PROBE_TIMEOUT_S = 5.0
"""How long to wait for a TCP connection to ``--ray-address`` before giving up (Ray itself would
retry for minutes)."""


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``HOST:PORT`` or ``ray://HOST:PORT`` address; None for ``auto``."""
    if address == "auto":
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in rest:
        raise SolventInputError(
            "ray-address", f"expected auto, HOST:PORT or ray://HOST:PORT, got {address!r}"
        )
    return host.strip("[]"), int(port)


def _is_loopback(address: str) -> bool:
    where = _host_port(address)
    return where is not None and where[0] in ("127.0.0.1", "localhost", "::1")


def _check_reachable(address: str) -> None:
    """Refuse a malformed address (:class:`SolventInputError`) and fail fast on one nothing
    listens at (:class:`SolventJobError`)."""
    where = _host_port(address)
    if where is None:
        return
    try:
        socket.create_connection(where, timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise SolventJobError("ray-address", f"cannot reach {address}: {one_line(exc)}") from None


def _serialized_bytes(state: Any) -> int:
    """Bytes of ``state`` serialized as Ray does (cloudpickle, protocol 5; large arrays counted
    out of band, without copying them here)."""
    sizes: list[int] = []

    def buffer(b: pickle.PickleBuffer) -> None:
        sizes.append(b.raw().nbytes)

    header = cloudpickle.dumps(state, protocol=5, buffer_callback=buffer)  # type: ignore[no-untyped-call]
    return len(header) + sum(sizes)


def _result(value: Any) -> Any:
    if isinstance(value, _Refused):
        value.raise_it()
    return value


def _gather(refs: Sequence[Any], what: str) -> list[Any]:
    """Every result of ``refs`` in order, or an exception after cancelling the rest."""
    index = {ref: k for k, ref in enumerate(refs)}
    out: list[Any] = [None] * len(refs)
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                out[index[ref]] = _result(_get(ref, f"{what} {index[ref]}"))
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return out


def _get(ref: Any, where: str) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, BaseException) else None
        if cause is None:
            raise SolventJobError(where, one_line(exc)) from exc
        raise cause from None
    except _LOST as exc:
        raise SolventJobError(where, f"failed on every retry: {one_line(exc)}") from exc


@dataclass
class _Slot:
    """One resident shard as the driver knows it: its actor, its last checkpoint and the changes
    since."""

    actor: Any
    checkpoint: Any
    journal: list[tuple[Any, Any]] = field(default_factory=list)


class RayResident(Generic[H]):
    """Shards held by Ray actors (:class:`~solvent.executors.protocol.Resident`)."""

    def __init__(
        self,
        shards: Sequence[H],
        *,
        max_retries: int,
        checkpoint_every: int,
        source: Callable[[int], H] | None = None,
    ) -> None:
        self._max_retries = max_retries
        self._checkpoint_every = checkpoint_every
        self._source = source
        self._slots: list[_Slot] = []
        for shard in shards:
            ref = ray.put(shard)
            # with a source, the reference is dropped once the actor holds its shard
            self._slots.append(_Slot(self._start(ref, []), None if source else ref))
        self.restarts = 0
        """Actors rebuilt after a failure (for tests and logs)."""

    @staticmethod
    def _start(checkpoint: Any, journal: list[tuple[Any, Any]]) -> Any:
        return _RemoteShardActor.options(
            num_cpus=0, max_restarts=0, scheduling_strategy="SPREAD"
        ).remote(checkpoint, journal)

    def __len__(self) -> int:
        return len(self._slots)

    def _rebuild(self, k: int) -> None:
        slot = self._slots[k]
        ray.kill(slot.actor, no_restart=True)
        if self._source is not None:
            slot.actor = self._start(ray.put(self._source(k)), [])
        else:
            slot.actor = self._start(slot.checkpoint, slot.journal)
        self.restarts += 1

    def _call(self, k: int, method: str, *args: Any) -> Any:
        """``method(*args)`` on shard ``k``'s actor, rebuilding it when it has died."""
        for attempt in range(self._max_retries + 1):
            try:
                return _result(
                    _get(getattr(self._slots[k].actor, method).remote(*args), f"shard {k}")
                )
            except SolventJobError:
                if attempt == self._max_retries:
                    raise
                self._rebuild(k)
        raise AssertionError("unreachable")

    def _calls(self, method: str, args: Mapping[int, tuple[Any, ...]]) -> dict[int, Any]:
        """``method`` on several shards at once; a shard whose actor died is rebuilt and asked
        again on its own."""
        refs = {k: getattr(self._slots[k].actor, method).remote(*a) for k, a in args.items()}
        out: dict[int, Any] = {}
        failed: list[int] = []
        for k, ref in refs.items():
            try:
                out[k] = _get(ref, f"shard {k}")
            except SolventJobError:
                failed.append(k)
        for k in failed:
            self._rebuild(k)
            out[k] = self._call(k, method, *args[k])
        for value in out.values():
            _result(value)
        return out

    def update(self, fn: Callable[[H, A], H], changes: Mapping[int, A]) -> None:
        for k in changes:
            if not 0 <= k < len(self._slots):
                raise SolventInputError("shard", f"no shard {k} (have {len(self._slots)})")
        arg_refs = {k: ray.put(arg) for k, arg in changes.items()}
        try:
            self._calls("stage", {k: (fn, ref) for k, ref in arg_refs.items()})
        except BaseException:
            for k in arg_refs:
                self._slots[k].actor.abort.remote()
            raise
        if self._source is None:
            for k, ref in arg_refs.items():
                self._slots[k].journal.append((fn, ref))
        committed = {k: self._slots[k].actor.commit.remote() for k in arg_refs}
        for k, ref in committed.items():
            try:
                _get(ref, f"shard {k}")
            except SolventJobError:
                self._rebuild(k)  # the journal (or the source) holds the change already
        for k in arg_refs:
            if len(self._slots[k].journal) >= self._checkpoint_every:
                self._checkpoint(k)

    def _checkpoint(self, k: int) -> None:
        if self._source is not None:
            return
        slot = self._slots[k]
        ref = slot.actor.get.remote()
        try:
            _get(ref, f"shard {k}")
        except SolventJobError:
            self._rebuild(k)  # keep the old checkpoint and journal; try again next time
            return
        slot.checkpoint, slot.journal = ref, []

    def map(self, fn: Callable[[S, H], U], shared: Shared[S]) -> list[U]:
        out = self._calls("run", {k: (fn, shared.handle) for k in range(len(self._slots))})
        return [out[k] for k in range(len(self._slots))]

    def collect(self) -> list[H]:
        out = self._calls("get", {k: () for k in range(len(self._slots))})
        return [out[k] for k in range(len(self._slots))]

    def pids(self) -> list[int]:
        """The process id of each shard's actor (to watch or kill it in tests)."""
        out = self._calls("pid", {k: () for k in range(len(self._slots))})
        return [int(out[k]) for k in range(len(self._slots))]

    def close(self) -> None:
        for slot in self._slots:
            ray.kill(slot.actor, no_restart=True)
        self._slots = []


class RayExecutor:
    """Runs shards on a Ray cluster (see the module docstring)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        object_store_bytes: int = DEFAULT_OBJECT_STORE_BYTES,
        max_retries: int = DEFAULT_MAX_RETRIES,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        if max_retries < 0:
            raise SolventInputError("max_retries", f"must be >= 0, got {max_retries}")
        if checkpoint_every < 1:
            raise SolventInputError("checkpoint_every", f"must be >= 1, got {checkpoint_every}")
        self.max_retries = max_retries
        self.checkpoint_every = checkpoint_every
        self._owns = False
        self._loopback: tuple[str | None, bool] | None = None
        if address is not None:
            _check_reachable(address)
        if ray.is_initialized():
            return
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no report leaves the machine
        common: dict[str, Any] = {
            "logging_level": logging.ERROR,
            "log_to_driver": False,
            "include_dashboard": False,
        }
        try:
            if address is None:
                self._loopback = _loopback_only()
                ray.init(
                    address="local",
                    num_cpus=num_cpus,
                    object_store_memory=object_store_bytes,
                    _node_ip_address="127.0.0.1",
                    **common,
                )
            else:
                if _is_loopback(address):  # a cluster bound to loopback is joined on loopback
                    self._loopback = _loopback_only()
                ray.init(address=address, **common)
        except Exception as exc:  # Ray raises ConnectionError, ValueError, RuntimeError...
            self._restore()
            where = "ray-address" if address is not None else "ray"
            raise SolventJobError(where, f"cannot start or join Ray: {one_line(exc)}") from exc
        self._owns = True

    @property
    def kind(self) -> ExecutorKind:
        return ExecutorKind.RAY

    @property
    def workers(self) -> int:
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        return max(int(resources.get("CPU", 1)), 1)

    def share(self, state: S) -> Shared[S]:
        return Shared(ray.put(state), _serialized_bytes(state))

    def map(self, fn: Callable[[S, T], U], shared: Shared[S], shards: Sequence[T]) -> list[U]:
        task = _remote_shard.options(max_retries=self.max_retries, retry_exceptions=True)
        refs = [task.remote(fn, shared.handle, shard) for shard in shards]
        return _gather(refs, "shard")

    def hold(self, shards: Sequence[H], source: Callable[[int], H] | None = None) -> RayResident[H]:
        return RayResident(
            shards,
            max_retries=self.max_retries,
            checkpoint_every=self.checkpoint_every,
            source=source,
        )

    def close(self) -> None:
        if self._owns and ray.is_initialized():
            ray.shutdown()
        self._owns = False
        self._restore()

    def _restore(self) -> None:
        if self._loopback is not None:
            _restore_loopback(*self._loopback)
            self._loopback = None

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
