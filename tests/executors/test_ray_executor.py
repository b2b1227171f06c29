"""The Ray executor against a real single-node Ray on loopback: the same results as in-process,
bad input raised as itself, a worker killed mid-job survived, a shard that cannot be completed
failing the whole job loudly (never a partial result), resident shards rebuilt after their actor
dies."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shard_fns import (
    add,
    add_positive,
    die_always,
    die_in_shard_once,
    die_once,
    flaky,
    plus_state,
    refuse_three,
    scaled_sum,
)

from solvent.errors import SolventInputError, SolventJobError
from solvent.executors import ExecutorKind, LocalExecutor

pytestmark = pytest.mark.xdist_group("ray")


def test_map_equals_the_local_executor(ray_executor: Any) -> None:
    state = np.linspace(0.0, 1.0, 1001)
    shards = [5, 1, 4, 2, 3]
    local = LocalExecutor()
    assert ray_executor.kind is ExecutorKind.RAY and ray_executor.workers == 2
    shared = ray_executor.share(state)
    assert shared.nbytes >= state.nbytes
    assert ray_executor.map(scaled_sum, shared, shards) == local.map(
        scaled_sum, local.share(state), shards
    )
    assert ray_executor.map(scaled_sum, shared, []) == []


def test_bad_input_in_a_shard_is_raised_as_itself_and_not_retried(ray_executor: Any) -> None:
    with pytest.raises(SolventInputError, match=r"shard\[3\]: three is refused"):
        ray_executor.map(refuse_three, ray_executor.share(None), [1, 2, 3, 4])


def test_a_worker_killed_mid_job_is_survived(ray_executor: Any, tmp_path: Path) -> None:
    result = ray_executor.map(die_once, ray_executor.share(str(tmp_path)), [0, 1, 2, 3])
    assert (tmp_path / "died-1").exists()  # the worker did die
    assert result == [(0, 0), (1, 1), (2, 4), (3, 9)]


def test_a_transient_error_is_retried(ray_executor: Any, tmp_path: Path) -> None:
    assert ray_executor.map(flaky, ray_executor.share(str(tmp_path)), [0, 1]) == [100, 101]
    assert (tmp_path / "flaky-0").exists()


def test_a_shard_lost_on_every_retry_fails_the_job_loudly(ray_executor: Any) -> None:
    with pytest.raises(SolventJobError, match="shard 2: failed on every retry"):
        ray_executor.map(die_always, ray_executor.share(None), [0, 1, 2, 3])


def test_resident_shards_follow_changes_and_survive_killed_actors(
    ray_executor: Any, tmp_path: Path
) -> None:
    from solvent.executors.ray_cluster import RayExecutor

    small = RayExecutor(max_retries=2, checkpoint_every=2)  # reuses the session's connection
    resident = small.hold([10, 2])
    try:
        resident.update(add, {0: 1})
        assert resident.collect() == [11, 2]
        with pytest.raises(SolventInputError, match="change"):
            resident.update(add_positive, {0: 1, 1: -1})
        assert resident.collect() == [11, 2]  # the refused change changed no shard
        assert resident.map(plus_state, small.share(100)) == [111, 102]
        for _ in range(3):  # a checkpoint after two changes, then one in the journal
            resident.update(add, {1: 6})
        assert resident.collect() == [11, 20]
        os.kill(resident.pids()[0], signal.SIGKILL)  # a worker lost between two calls
        # ...and shard 1's actor dies in the middle of the next read
        values = resident.map(die_in_shard_once, small.share(str(tmp_path)))
        assert (tmp_path / "actor-died-20").exists()
        assert values == [11, 20]
        assert resident.restarts == 2
        assert resident.collect() == [11, 20]
    finally:
        resident.close()
        small.close()  # not the owner: the session's Ray keeps running
    assert ray_executor.map(scaled_sum, ray_executor.share(np.ones(2)), [1]) == [2.0]
