"""The executor protocol without Ray: shard bounds, routing, the in-process executor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shard_fns import add, add_positive, plus_state, refuse_three, scaled_sum

from solvent.errors import SolventInputError
from solvent.executors import ExecutorKind, LocalExecutor, open_executor, route, shard_bounds


@given(st.integers(0, 10_000), st.integers(1, 64))
def test_shard_bounds_cover_every_index_once_in_order(n: int, shards: int) -> None:
    bounds = shard_bounds(n, shards)
    assert len(bounds) == min(n, shards)
    covered = [i for a, b in bounds for i in range(a, b)]
    assert covered == list(range(n))
    sizes = [b - a for a, b in bounds]
    assert not sizes or max(sizes) - min(sizes) <= 1
    assert all(s > 0 for s in sizes)


def test_shard_bounds_refuse_no_shard() -> None:
    with pytest.raises(SolventInputError, match="shards"):
        shard_bounds(10, 0)


def test_route_is_stable_and_in_range() -> None:
    keys = [f"acct-{i}" for i in range(1000)]
    owner = route(keys, 7)
    assert owner.dtype == np.int64 and owner.min() >= 0 and owner.max() < 7
    assert np.array_equal(owner, route(keys, 7))
    # crc32 of the UTF-8 bytes: a fixed value, the same in every process and run
    assert route(["a"], 2**32).tolist() == [0xE8B7BE43]
    # every shard gets some keys out of 1000 over 7
    assert set(owner.tolist()) == set(range(7))


def test_local_executor_maps_in_shard_order() -> None:
    with LocalExecutor() as ex:
        assert ex.kind is ExecutorKind.LOCAL and ex.workers == 1
        shared = ex.share(np.arange(4.0))
        assert ex.map(scaled_sum, shared, [3, 1, 2]) == [18.0, 6.0, 12.0]
        with pytest.raises(SolventInputError, match="three"):
            ex.map(refuse_three, ex.share(None), [1, 3])


def test_local_resident_updates_only_the_routed_shards_and_all_or_nothing() -> None:
    resident = LocalExecutor().hold([10, 20, 30])
    resident.update(add, {0: 1, 2: 5})
    assert resident.collect() == [11, 20, 35]
    with pytest.raises(SolventInputError, match="change"):
        resident.update(add_positive, {0: 1, 1: -1})
    assert resident.collect() == [11, 20, 35]  # the refused change changed no shard
    assert resident.map(plus_state, LocalExecutor().share(100)) == [111, 120, 135]
    with pytest.raises(SolventInputError, match="shard"):
        resident.update(add, {3: 1})


def test_open_executor_refuses_what_it_cannot_do() -> None:
    assert isinstance(open_executor("local"), LocalExecutor)
    with pytest.raises(SolventInputError, match="ray-address"):
        open_executor("local", "127.0.0.1:6379")
    with pytest.raises(SolventInputError, match="executor"):
        open_executor("spark")
    with pytest.raises(SolventInputError, match="ray-address"):
        open_executor("ray", "  ")
