"""The real-time engine inside ``solvent serve`` (``--feed DIR`` or ``--path PATH``).

:class:`LiveEngine` runs a :class:`~solvent.realtime.engine.RealtimeEngine` on the service's own
ledger and event loop (the one uvicorn serves on): its live loop (``start``/``publish``/``stop``)
takes the market events of a :class:`LiveFeed` (a recorded feed directory or a price path,
replayed at ``speed`` times feed time, or a live venue adapter), and

- every event the engine commits (health changes, margin calls, liquidations, multiplier changes,
  feed faults) goes on the service's WebSocket stream at once, as ``{"type": KIND, ...}`` like the
  events ``GET /v1/events`` reads from the ledger;
- ``{"type": "market", "as_of"}`` follows on the stream at most every :data:`MARKET_NOTICE_S`
  seconds while ticks move the market (the dashboard refreshes on it);
- the service's market is the engine's (:attr:`RealtimeEngine.market`, the last tick's);
- account changes made through the API go through the engine's account-change methods (applied
  between ticks), and what-ifs are answered from its prepared state
  (:meth:`RealtimeEngine.what_if`).

The engine is driven from the event loop uvicorn serves on (its live loop, its queue, its
subscribers live there; the endpoints that reach it are ``async``), but its work does not run
there: every tick (market update, re-margin of every unit, liquidation planning and booking, the
checkpoint) and every account change runs on the engine's one worker thread
(:attr:`RealtimeEngine.worker`), one at a time under the engine's lock, so ticks and writes stay
in order and no write is lost. Meanwhile the loop keeps answering requests: a what-if reads the
engine's :class:`~solvent.realtime.what_if.WhatIfState`, which the worker swaps in whole when a
tick or a change is done, so it sees the state before a tick or after it, never half of one.
:meth:`LiveEngine.stop` stops the source, lets the tick in progress finish and persists the
checkpoint.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.engine import EngineConfig, RealtimeEngine, Subscription
from solvent.realtime.events import EngineEvent, MarketEvent

log = logging.getLogger("solvent.api")

MARKET_NOTICE_S = 1.0
"""Seconds between two ``market`` notices on the stream while the feed moves the market."""
HISTORY_KEPT = 1000
"""Ticks of the engine's per-tick history kept in memory (a long-running service trims it)."""
POLICIES = ("partial", "full", "auction", "none")
"""Liquidation policies of ``serve --policy`` (``none``: breaches are published, not acted on)."""


@dataclass(frozen=True, slots=True)
class LiveFeed:
    """What drives the service's engine.

    ``events``: the market events of a recorded feed or a price path (read and checked before the
    service starts), replayed at ``speed`` times their feed time (2.0: twice as fast; 0: as fast
    as the engine takes them); or ``venue``: a live source (a venue adapter's ``events``), taken
    as it comes. ``policy``: the liquidation policy (:data:`POLICIES`)."""

    events: Sequence[MarketEvent] = ()
    speed: float = 1.0
    policy: str = "partial"
    venue: Callable[[], AsyncIterator[MarketEvent]] | None = None
    label: str = "feed"

    def __post_init__(self) -> None:
        if not (0.0 <= self.speed <= 1e9):
            raise SolventInputError("speed", "must be a number in [0, 1e9] (0: no pacing)")
        if self.policy not in POLICIES:
            raise SolventInputError("policy", f"must be one of {', '.join(POLICIES)}")


async def paced(
    events: Sequence[MarketEvent],
    speed: float,
    *,
    now: Callable[[], float] | None = None,
    sleep: Callable[[float], object] = asyncio.sleep,
) -> AsyncIterator[MarketEvent]:
    """``events`` in order, each when its feed time since the first, divided by ``speed``, has
    passed on the wall clock (``speed`` 0: at once, yielding to the loop between events)."""
    clock = now or asyncio.get_running_loop().time
    start = clock()
    first = events[0].time if events else None
    for event in events:
        if speed > 0 and first is not None:
            due = start + (event.time - first).total_seconds() / speed
            wait = due - clock()
            if wait > 0:
                await sleep(wait)  # type: ignore[misc]
        else:
            await asyncio.sleep(0)
        yield event


