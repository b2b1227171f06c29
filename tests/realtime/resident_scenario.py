"""One real-time session with account changes between ticks, recorded tick by tick: run with and
without an executor, the records must be identical (tests/realtime/test_resident.py in-process,
tests/executors/test_realtime_resident.py on Ray).

The book of tests/realtime/conftest.py; between ticks: a trade in an instrument no unit held (the
book's instruments change), a deposit, a new root account that trades (a new unit), a new cross
sub-account that trades (an existing unit changes), a position closed (an instrument leaves the
book)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from realtime.conftest import BOOK, MARKET
from solvent.executors import Executor
from solvent.ledger.store import Ledger
from solvent.market.snapshot import parse_market
from solvent.portfolio.account_book import parse_account_book
from solvent.portfolio.portfolio import SubAccountMode
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import IndexPrices, MarketEvent
from solvent.realtime.seed import seed_ledger

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PATH = (99_000.0, 96_000.0, 90_000.0, 85_000.0, 92_000.0)


@dataclass
class Trace:
    """What a session produced: per tick, the units and their figures (USD); the persisted
    events; the ledger's balances and positions."""

    ticks: list[dict[str, Any]]
    events: list[Any]
    balances: dict[tuple[str, str], int]
    positions: dict[tuple[str, str], Any]
    owners: list[dict[str, int]]
    """Per tick with an executor: the shard of every unit."""
    restarts: int
    """Residents rebuilt after a failure (Ray actors that died)."""


async def _one(event: MarketEvent) -> AsyncIterator[MarketEvent]:
    yield event


def _record(engine: RealtimeEngine) -> dict[str, Any]:
    health = engine.health
    assert health is not None
    return {
        "units": health.grouped.book.accounts,
        "instruments": health.grouped.book.instruments,
        "models": health.grouped.models,
        "model_initial_usd": health.model_initial_usd.copy(),
        "model_maintenance_usd": health.model_maintenance_usd.copy(),
        "initial_margin_usd": health.initial_margin_usd.copy(),
        "maintenance_margin_usd": health.maintenance_margin_usd.copy(),
        "equity_usd": health.equity_usd.copy(),
        "state_code": health.state_code.copy(),
    }


def run_session(
    url: str,
    model: str,
    executor: Executor | None,
    between: Callable[[RealtimeEngine, int], None] | None = None,
) -> Trace:
    """The session on a new ledger at ``url``; ``between(engine, tick)`` runs after each tick
    (a test kills an actor there)."""
    accounts, _ = parse_account_book(json.loads(json.dumps(BOOK)))
    market = parse_market(json.loads(json.dumps(MARKET)))
    ledger = Ledger.open(url)
    seed_ledger(ledger, accounts, market, model)
    engine = RealtimeEngine.from_ledger(
        ledger, market, EngineConfig(model=model, stream="resident"), executor=executor
    )
    ticks: list[dict[str, Any]] = []
    owners: list[dict[str, int]] = []

    async def tick(seq: int) -> None:
        event = IndexPrices(seq, T0 + timedelta(minutes=seq), "t", {"BTC": PATH[seq - 1]})
        await engine.run(_one(event))
        ticks.append(_record(engine))
        if engine.resident is not None:
            units = engine.health.grouped.book.accounts if engine.health else ()
            owners.append({u: engine.resident.owner(u) for u in units})
        if between is not None:
            between(engine, seq)

    def mark(name: str) -> str:
        return repr(engine.market.quote(name).mark_price)

    async def go() -> None:
        await tick(1)
        # an instrument no unit held: the book's columns change
        await engine.trade("hedged", "BTC-27MAR26-120000-C", "-0.5", mark("BTC-27MAR26-120000-C"))
        await engine.deposit("lev-long", "BTC", "0.5")
        await tick(2)
        # a new unit, and a new member of an existing unit
        await engine.create_account("newbie", model=model)
        await engine.deposit("newbie", "USDC", "50000")
        await engine.trade("newbie", "BTC_USDC-PERPETUAL", "0.2", mark("BTC_USDC-PERPETUAL"))
        await engine.create_account(
            "writer-2", parent="writer", mode=SubAccountMode.CROSS, model=model
        )
        await engine.deposit("writer-2", "BTC", "3")
        await engine.trade("writer-2", "BTC-PERPETUAL", "-0.2", mark("BTC-PERPETUAL"))
        await tick(3)
        # the only position in an instrument closed: it leaves the book's columns
        await engine.trade("hedged", "BTC-27MAR26-120000-C", "0.5", mark("BTC-27MAR26-120000-C"))
        await tick(4)
        await engine.create_account("late", model=model)
        await engine.deposit("late", "USDC", "1000")
        await tick(5)

    try:
        asyncio.run(go())
        events = engine.events_since(0)
        held = None if engine.resident is None else engine.resident.resident
        restarts = int(getattr(held, "restarts", 0))
    finally:
        engine.close()
    trace = Trace(
        ticks, events, ledger.journal_balances(), ledger.replay_positions(), owners, restarts
    )
    ledger.close()
    return trace


def assert_same(resident: Trace, local: Trace) -> None:
    """Every tick's figures identical bit for bit; the same events and ledger."""
    assert len(resident.ticks) == len(local.ticks)
    for k, (x, y) in enumerate(zip(resident.ticks, local.ticks, strict=True)):
        assert x.keys() == y.keys()
        for key, value in x.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == y[key].dtype and np.array_equal(value, y[key]), (k, key)
                assert value.tobytes() == y[key].tobytes(), (k, key)  # bit for bit
            else:
                assert value == y[key], (k, key)
    assert resident.events == local.events
    assert resident.balances == local.balances
    assert resident.positions == local.positions
