"""The real-time loop on Ray: the book held by actors (one shard each), account changes routed to
the actor owning the unit, each tick's prepared state broadcast once. Every tick is identical bit
for bit to the engine without an executor; an actor killed between ticks is replaced, its shard
rebuilt from the engine's book and the call retried; a replay with ``--executor ray`` gives the
local replay's states, events and ledger."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from shard_fns import DieInMargin

from realtime.conftest import BOOK, MARKET, PATH_CSV
from realtime.resident_scenario import assert_same, run_session
from solvent.market.snapshot import parse_market
from solvent.portfolio.account_book import parse_account_book
from solvent.realtime.engine import RealtimeEngine

pytestmark = pytest.mark.xdist_group("ray")


@pytest.mark.parametrize("model", ["deribit-pm", "standard"])
def test_actors_margin_like_the_engine_bit_for_bit(
    model: str, ray_executor: Any, tmp_path: Path
) -> None:
    local = run_session(f"sqlite:///{tmp_path / 'local.db'}", model, None)
    broadcast: list[int] = []

    def watch(engine: RealtimeEngine, tick: int) -> None:
        assert engine.resident is not None
        broadcast.append(engine.resident.broadcast_bytes)

    on_ray = run_session(f"sqlite:///{tmp_path / 'ray.db'}", model, ray_executor, watch)
    assert_same(on_ray, local)
    assert len(set(on_ray.owners[-1].values())) == 2  # both actors hold units
    assert all(b > 0 for b in broadcast)  # the prepared state went through the object store


def test_a_killed_actor_is_rebuilt_from_the_engines_book(ray_executor: Any, tmp_path: Path) -> None:
    local = run_session(f"sqlite:///{tmp_path / 'local.db'}", "simm", None)  # a third model
    killed: list[int] = []

    def kill(engine: RealtimeEngine, tick: int) -> None:
        resident = engine.resident
        assert resident is not None and resident.resident is not None
        if tick == 3:  # tick 4's margin kills the first actor that runs it, in the middle
            runtime = engine._runtimes["simm"]
            runtime.model = DieInMargin(runtime.model, str(tmp_path), os.getpid())  # type: ignore[assignment]
        # after tick 2, the actor that receives tick 3's new unit (its update finds it dead);
        # after tick 4, the actor that tick 5 does not change (its margin call finds it dead)
        shard = {2: 0, 4: 1}.get(tick)
        if shard is not None:
            pid = resident.resident.pids()[shard]  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    on_ray = run_session(f"sqlite:///{tmp_path / 'ray.db'}", "simm", ray_executor, kill)
    assert len(killed) == 2 and (tmp_path / "margin-died").exists()
    assert on_ray.owners[2]["newbie"] == 0 and on_ray.owners[4]["late"] == 0
    assert_same(on_ray, local)
    assert on_ray.restarts == 3


def test_replay_on_ray_gives_the_local_states_events_and_ledger(
    ray_executor: Any, tmp_path: Path
) -> None:
    from solvent.ledger.store import Ledger
    from solvent.realtime.checkpoint import load_events
    from solvent.realtime.replay import REPLAY_STREAM, replay, waterfall_liquidator

    path = tmp_path / "path.csv"
    path.write_text(PATH_CSV, encoding="utf-8")
    outputs = []
    for name, executor in (("local", None), ("ray", ray_executor)):
        accounts, _ = parse_account_book(BOOK)
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        result = replay(
            accounts,
            parse_market(MARKET),
            path=path,
            model="deribit-pm",
            db=url,
            liquidator=waterfall_liquidator(),
            executor=executor,
        )
        ledger = Ledger.open(url)
        try:
            outputs.append(
                (
                    result.history,
                    load_events(ledger, REPLAY_STREAM, 0, None),
                    ledger.journal_balances(),
                    ledger.replay_positions(),
                    (result.liquidated, result.bankrupt, result.steps),
                )
            )
        finally:
            ledger.close()
    local, on_ray = outputs
    assert local[4][0] > 0  # the path liquidates: the ledger changed on the way
    assert on_ray == local