WORKER_THREAD = "solvent-engine"
"""Name (prefix) of the thread the engine's ticks and account changes run on."""
ENGINE_TASK = "solvent-realtime"
"""The name :meth:`RealtimeEngine.start` gives its live loop's task."""


def _loop_alive() -> bool:
    """Whether the engine's live loop still runs on this event loop (a tick that raised ends
    it: asyncio logs the exception)."""
    return any(t.get_name() == ENGINE_TASK for t in asyncio.all_tasks())


@dataclass
class LiveEngine:
    """The engine of one service (see the module docstring). ``notify``: hands a stream message
    (body, the accounts it concerns) to the service's WebSocket hub."""

    ledger: Ledger
    market: MarketSnapshot
    feed: LiveFeed
    config: EngineConfig
    notify: Callable[[dict[str, object], frozenset[str]], None]
    engine: RealtimeEngine | None = None
    finished: bool = False
    """Whether the feed has ended (the engine keeps running for account changes)."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _subscription: Subscription | None = None
    _worker: concurrent.futures.ThreadPoolExecutor | None = None

    async def start(self) -> None:
        """Build the engine on the ledger (resuming its checkpoint), start its live loop, wait
        for its first tick (what-ifs need a prepared state), then start feeding it."""
        liquidator = None
        if self.feed.policy != "none":
            from solvent.realtime.liquidation import WaterfallLiquidator

            liquidator = WaterfallLiquidator(self.ledger, policy=self.feed.policy)
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=WORKER_THREAD)
        engine = RealtimeEngine.from_ledger(
            self.ledger, self.market, self.config, liquidator=liquidator, worker=self._worker
        )
        self.engine = engine
        self._subscription = engine.subscribe()
        await engine.start()
        await engine.tick_now()
        while engine.what_if_state is None:
            if not _loop_alive():
                raise RuntimeError("the real-time engine stopped before its first tick")
            await asyncio.sleep(0.005)
        self._tasks = [
            asyncio.create_task(self._forward(self._subscription), name="solvent-live-events"),
            asyncio.create_task(self._watch(engine), name="solvent-live-market"),
            asyncio.create_task(self._feed(engine), name="solvent-live-feed"),
        ]
        log.info("real-time engine started on %s (tick %d)", self.feed.label, engine.tick_count)

    async def _feed(self, engine: RealtimeEngine) -> None:
        source = (
            self.feed.venue()
            if self.feed.venue is not None
            else paced(self.feed.events, self.feed.speed)
        )
        try:
            async for event in source:
                await engine.publish(event)
        except Exception:  # a live venue that drops: the engine keeps serving the last market
            log.exception("market source %s failed", self.feed.label)
        self.finished = True
        log.info("market source %s ended", self.feed.label)

    async def _forward(self, subscription: Subscription) -> None:
        async for event in subscription:
            self._send(event)

    def _send(self, event: EngineEvent) -> None:
        body = event.to_json()
        accounts = frozenset() if event.account is None else frozenset({event.account})
        self.notify({"type": body["kind"], **body}, accounts)

    async def _watch(self, engine: RealtimeEngine) -> None:
        """Tell the stream when ticks moved the market (at most every MARKET_NOTICE_S), and keep
        the engine's per-tick history bounded."""
        shown = engine.market
        while True:
            await asyncio.sleep(MARKET_NOTICE_S)
            if not _loop_alive():
                log.error("the real-time engine's loop has stopped: the market is no longer moved")
                return
            market = engine.market
            if market is not shown:
                shown = market
                self.notify({"type": "market", "as_of": market.as_of.isoformat()}, frozenset())
            if len(engine.history) > 2 * HISTORY_KEPT:
                del engine.history[:-HISTORY_KEPT]

    async def stop(self) -> None:
        """Stop the source, let the tick in progress finish, persist the checkpoint, and hand
        the last committed events to the stream."""
        feeder = self._tasks[-1] if self._tasks else None
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        if self.engine is not None:
            await self.engine.stop()
        subscription = self._subscription
        if subscription is not None:
            while not subscription.queue.empty():
                self._send(subscription.queue.get_nowait())
            subscription.close()
        for task in self._tasks[:-1]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._worker is not None:
            self._worker.shutdown(wait=True)  # idle: the engine has stopped
            self._worker = None
