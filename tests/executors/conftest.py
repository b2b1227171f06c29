"""The session's Ray: one real single-node cluster on 127.0.0.1, started once per test session
(no dashboard, a small object store) and stopped at the end. Every test that uses it is in the
``ray`` xdist group, so that ``make test`` (``--dist loadgroup``) runs them on one worker and
starts Ray once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import shard_fns

OBJECT_STORE_BYTES = 128 * 1024 * 1024


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
