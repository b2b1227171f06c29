"""What one running service holds: its configuration, the ledger, the account service, the market
and the stream of events its WebSocket clients follow.

The endpoints are edges over this state: they parse a request, call the same functions the CLI
calls (:class:`solvent.accounts.service.AccountService`, the engine) and render with the engine's
views. Blocking work (the database, margin) runs in FastAPI's thread pool; the stream lives on the
event loop, and :meth:`Service.publish` may be called from either.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from solvent.accounts.health import Health
from solvent.accounts.service import (
    DEFAULT_MAX_MARKET_AGE,
    AccountService,
    CheckResult,
    MarketFreshness,
    Order,
    PreparedMargins,
    Receipt,
    wall_clock,
)
from solvent.api.cache import AccountCache, KeyCache
from solvent.api.keys import Principal
from solvent.api.limits import RateLimiter
from solvent.api.live import LiveEngine, LiveFeed
from solvent.engine.market_view import market_json
from solvent.ledger import schema
from solvent.ledger.model import AccountKind
from solvent.ledger.store import AccountRecord, Ledger, TradeRecord
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.portfolio import SubAccountMode
from solvent.realtime.checkpoint import load_events
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.replay import REPLAY_INPUTS
from solvent.solvency.keys import load_key
from solvent.solvency.live import LiveSolvency, publish_periodically
from solvent.venues.locations import load_locations

T = TypeVar("T")

DEFAULT_RATE = 20.0
"""Requests per second per key, sustained (Deribit's non-matching-engine default is 20/s)."""
DEFAULT_BURST = 40
"""Requests a key may send at once before the sustained rate applies."""
DEFAULT_MAX_BODY = 64 * 1024
"""Largest request body, bytes."""
MAX_ORDERS = 100
"""Most orders one what-if request may hold."""
DEFAULT_SOLVENCY_EVERY = 60.0
"""Seconds between two published proof-of-liabilities snapshots."""
DEFAULT_EVENT_POLL = 1.0
"""Seconds between two reads of the real-time engine's new events (forwarded to the stream)."""
STREAM_BACKLOG = 1000
"""Events kept per WebSocket client before the slowest ones are dropped (with a notice)."""


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """How a service runs. ``db``: SQLAlchemy URL (default ``$SOLVENT_DB``, else
    ``sqlite:///solvent.db``); ``market``: the snapshot it serves and checks against;
    ``rate``/``burst``: the per-key rate limit; ``max_body``: bytes; ``max_market_age``: how old
    the market may be for trades and withdrawals; ``clock``: now (UTC); ``solvency_key``: an
    Ed25519 key (``solvent solvency keygen``) to publish a signed proof of liabilities at start
    and every ``solvency_every`` seconds (none without it)."""

    db: str | None = None
    rate: float = DEFAULT_RATE
    burst: int = DEFAULT_BURST
    max_body: int = DEFAULT_MAX_BODY
    max_market_age: timedelta = DEFAULT_MAX_MARKET_AGE
    clock: Callable[[], datetime] = wall_clock
    solvency_key: Path | None = None
    solvency_every: float = DEFAULT_SOLVENCY_EVERY
    event_stream: str | None = None
    """The engine event log served (``/v1/events``, ``/v1/stream``): ``None`` picks the service's
    own engine's (``default``) when it runs one (a feed), else the log of the engine that last
    checkpointed on the ledger (``replay`` after ``solvent replay --db`` or ``make demo``), else
    ``default``."""
    event_poll: float = DEFAULT_EVENT_POLL
    locations: str | None = None
    """Location set valuing collateral held elsewhere (docs/cross-venue.md): a built-in version
    or a TOML file laid over it (its locations' keys); ``None``: the built-in set."""


DEFAULT_STREAM = "default"
"""The event log of the service's own real-time engine (``EngineConfig.stream``'s default)."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of ``/v1/stream``: ``body`` is the JSON sent; ``accounts`` the accounts it
    concerns (a key sees it when it sees any of them; empty: venue-wide, seen by every key)."""

    body: dict[str, Any]
    accounts: frozenset[str] = frozenset()


@dataclass
class _Subscriber:
    queue: asyncio.Queue[StreamEvent | None]
    principal: Principal
    visible: frozenset[str] | None


@dataclass
class StreamHub:
    """Fan-out of :class:`StreamEvent` to WebSocket clients, each filtered by what its key sees.

    ``publish`` may be called from any thread; delivery happens on the loop ``bind`` received."""

    loop: asyncio.AbstractEventLoop | None = None
    _subscribers: list[_Subscriber] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: int = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def subscribe(self, principal: Principal, visible: frozenset[str] | None) -> _Subscriber:
        sub = _Subscriber(asyncio.Queue(STREAM_BACKLOG + 1), principal, visible)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    def publish(self, event: StreamEvent) -> None:
        """Number the event and hand it to every subscriber that may see it."""
        with self._lock:
            self._seq += 1
            numbered = StreamEvent({**event.body, "stream_seq": self._seq}, event.accounts)
            subscribers = list(self._subscribers)
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        for sub in subscribers:
            if sub.visible is None or not numbered.accounts or sub.visible & numbered.accounts:
                loop.call_soon_threadsafe(_offer, sub.queue, numbered)

    def close(self) -> None:
        """Tell every subscriber the stream ends (on the bound loop's thread)."""
        with self._lock:
            subscribers, self._subscribers = list(self._subscribers), []
        for sub in subscribers:
            _offer(sub.queue, None)


def _offer(queue: asyncio.Queue[StreamEvent | None], event: StreamEvent | None) -> None:
    if queue.qsize() >= STREAM_BACKLOG and event is not None:
        queue.get_nowait()  # a client that does not read: drop its oldest event
    queue.put_nowait(event)


class Service:
    """One service: ledger, accounts, market, limits and the event stream; with ``feed``, the
    real-time engine that feed drives (:mod:`solvent.api.live`), started with the service."""

    def __init__(
        self, config: ServiceConfig, market: MarketSnapshot, feed: LiveFeed | None = None
    ) -> None:
        self.config = config
        self.ledger = Ledger.open(config.db)
        self.accounts = AccountService(
            self.ledger,
            PreparedMargins(),
            freshness=MarketFreshness(config.max_market_age, config.clock),
        )
        self._market = market
        self._market_lock = threading.Lock()
        self.limiter = RateLimiter(config.rate, config.burst)
        self.keys = KeyCache(self.ledger)
        self.directory = AccountCache(self.ledger)
        self.locations = load_locations(config.locations)
        self.hub = StreamHub()
        self._market_view: tuple[MarketSnapshot, dict[str, Any]] | None = None
        self.solvency: LiveSolvency | None = None
        if config.solvency_key is not None:
            self.solvency = LiveSolvency.from_ledger(
                self.ledger, market, load_key(config.solvency_key, "solvency_key")
            )
            self.solvency.publish()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.event_stream = _served_stream(self.ledger, config.event_stream, feed is not None)
        self.live: LiveEngine | None = None
        if feed is not None:
            self.live = LiveEngine(
                self.ledger,
                market,
                feed,
                EngineConfig(
                    stream=self.event_stream,
                    max_market_age_s=config.max_market_age.total_seconds(),
                ),
                lambda body, accounts: self.publish(StreamEvent(body, accounts)),
            )

    @property
    def engine(self) -> RealtimeEngine | None:
        """The real-time engine this service runs (``None`` without a feed, or before start)."""
        return None if self.live is None else self.live.engine

    async def start(self) -> None:
        """Start the background work: the real-time engine and its feed (``--feed``), or else
        forwarding the events an engine elsewhere writes to the ledger; and the scheduled
        proof-of-liabilities publications."""
        if self.live is not None:
            await self.live.start()
        else:
            self._tasks.append(asyncio.create_task(self._forward_events()))
        if self.solvency is not None:
            self._tasks.append(
                asyncio.create_task(
                    publish_periodically(
                        self.solvency,
                        self.config.solvency_every,
                        refresh=self._refresh_solvency,
                        stop=self._stopping,
                    )
                )
            )
        _freeze_startup_heap()

    async def _forward_events(self) -> None:
        """Publish on the stream every engine event written to the ledger after the service
        started (by an engine in this process or another one on the same ledger)."""
        last = await asyncio.to_thread(self._last_event_seq)
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.config.event_poll)
                return
            fresh = await asyncio.to_thread(
                load_events, self.ledger, self.event_stream, last, STREAM_BACKLOG
            )
            for event in fresh:
                body = event.to_json()
                self.publish(
                    StreamEvent(
                        {"type": body["kind"], **body},
                        frozenset() if event.account is None else frozenset({event.account}),
                    )
                )
                last = event.seq

    def _last_event_seq(self) -> int:
        table = schema.realtime_events
        with self.ledger.engine.connect() as conn:
            seq = conn.execute(
                select(func.max(table.c.seq)).where(table.c.stream == self.event_stream)
            ).scalar()
        return int(seq or 0)

    def _refresh_solvency(self) -> None:
        """Bring the proof-of-liabilities tree to the ledger as it is now (every account)."""
        assert self.solvency is not None
        self.solvency.refresh(self.ledger, self.market)  # every account: whole-table reads

    @property
    def market(self) -> MarketSnapshot:
        """The market snapshot the service prices and checks against now (with an engine: the
        market of its last tick)."""
        engine = self.engine
        if engine is not None:
            return engine.market
        with self._market_lock:
            return self._market

    def set_market(self, market: MarketSnapshot) -> None:
        """Move the service to a new market snapshot (a feed tick)."""
        with self._market_lock:
            self._market = market
        self.hub.publish(StreamEvent({"type": "market", "as_of": market.as_of.isoformat()}))

    def market_view(self) -> dict[str, Any]:
        """``GET /v1/market`` of the current snapshot (computed once per snapshot: the surface fit
        takes a while)."""
        market = self.market
        cached = self._market_view
        if cached is None or cached[0] is not market:
            cached = self._market_view = (market, market_json(market))
        return cached[1]

    def publish(self, event: StreamEvent) -> None:
        """Send ``event`` to the WebSocket clients that may see it."""
        self.hub.publish(event)

    # --- account changes and what-ifs: through the engine when one runs ------------------------

    def _on_engine(self, call: Coroutine[Any, Any, T]) -> T:
        """Run ``call`` (an engine coroutine) on the service's event loop, from a worker thread,
        and wait for its result: the engine is only ever touched from its loop."""
        loop = self.hub.loop
        assert loop is not None, "the service has not started"
        return asyncio.run_coroutine_threadsafe(call, loop).result()

    def _engine_for(self, record: AccountRecord) -> RealtimeEngine | None:
        """The engine when one runs and ``record`` is a user account it margins."""
        engine = self.engine
        return engine if engine is not None and record.kind is AccountKind.USER else None

    def create_account(
        self,
        account: str,
        *,
        parent: str | None = None,
        mode: SubAccountMode | None = None,
        model: str = "standard",
    ) -> AccountRecord:
        """:meth:`AccountService.create` (through the engine when one runs)."""
        engine = self.engine
        try:
            if engine is None:
                return self.accounts.create(account, parent=parent, mode=mode, model=model)
            self._on_engine(engine.create_account(account, parent=parent, mode=mode, model=model))
            return self.ledger.account(account)
        finally:
            self.directory.invalidate()

    def deposit(
        self, record: AccountRecord, asset: str, amount: str, *, ref: str | None = None
    ) -> Receipt:
        """:meth:`AccountService.deposit` (through the engine when one runs)."""
        engine = self._engine_for(record)
        if engine is None:
            return self.accounts.deposit(record.id, asset, amount, ref=ref)
        return self._on_engine(engine.deposit(record.id, asset, amount, ref=ref))

    def withdraw(
        self, record: AccountRecord, asset: str, amount: str, *, ref: str | None = None
    ) -> tuple[Receipt, Health]:
        """:meth:`AccountService.withdraw` against the service's market (through the engine,
        its market and its margin checks, when one runs)."""
        engine = self._engine_for(record)
        if engine is None:
            return self.accounts.withdraw(record.id, asset, amount, self.market, ref=ref)
        return self._on_engine(engine.withdraw(record.id, asset, amount, ref=ref))

    def trade(
        self,
        record: AccountRecord,
        instrument: str,
        quantity: str,
        price: str,
        fee: str | None = None,
        *,
        ref: str | None = None,
    ) -> tuple[TradeRecord, Health]:
        """:meth:`AccountService.trade` against the service's market (through the engine when
        one runs)."""
        engine = self._engine_for(record)
        if engine is None:
            return self.accounts.trade(
                record.id, instrument, quantity, price, self.market, fee, ref=ref
            )
        return self._on_engine(engine.trade(record.id, instrument, quantity, price, fee, ref=ref))

    def what_if(self, account: str, orders: Sequence[Order]) -> CheckResult:
        """:meth:`AccountService.check` against the service's market (no engine; with one, the
        endpoint asks :meth:`RealtimeEngine.what_if` on the loop)."""
        return self.accounts.check(account, orders, self.market)

    async def stop(self) -> None:
        """Shut down: end the streams, let the tick in progress finish, then flush and release
        the database (every acknowledged write is already committed)."""
        self.hub.close()
        self._stopping.set()
        if self.live is not None:
            await self.live.stop()
        for task in self._tasks:
            await task
        self.ledger.close()
        gc.unfreeze()


def _freeze_startup_heap() -> None:
    """Move every object alive once the service is up (modules, the market, the models' prepared
    states, the engine's book) out of the garbage collector's generations. They live as long as
    the service, yet each full collection walked them all: with an engine running that took
    70-85 ms, and every request waited behind it (the p99 of what-if). Requests and ticks still
    free their own objects as before; :meth:`Service.stop` puts the frozen ones back."""
    gc.collect()
    gc.freeze()


def _served_stream(ledger: Ledger, configured: str | None, own_engine: bool) -> str:
    """The event log a service serves (:attr:`ServiceConfig.event_stream`): the configured one,
    else the default for a service with its own engine, else the stream of the engine that last
    checkpointed on the ledger (never the replay's inputs fingerprint row, which has no events)."""
    if configured is not None:
        return configured
    if own_engine:
        return DEFAULT_STREAM
    table = schema.realtime_checkpoints
    with ledger.engine.connect() as conn:
        latest = conn.execute(
            select(table.c.stream)
            .where(table.c.stream != REPLAY_INPUTS)
            .order_by(table.c.updated_at.desc())
            .limit(1)
        ).scalar()
    return DEFAULT_STREAM if latest is None else str(latest)
