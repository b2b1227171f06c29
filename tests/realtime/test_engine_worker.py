"""The engine with a worker thread (what ``solvent serve --feed`` runs): ticks and account changes
run on the worker one at a time, the event loop stays free, and a what-if asked while a tick is
in progress answers from the state before that tick or after it, never a mix of both.

Each test holds a tick at one point inside the worker (a :class:`threading.Event` gate: no timed
assertion) and asks the engine questions from the loop meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import solvent.realtime.engine as engine_module
from solvent.accounts.service import (
    AccountService,
    CheckResult,
    MarketFreshness,
    Order,
    registry_margin,
)
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import IndexPrices

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
WAIT_S = 60.0
"""Upper bound on any wait (a hung engine fails the test instead of hanging it)."""
ORDERS = [Order("BTC-PERPETUAL", Decimal("0.5")), Order("BTC-27MAR26-110000-C", Decimal("-1"))]


def _prices(seq: int, btc: float) -> IndexPrices:
    return IndexPrices(seq, T0 + timedelta(minutes=seq), "t", {"BTC": btc})


class Gate:
    """Holds the worker inside a tick once :attr:`armed`: :attr:`entered` is set when the worker
    reaches the gate, which it passes once :attr:`release` is set."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        if self.armed and threading.current_thread() is not threading.main_thread():
            self.armed = False
            self.entered.set()
            assert self.release.wait(WAIT_S), "the test never released the tick"

    async def reached(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, WAIT_S), "the tick never reached it"


@pytest.fixture
def worker() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(1, thread_name_prefix="test-engine")
    yield pool
    pool.shutdown(wait=True)


def _gate_at(where: str, engine: RealtimeEngine, monkeypatch: pytest.MonkeyPatch) -> Gate:
    """A gate in the tick: ``remargin`` (the market has moved, the book not yet re-margined) or
    ``history`` (health assessed and assigned, the new what-if state not yet published)."""
    gate = Gate()
    if where == "remargin":
        real = engine_module.remargin

        def gated(*args: Any, **kwargs: Any) -> Any:
            gate()
            return real(*args, **kwargs)

        monkeypatch.setattr(engine_module, "remargin", gated)
    else:
        history = engine._history

        def gated_history(*args: Any) -> None:
            history(*args)
            gate()

        monkeypatch.setattr(engine, "_history", gated_history)
    return gate


def _held(ledger: Ledger, account: str) -> set[str]:
    with ledger.reading() as tx:
        return {p.instrument for p in tx.positions([account])[account]}


def _published(engine: RealtimeEngine, tick: int) -> bool:
    """Whether the engine's tick ``tick`` (or a later one) is over (its what-if state out)."""
    state = engine.what_if_state
    return state is not None and state.tick >= tick


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(int(WAIT_S / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the engine did not get there")


def _run(engine: RealtimeEngine, body: Callable[[], Awaitable[None]]) -> None:
    async def go() -> None:
        await engine.start()
        try:
            await body()
        finally:
            await engine.stop()

    asyncio.run(go())


@pytest.mark.parametrize("where", ["remargin", "history"])
def test_a_what_if_during_a_tick_sees_the_state_before_or_after_it_never_a_mix(
    seeded_ledger: Ledger,
    market: MarketSnapshot,
    worker: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    engine = RealtimeEngine.from_ledger(
        seeded_ledger, market, EngineConfig(dynamic=False, flush_ms=1.0), worker=worker
    )
    gate = _gate_at(where, engine, monkeypatch)
    seen: dict[str, CheckResult] = {}

    async def body() -> None:
        await engine.publish(_prices(1, 100_000.0))
        await _until(lambda: _published(engine, 1))
        seen["before"] = engine.what_if("hedged", ORDERS)
        before_market = engine.what_if_state.snapshot if engine.what_if_state else None
        gate.armed = True
        await engine.publish(_prices(2, 88_000.0))
        await gate.reached()  # the tick is inside the worker, half done
        assert engine.tick_count == 1 or where == "history"
        seen["during"] = engine.what_if("hedged", ORDERS)  # the loop answers meanwhile
        state = engine.what_if_state
        assert state is not None and state.snapshot is before_market and state.tick == 1
        gate.release.set()
        await _until(lambda: _published(engine, 2))
        seen["after"] = engine.what_if("hedged", ORDERS)

    _run(engine, body)
    assert seen["during"] == seen["before"]  # every figure the pre-tick one
    assert seen["after"] != seen["before"]  # the market fell 12%
    # the post-tick answer is the ledger's check on the post-tick market
    slow = AccountService(
        seeded_ledger, registry_margin, freshness=MarketFreshness(clock=lambda: market.as_of)
    ).check("hedged", ORDERS, engine.market)
    after = seen["after"].health
    assert engine.market.index["BTC"] == 88_000.0
    assert after.initial_margin_usd == pytest.approx(slow.health.initial_margin_usd, rel=1e-9)
    assert after.equity_usd == pytest.approx(slow.health.equity_usd, rel=1e-6)
    assert seen["after"].accepted == slow.accepted


def test_a_trade_sent_during_a_tick_waits_for_it_and_the_next_tick_margins_it(
    seeded_ledger: Ledger,
    market: MarketSnapshot,
    worker: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = RealtimeEngine.from_ledger(
        seeded_ledger, market, EngineConfig(dynamic=False, flush_ms=1.0), worker=worker
    )
    gate = _gate_at("remargin", engine, monkeypatch)
    states: dict[str, Any] = {}

    async def body() -> None:
        await engine.publish(_prices(1, 100_000.0))
        await _until(lambda: _published(engine, 1))
        states["before"] = engine.account_state("saver")
        gate.armed = True
        await engine.publish(_prices(2, 99_000.0))
        await gate.reached()
        trade = asyncio.create_task(engine.trade("saver", "BTC_USDC-PERPETUAL", "0.2", "100020"))
        for _ in range(20):  # the loop runs: the trade waits for the tick, what-ifs answer
            await asyncio.sleep(0)
            engine.what_if("saver", ORDERS)
        assert not trade.done()
        assert _held(seeded_ledger, "saver") == set()
        gate.release.set()
        record, _health = await trade
        states["record"] = record
        # the what-if sees the trade at once; the next tick margins it
        states["what_if"] = engine.what_if("saver", [Order("BTC-PERPETUAL", Decimal("0.1"))])
        await _until(lambda: _published(engine, 3))
        states["after"] = engine.account_state("saver")

    _run(engine, body)
    assert states["before"].health.initial_margin_usd == 0.0  # saver held nothing
    after = states["after"]
    assert after.tick >= 3 and after.health.initial_margin_usd > 0.0
    # the next tick's figures are the ledger's: the unit re-margined on the engine's market
    service = AccountService(
        seeded_ledger, registry_margin, freshness=MarketFreshness(clock=lambda: market.as_of)
    )
    unit, model = service.portfolio("saver", engine.market)
    figures = registry_margin(unit, engine.market, model)
    assert after.health.initial_margin_usd == pytest.approx(figures.initial_margin_usd, rel=1e-9)
    slow = service.check("saver", [Order("BTC-PERPETUAL", Decimal("0.1"))], engine.market)
    assert states["what_if"].health.initial_margin_usd == pytest.approx(
        slow.health.initial_margin_usd, rel=1e-9
    )
    assert _held(seeded_ledger, "saver") == {"BTC_USDC-PERPETUAL"}
    assert seeded_ledger.audit().ok
