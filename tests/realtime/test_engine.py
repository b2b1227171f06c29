"""The engine: ticks, transitions, subscriptions, account changes between ticks, what-if."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from solvent.accounts.health import HealthState
from solvent.accounts.service import AccountService, MarketFreshness, Order, registry_margin
from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import EventKind, IndexPrices, MarketEvent

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _prices(seq: int, btc: float, minutes: float | None = None) -> IndexPrices:
    return IndexPrices(
        seq, T0 + timedelta(minutes=seq if minutes is None else minutes), "t", {"BTC": btc}
    )


async def _events(*events: MarketEvent):  # type: ignore[no-untyped-def]
    for e in events:
        yield e


def _engine(ledger: Ledger, market: MarketSnapshot, **kw: object) -> RealtimeEngine:
    return RealtimeEngine.from_ledger(ledger, market, EngineConfig(dynamic=False, **kw))  # type: ignore[arg-type]


def test_a_fall_moves_accounts_between_states_and_queues_breaches(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = _engine(seeded_ledger, market)

    async def go() -> list[EventKind]:
        sub = engine.subscribe()
        await engine.run(_events(_prices(1, 99_000.0), _prices(2, 90_000.0), _prices(3, 85_000.0)))
        sub.close()
        return [e.kind async for e in sub]

    kinds = asyncio.run(go())
    assert engine.tick_count == 3 and engine.sequence == 3
    assert EventKind.HEALTH in kinds and EventKind.LIQUIDATION in kinds
    breached = []
    while not engine.breaches.empty():
        breached.append(engine.breaches.get_nowait())
    assert "lev-long" in {b.account for b in breached}
    state = engine.account_state("lev-long")
    assert state.health.state is HealthState.BANKRUPT
    # a cross sub-account reports its group's top account
    assert engine.account_state("writer-hedge").account == "writer"
    assert engine.state().by_state["healthy"] >= 1
    assert set(engine.metrics()["latency_ms"]) >= {
        "index",
        "marks",
        "risk_arrays",
        "margin",
        "health",
        "tick_to_margin",
    }


def test_events_in_one_coalescing_window_make_one_tick(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = _engine(seeded_ledger, market, coalesce_ms=100.0)
    burst = [
        IndexPrices(i, T0 + timedelta(milliseconds=10 * i), "t", {"BTC": 100_000.0 - i})
        for i in range(1, 6)
    ]
    later = IndexPrices(6, T0 + timedelta(seconds=1), "t", {"BTC": 99_000.0})
    asyncio.run(engine.run(_events(*burst, later)))
    assert engine.tick_count == 2
    assert engine.live.index["BTC"] == 99_000.0


def test_a_deposit_between_ticks_rescues_an_account(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = _engine(seeded_ledger, market)

    async def go() -> None:
        await engine.run(_events(_prices(1, 95_000.0)))
        assert engine.account_state("lev-long").health.state is not HealthState.HEALTHY
        await engine.deposit("lev-long", "BTC", "1")
        await engine.run(_events(_prices(2, 95_000.0)))

    asyncio.run(go())
    assert engine.account_state("lev-long").health.state is HealthState.HEALTHY
    assert seeded_ledger.balances("lev-long")["BTC"] == 105_000_000


def test_what_if_from_the_prepared_state_agrees_with_the_ledger_check(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = _engine(seeded_ledger, market)
    asyncio.run(engine.run(_events(_prices(1, 100_000.0))))
    orders = [Order("BTC-PERPETUAL", Decimal("0.5")), Order("BTC-27MAR26-110000-C", Decimal("-1"))]
    fast = engine.what_if("hedged", orders)
    service = AccountService(
        seeded_ledger, registry_margin, freshness=MarketFreshness(clock=lambda: market.as_of)
    )
    slow = service.check("hedged", orders, engine.market)
    assert fast.accepted == slow.accepted
    assert fast.health.initial_margin_usd == pytest.approx(slow.health.initial_margin_usd, rel=1e-9)
    assert fast.health.equity_usd == pytest.approx(slow.health.equity_usd, rel=1e-6)
    with pytest.raises(SolventInputError, match="order"):
        engine.what_if("hedged", [])
    with pytest.raises(SolventInputError, match="account"):
        engine.what_if("nobody", orders)


def test_a_trade_is_checked_against_the_prepared_state_and_applied(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = _engine(seeded_ledger, market)

    async def go() -> None:
        await engine.run(_events(_prices(1, 100_000.0)))
        mark = engine.market.quote("BTC-PERPETUAL").mark_price
        await engine.trade("saver", "BTC_USDC-PERPETUAL", "0.1", "100020")
        with pytest.raises(SolventInputError, match="initial margin"):
            await engine.trade("saver", "BTC_USDC-PERPETUAL", "100", "100020")
        del mark
        await engine.run(_events(_prices(2, 100_000.0)))

    asyncio.run(go())
    assert engine.accounts.accounts.instruments.count("BTC_USDC-PERPETUAL") == 1
    state = engine.account_state("saver")
    assert state.health.initial_margin_usd > 0


def test_the_live_loop_ticks_published_events_and_stops(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = _engine(seeded_ledger, market, flush_ms=5.0)

    async def go() -> None:
        await engine.start()
        await engine.publish(_prices(1, 99_000.0))
        await engine.publish(_prices(2, 98_000.0))
        for _ in range(200):
            if engine.tick_count >= 2:
                break
            await asyncio.sleep(0.01)
        await engine.stop()

    asyncio.run(go())
    assert engine.tick_count == 2 and engine.sequence == 2


def test_the_dynamic_multiplier_scales_initial_margin_and_says_why(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = RealtimeEngine.from_ledger(seeded_ledger, market, EngineConfig())
    path = [_prices(i, 100_000.0 * (1 - 0.02 * i), minutes=i) for i in range(1, 8)]
    asyncio.run(engine.run(_events(*path)))
    state = engine.account_state("hedged")
    m = state.multiplier
    assert m.value > 1.0
    assert m.value == pytest.approx(
        1.0 + 0.05 * 6
    )  # max_step 0.05 per update, 6 updates after the first return
    assert "vol_regime" in m.reason and "per update" in m.reason
    health = engine.health
    assert health is not None
    row = health.grouped.book.accounts.index("hedged")
    assert health.initial_margin_usd[row] == pytest.approx(health.model_initial_usd[row] * m.value)
    assert health.maintenance_margin_usd[row] == pytest.approx(health.model_maintenance_usd[row])
    assert state.to_json()["multiplier"]["value"] == m.value


def test_what_if_sees_a_trade_made_since_the_last_tick(
    seeded_ledger: Ledger, market: MarketSnapshot
) -> None:
    engine = _engine(seeded_ledger, market)

    async def go() -> None:
        await engine.run(_events(_prices(1, 100_000.0)))
        await engine.trade("saver", "BTC_USDC-PERPETUAL", "0.2", "100020")

    asyncio.run(go())
    orders = [Order("BTC-27MAR26-120000-C", Decimal("-0.5"))]
    fast = engine.what_if("saver", orders)
    service = AccountService(
        seeded_ledger, registry_margin, freshness=MarketFreshness(clock=lambda: market.as_of)
    )
    slow = service.check("saver", orders, engine.market)
    assert fast.health.initial_margin_usd == pytest.approx(slow.health.initial_margin_usd, rel=1e-9)
    assert fast.health.equity_usd == pytest.approx(slow.health.equity_usd, rel=1e-6)
    # the last tick's state is what account_state reports until the next tick
    assert engine.account_state("saver").health.initial_margin_usd == 0.0
