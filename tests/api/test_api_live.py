"""The service with the real-time engine in process (``serve --feed``/``--path``): account changes
go through the engine, what-ifs answer from its prepared state, its health changes and
liquidations reach ``/v1/events`` and the WebSocket as it produces them, and stopping the service
persists its checkpoint."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from apitest import Keys, PushedSource, bearer, make_service, market
from fastapi.testclient import TestClient

from solvent.accounts.health import HealthState
from solvent.accounts.service import AccountService, MarketFreshness, Order, registry_margin
from solvent.api.app import create_app
from solvent.api.live import SWITCH_INTERVAL_S, WORKER_THREAD, LiveFeed, paced
from solvent.api.state import Service
from solvent.ledger.store import Ledger
from solvent.realtime.checkpoint import load_checkpoint
from solvent.realtime.events import IndexPrices, MarketEvent

T0 = market().as_of
WAIT_S = 60.0


@pytest.fixture
def source() -> Iterator[PushedSource]:
    pushed = PushedSource()
    yield pushed
    pushed.queue.put(None)


@pytest.fixture
def live(template: tuple[Path, Keys], tmp_path: Path, source: PushedSource) -> Iterator[Service]:
    feed = LiveFeed(policy="none", venue=source.events, label="test")
    service = make_service(template, tmp_path, rate=1000.0, burst=1000, feed=feed)
    yield service
    service.ledger.close()


def _events(client: TestClient, key: str, until: Any) -> list[dict[str, Any]]:
    """``GET /v1/events`` until ``until(events)`` holds (the engine works on its own loop)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        events = client.get("/v1/events", headers=bearer(key)).json()["events"]
        if until(events) or time.monotonic() > deadline:
            return list(events)
        time.sleep(0.05)


def test_the_engine_runs_in_the_service_and_its_events_reach_the_stream(
    live: Service, keys: Keys, source: PushedSource, tmp_path: Path
) -> None:
    with TestClient(create_app(live)) as client:
        engine = live.engine
        assert engine is not None and engine.tick_count >= 1
        with client.websocket_connect("/v1/stream", headers=bearer(keys.bob)) as ws:
            assert ws.receive_json()["type"] == "hello"
            # a leveraged long, booked through the engine (its checks, its book)
            r = client.post(
                "/v1/accounts/bob/trades",
                headers=bearer(keys.bob),
                json={"instrument": "BTC-PERPETUAL", "quantity": "5", "price": "100000"},
            )
            assert r.status_code == 201, r.text
            assert ws.receive_json()["type"] == "health"  # the write's own notice

            # the what-if answers from the engine's prepared state: the ledger check's figures
            orders = [Order("BTC-27MAR26-110000-C", Decimal("-1"))]
            r = client.post(
                "/v1/accounts/bob/what-if",
                headers=bearer(keys.bob),
                json={"orders": [{"instrument": "BTC-27MAR26-110000-C", "quantity": "-1"}]},
            )
            assert r.status_code == 200, r.text
            slow = AccountService(
                live.ledger, registry_margin, freshness=MarketFreshness(clock=lambda: T0)
            ).check("bob", orders, live.market)
            assert r.json()["initial_margin_usd"] == pytest.approx(
                slow.health.initial_margin_usd, rel=1e-9
            )
            assert r.json()["equity_usd"] == pytest.approx(slow.health.equity_usd, rel=1e-6)
            r = client.post(
                "/v1/accounts/bob/what-if",
                headers=bearer(keys.bob),
                json={"orders": [{"instrument": "BTC-NOPE", "quantity": "1"}]},
            )
            assert r.status_code == 422 and r.json()["error"]["field"] == "orders[0].instrument"

            # the market falls: bob's unit goes under, the engine says so as it ticks
            source.push_index(99_000.0)
            source.push_index(82_000.0)
            events = _events(
                client, keys.bob, lambda es: any(e["kind"] == "liquidation" for e in es)
            )
            kinds = [e["kind"] for e in events]
            assert "health" in kinds and "liquidation" in kinds, events
            assert {e["account"] for e in events} <= {"bob", None}  # None: venue-wide
            liquidation = next(e for e in events if e["kind"] == "liquidation")
            assert liquidation["detail"]["action"] == "queued"  # --policy none
            streamed = [ws.receive_json() for _ in range(len(events))]
            assert [(m["type"], m["seq"]) for m in streamed] == [
                (e["kind"], e["seq"]) for e in events
            ]
        # the service prices against the engine's market
        assert client.get("/v1/market", headers=bearer(keys.bob)).json()["index"]["BTC"] == (
            82_000.0
        )
        # a deposit goes through the engine: the next tick sees it (bob is healthy again)
        assert engine.account_state("bob").health.state is not HealthState.HEALTHY
        r = client.post(
            "/v1/accounts/bob/deposits",
            headers=bearer(keys.operator),
            json={"asset": "BTC", "amount": "1"},
        )
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + WAIT_S
        while engine.account_state("bob").health.state is not HealthState.HEALTHY and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert engine.account_state("bob").health.state is HealthState.HEALTHY
    # stopped: the engine's checkpoint holds every market event it applied
    ledger = Ledger.open(live.config.db)
    try:
        checkpoint = load_checkpoint(ledger, "default")
        assert checkpoint is not None and checkpoint.sequence == 2
        assert ledger.audit().ok
    finally:
        ledger.close()


def test_the_engine_works_on_its_own_thread_while_the_service_runs(
    live: Service, keys: Keys, source: PushedSource
) -> None:
    before = sys.getswitchinterval()
    with TestClient(create_app(live)) as client:
        engine = live.engine
        assert engine is not None and engine.worker is not None
        names = {t.name for t in threading.enumerate()}
        assert any(n.startswith(WORKER_THREAD) for n in names), names
        assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL_S)
        # a trade through the API runs on the worker, then the what-if already sees it
        r = client.post(
            "/v1/accounts/bob/trades",
            headers=bearer(keys.bob),
            json={"instrument": "BTC-PERPETUAL", "quantity": "1", "price": "100000"},
        )
        assert r.status_code == 201, r.text
        state = engine.what_if_state
        assert state is not None
        held, _quantities = state.grouped.book.row(
            int(state.grouped.groups.group_of[state.rows["bob"]])
        )
        assert [state.grouped.book.instruments[j] for j in held.tolist()] == ["BTC-PERPETUAL"]
    assert sys.getswitchinterval() == before  # restored when the engine stopped
    assert not any(t.name.startswith(WORKER_THREAD) for t in threading.enumerate())


def test_paced_replays_at_the_given_speed() -> None:
    events = [IndexPrices(i, T0 + timedelta(seconds=10 * i), "t", {"BTC": 1.0}) for i in range(4)]
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    async def run(speed: float) -> list[MarketEvent]:
        return [e async for e in paced(events, speed, now=lambda: now[0], sleep=sleep)]

    assert asyncio.run(run(5.0)) == events
    assert waits == pytest.approx([2.0, 2.0, 2.0])  # 10 s of feed time at 5x: 2 s apart
    waits.clear()
    assert asyncio.run(run(0.0)) == events and waits == []
