"""The session's Ray: one real single-node cluster on 127.0.0.1, started once per test session
(no dashboard, a small object store) and stopped at the end. Every test that uses it is in the
``ray`` xdist group, so that ``make test`` (``--dist loadgroup``) runs them on one worker and
starts Ray once.

pytest-xdist 3.8 groups tests by a ``@group`` suffix it writes into each node id, through an
attribute pytest 9 no longer reads; :func:`pytest_collection_modifyitems` below writes the suffix
the way pytest 9 stores node ids (a no-op once xdist does it itself)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import shard_fns
from _pytest.nodeid import coerce_node_id

OBJECT_STORE_BYTES = 128 * 1024 * 1024


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted(
            {
                str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                for m in item.iter_markers("xdist_group")
            }
        )
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix):
            item._id = coerce_node_id(item.nodeid + suffix)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def ray_executor() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    from solvent.executors.ray_cluster import RayExecutor

    if ray.is_initialized():  # pragma: no cover - a foreign connection would not be ours to stop
        pytest.fail("Ray is already initialized in this test process")
    # The test's own shard functions are not installed on the workers: send them by value.
    ray.cloudpickle.register_pickle_by_value(shard_fns)
    executor = RayExecutor(num_cpus=2, object_store_bytes=OBJECT_STORE_BYTES, max_retries=2)
    try:
        yield executor
    finally:
        executor.close()
