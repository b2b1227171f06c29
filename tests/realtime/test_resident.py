"""The real-time loop margining through resident shards in this process (LocalExecutor with
several workers): every tick identical bit for bit to the engine without an executor, account
changes routed to the shard that owns the unit, new units to the least-loaded shard, the shard
change itself (column maps, replaced and appended rows)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from realtime.resident_scenario import assert_same, run_session
from solvent.errors import SolventJobError
from solvent.executors import LocalExecutor
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import IndexPrices
from solvent.realtime.resident import ShardChange, UnitShard, apply_change

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("model", ["deribit-pm", "standard", "span"])
def test_resident_shards_margin_like_the_engine_bit_for_bit(model: str, tmp_path: Path) -> None:
    local = run_session(f"sqlite:///{tmp_path / 'local.db'}", model, None)
    resident = run_session(f"sqlite:///{tmp_path / 'resident.db'}", model, LocalExecutor(3))
    assert_same(resident, local)
    assert len(local.ticks) == 5 and len(local.ticks[-1]["units"]) == 7
    # the book's columns changed on the way (an instrument came, then left)
    assert "BTC-27MAR26-120000-C" in local.ticks[1]["instruments"]
    assert "BTC-27MAR26-120000-C" not in local.ticks[3]["instruments"]


def test_account_changes_go_to_the_shard_that_owns_the_unit(tmp_path: Path) -> None:
    seen: list[tuple[int, list[int], int]] = []

    def watch(engine, tick):  # type: ignore[no-untyped-def]
        seen.append((tick, engine.resident.loads(), engine.resident.routed))

    trace = run_session(f"sqlite:///{tmp_path / 'r.db'}", "standard", LocalExecutor(3), watch)
    first, *rest = trace.owners
    # five units placed in contiguous shards of 1, 2, 2 (sizes +-1)
    assert sorted(first.values()) == [0, 1, 1, 2, 2]
    for later in rest:  # a unit never moves
        assert {u: later[u] for u in first} == first
    # "newbie" (a new unit) went to the least-loaded shard; "late", with all three even, to
    # the first
    assert trace.owners[2]["newbie"] == 0
    assert trace.owners[4]["late"] == 0
    assert [s[1] for s in seen] == [[1, 2, 2], [1, 2, 2], [2, 2, 2], [2, 2, 2], [3, 2, 2]]
    # tick 3: newbie (new) and writer (its new member traded) were routed, nothing else
    assert seen[2][2] == 2


def test_the_default_engine_has_no_residents(tmp_path: Path) -> None:
    trace = run_session(f"sqlite:///{tmp_path / 'd.db'}", "standard", None)
    assert trace.owners == []


def _shard(version: int) -> UnitShard:
    q = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))
    return UnitShard.of(Book(("a", "b"), ("X", "Y", "Z"), q), ("m", "n"), version)


def test_a_shard_change_maps_columns_replaces_rows_and_appends_units() -> None:
    added = Book(("c",), ("Z", "W", "X"), sp.csr_array(np.array([[0.0, 5.0, 6.0]])))
    change = ShardChange(
        previous=1,
        version=2,
        instruments=("Z", "W", "X"),
        columns=np.array([2, -1, 0], dtype=np.intp),  # Y no longer held
        replace_rows=np.array([1], dtype=np.intp),
        replaced=sp.csr_array(np.array([[4.0, 0.0, 0.0]])),
        added=added,
        added_models=("m",),
    )
    after = apply_change(_shard(1), change)
    assert after.version == 2 and after.book.accounts == ("a", "b", "c")
    assert after.book.instruments == ("Z", "W", "X")
    assert after.book.quantities.toarray().tolist() == [[2, 0, 1], [4, 0, 0], [0, 5, 6]]
    assert after.book.quantities.has_sorted_indices
    assert {m: r.tolist() for m, r in after.rows_by_model.items()} == {"m": [0, 2], "n": [1]}
    assert apply_change(after, change) is after  # already there (rebuilt from the source)
    with pytest.raises(SolventJobError, match="version 0"):
        apply_change(_shard(0), change)
    unchanged_row_loses = ShardChange(
        1, 2, ("Z", "W", "X"), change.columns, np.zeros(0, np.intp), change.replaced[:0], added, ()
    )
    with pytest.raises(SolventJobError, match="unchanged unit"):
        apply_change(_shard(1), unchanged_row_loses)


def test_a_shard_that_does_not_hold_the_engines_book_fails_the_tick_loudly(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = RealtimeEngine.from_ledger(
        seeded_ledger, market, EngineConfig(dynamic=False), executor=LocalExecutor(2)
    )

    async def one(seq: int) -> None:
        async def source():  # type: ignore[no-untyped-def]
            yield IndexPrices(seq, T0 + timedelta(minutes=seq), "t", {"BTC": 99_000.0 - seq})

        await engine.run(source())

    asyncio.run(one(1))
    assert engine.resident is not None
    held = engine.resident.resident
    shards = held._shards  # type: ignore[union-attr]
    shards[1] = dataclasses.replace(shards[1], version=shards[1].version - 1)  # a stale shard
    before = engine.health
    with pytest.raises(SolventJobError, match="not the engine's book"):
        asyncio.run(one(2))
    assert engine.health is before and engine.tick_count == 1  # no partial result was used
    asyncio.run(one(3))  # the next tick places the whole book again
    assert engine.resident.placements == 2 and engine.tick_count == 2
    engine.close()


def test_a_tick_with_account_changes_only_reuses_the_last_broadcast(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = RealtimeEngine.from_ledger(
        seeded_ledger, market, EngineConfig(dynamic=False), executor=LocalExecutor(2)
    )

    async def tick(seq: int, btc: float) -> None:
        async def source():  # type: ignore[no-untyped-def]
            yield IndexPrices(seq, T0 + timedelta(minutes=seq), "t", {"BTC": btc})

        await engine.run(source())

    async def go() -> None:
        await tick(1, 99_000.0)
        assert engine.account_state("saver").health.initial_margin_usd == 0.0
        await engine.trade("saver", "BTC_USDC-PERPETUAL", "0.1", "99020")
        await tick(2, 99_000.0)  # the market did not move: the same prepared state
        assert engine.resident is not None and engine.resident.broadcasts == 1
        assert engine.account_state("saver").health.initial_margin_usd > 0.0
        await tick(3, 98_000.0)
        assert engine.resident.broadcasts == 2

    try:
        asyncio.run(go())
    finally:
        engine.close()
