"""Executors: map a function over shards with a state broadcast once, in-process or on Ray.

The layer just above the instruments (docs/architecture.md): it imports no domain package, so a
margin model, a stress test or the real-time loop can each cut its own work into shards and
join the results. :mod:`.protocol` defines the shapes; :class:`LocalExecutor` (the default) runs
in this process; :class:`~solvent.executors.ray_cluster.RayExecutor` runs on a Ray cluster and is
imported only when asked for (``pip install solvent[ray]``). docs/scale-out.md has the details.
"""

from __future__ import annotations

from solvent.errors import SolventInputError
from solvent.executors.local import LocalExecutor, LocalResident
from solvent.executors.protocol import (
    Executor,
    ExecutorKind,
    Resident,
    Shared,
    route,
    shard_bounds,
)

__all__ = [
    "Executor",
    "ExecutorKind",
    "LocalExecutor",
    "LocalResident",
    "Resident",
    "Shared",
    "open_executor",
    "route",
    "shard_bounds",
]


def open_executor(
    kind: ExecutorKind | str = ExecutorKind.LOCAL, address: str | None = None
) -> Executor:
    """The executor ``kind`` names (``--executor``). ``address`` (``--ray-address``) joins an
    existing Ray cluster; without it ``ray`` starts a local single-node Ray that stops when the
    executor is closed. An address with the local executor, an unknown kind, or ``ray`` without
    the extra installed are refused (:class:`SolventInputError`)."""
    try:
        chosen = ExecutorKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in ExecutorKind)
        raise SolventInputError("executor", f"unknown executor {kind!r} (known: {known})") from None
    if chosen is ExecutorKind.LOCAL:
        if address is not None:
            raise SolventInputError("ray-address", "only with --executor ray")
        return LocalExecutor()
    if address is not None and not address.strip():
        raise SolventInputError("ray-address", "empty address")
    try:
        from solvent.executors.ray_cluster import RayExecutor
    except ImportError as exc:
        raise SolventInputError(
            "executor", f"ray is not installed (pip install 'solvent[ray]'): {exc}"
        ) from None
    return RayExecutor(address)
