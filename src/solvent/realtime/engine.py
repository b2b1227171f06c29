"""The real-time risk engine: an asyncio loop that re-margins every account on every tick.

One tick (docs/engine.md):

1. the market events taken since the previous tick (a burst coalesced: every event within
   ``coalesce_ms`` of feed time of the first) are applied to the live market
   (:class:`~solvent.realtime.market_state.LiveMarket`): oracle index, vol surface when the chain
   moved (throttled), marks;
2. each model's dynamic multiplier sees the new index (:mod:`solvent.realtime.dynamic`);
3. every margin group is re-margined through the model protocol on the moved market, vectorized
   over the whole book (:func:`solvent.realtime.tick.remargin`), its equity and health assessed;
4. units that changed health state are published (health changes, margin calls, liquidations);
   units that entered liquidation are handed to the liquidator (or, without one, to the
   :attr:`RealtimeEngine.breaches` queue);
5. the liquidator books its outcome on the ledger (each step one idempotent operation), then the
   tick's events and the checkpoint (the last market event applied and the state it produced)
   are written in one ledger transaction (:mod:`solvent.realtime.checkpoint`).

Account changes (deposits, withdrawals, trades) go through the ledger with the rules of
:class:`~solvent.accounts.service.AccountService`, its margin checks answered from the prepared
state, and apply to the in-memory book between ticks (an :class:`asyncio.Lock` keeps them out of
a running tick). :meth:`RealtimeEngine.what_if` answers from the prepared state at once.

Two ways to drive it: :meth:`RealtimeEngine.run` consumes a source to its end and coalesces by
feed time only (deterministic: a replay gives the same ticks, states, events and ledger every
time); :meth:`RealtimeEngine.publish` feeds a live loop (:meth:`start`/:meth:`stop`) that also
flushes a tick after ``flush_ms`` of wall time without a new event.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from solvent.accounts.health import STATES, Health, HealthState, assess
from solvent.accounts.service import (
    AccountService,
    CheckResult,
    MarginFigures,
    MarketFreshness,
    Order,
    Receipt,
    registry_margin,
)
from solvent.errors import SolventInputError
from solvent.executors import Executor
from solvent.ledger.model import INSURANCE
from solvent.ledger.store import Ledger, LedgerTransaction, TradeRecord
from solvent.margin.protocol import Detail, PricedMarket
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio, SubAccountMode
from solvent.realtime.book_state import BookState, GroupedBook
from solvent.realtime.checkpoint import Checkpoint, load_checkpoint, load_events, save_checkpoint
from solvent.realtime.dynamic import LiveMultiplier, Multiplier, load_dynamic_params
from solvent.realtime.events import (
    EngineEvent,
    EventKind,
    FeedFault,
    MarketEvent,
)
from solvent.realtime.latency import LatencyStats, TickTimer
from solvent.realtime.market_state import LiveMarket, MarketConfig, MarketTick
from solvent.realtime.resident import ResidentUnits
from solvent.realtime.tick import BookHealth, ModelRuntime, remargin
from solvent.realtime.what_if import PreparedModel, WhatIfState

log = logging.getLogger("solvent.realtime")

_HEALTHY, _MARGIN_CALL, _LIQUIDATION, _BANKRUPT = range(4)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The engine's parameters (docs/engine.md)."""

    model: str | None = None
    """Margin every account with this model (``None``: each account's own, from the ledger)."""
    params: str | None = None
    """Parameter set or file of ``model``."""
    coalesce_ms: float = 100.0
    """Market events within this much feed time of a tick's first event join that tick."""
    flush_ms: float = 20.0
    """Live loop: wall time to wait for more events of a burst before ticking."""
    market: MarketConfig = field(default_factory=MarketConfig)
    dynamic: bool = True
    """Apply the live dynamic multiplier (per-model parameters, ``dynamic.toml``)."""
    stream: str = "default"
    """Name of the checkpoint row and event log (one per input stream)."""
    checkpoint_every: int = 100
    """Persist the checkpoint at least every this many ticks, and on every tick that booked or
    published something (a tick that only moved the market is re-applied after a restart, to
    the same result: the checkpoint's market plus the same events)."""
    max_market_age_s: float = 300.0
    """Account changes are refused when the index was last published longer ago (feed time)."""
    incremental: bool = True
    """Risk arrays: re-prepare only the instruments whose inputs changed (models that can;
    docs/engine.md); ``False`` prepares every model in full on every market move."""


@dataclass(frozen=True, slots=True)
class Breach:
    """A margin unit that entered liquidation (or bankruptcy) at ``tick``: its top account, the
    members of its group, and its figures (USD) at that tick."""

    tick: int
    time: datetime
    account: str
    members: tuple[str, ...]
    state: HealthState
    equity_usd: float
    initial_margin_usd: float
    maintenance_margin_usd: float


@dataclass(frozen=True, slots=True)
class LiquidationContext:
    """What a liquidator gets from the tick: the grouped book, its health, the moved market, the
    models prepared on it, the multipliers in force and the tick's market clock."""

    grouped: GroupedBook
    health: BookHealth
    market: MarketTick
    market_version: int
    runtimes: Mapping[str, ModelRuntime]
    multipliers: Mapping[str, Multiplier]
    tick: int


@dataclass(frozen=True, slots=True)
class LiquidationReport:
    """What a liquidator decided in one tick: the accounts whose ledger rows its plan changes,
    one JSON-ready record per liquidated unit (published as the ``liquidation`` event's
    ``outcome``), totals (USD) for the replay summary, and the plan: JSON-ready ledger steps that
    :meth:`Liquidator.execute` books."""

    touched: tuple[str, ...] = ()
    outcomes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    totals: Mapping[str, float] = field(default_factory=dict)
    plan: tuple[Mapping[str, Any], ...] = ()


class Liquidator(Protocol):
    """Plans the liquidation of breached units (:meth:`liquidate`, nothing written), then books a
    plan (:meth:`execute`: every step its own idempotent ledger operation, a step already booked
    skipped). The engine persists the plan with the tick's checkpoint before executing it, so a
    restart finishes a plan a crash interrupted and never books a step twice."""

    def liquidate(
        self, breaches: Sequence[Breach], context: LiquidationContext
    ) -> LiquidationReport: ...

    def execute(self, plan: Sequence[Mapping[str, Any]], market: MarketSnapshot) -> None: ...


@dataclass(frozen=True, slots=True)
class AccountState:
    """One margin unit as of the last tick: its health (requirements with the multiplier in
    force, USD), the multiplier and why."""

    account: str
    members: tuple[str, ...]
    health: Health
    model: str
    multiplier: Multiplier
    tick: int
    as_of: datetime

    def to_json(self) -> dict[str, Any]:
        """JSON view (health figures, state, the multiplier and its reason)."""
        h = self.health
        return {
            "account": self.account,
            "members": list(self.members),
            "state": h.state.value,
            "equity_usd": h.equity_usd,
            "collateral_value_usd": h.collateral_value_usd,
            "initial_margin_usd": h.initial_margin_usd,
            "maintenance_margin_usd": h.maintenance_margin_usd,
            "excess_usd": h.excess_usd,
            "margin_ratio": h.margin_ratio,
            "model": self.model,
            "multiplier": self.multiplier.to_json(),
            "tick": self.tick,
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True, slots=True)
class EngineState:
    """The engine at a glance (see docs/engine.md)."""

    tick: int
    sequence: int
    as_of: datetime
    accounts: int
    by_state: Mapping[str, int]
    multipliers: Mapping[str, float]
    latency_ms: Mapping[str, Mapping[str, float]]
    events: int
    faults: int


class Subscription:
    """A subscriber's queue of engine events (``async for event in sub``). A subscriber that
    does not keep up loses the oldest events (counted in :attr:`dropped`), never blocks the
    engine."""

    def __init__(self, engine: RealtimeEngine, kinds: frozenset[EventKind] | None, maxsize: int):
        self._engine = engine
        self.kinds = kinds
        self.queue: asyncio.Queue[EngineEvent] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def offer(self, event: EngineEvent) -> None:
        if self.closed or (self.kinds is not None and event.kind not in self.kinds):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def close(self) -> None:
        """Stop receiving events."""
        self.closed = True
        self._engine._unsubscribe(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> EngineEvent:
        if self.closed and self.queue.empty():
            raise StopAsyncIteration
        return await self.queue.get()


class _Flush:
    """Queue sentinel: tick now (an account change wants its re-margin)."""


class _Stop:
    """Queue sentinel: stop after the tick in progress."""


class RealtimeEngine:
    """See the module docstring. Build with :meth:`from_ledger`."""

    def __init__(
        self,
        ledger: Ledger,
        market: MarketSnapshot,
        config: EngineConfig | None = None,
        *,
        liquidator: Liquidator | None = None,
        accounts: BookState | None = None,
        executor: Executor | None = None,
        worker: concurrent.futures.Executor | None = None,
    ) -> None:
        self.ledger = ledger
        self.worker = worker
        """Where ticks and account changes run (one at a time, under the engine's lock): None
        on the event loop itself; a one-thread pool keeps the loop free meanwhile (what-ifs then
        read :attr:`what_if_state`, swapped in whole when a tick or change is done)."""
        self.executor = executor
        """Where each tick's whole-book margin runs (None: this process; docs/scale-out.md)."""
        self.resident = None if executor is None else ResidentUnits(executor, lambda: self.accounts)
        """With an executor: the book held in its residents' shards, account changes routed to
        the shard owning them, the margin stage of every tick (:mod:`solvent.realtime.resident`)."""
        self.config = config or EngineConfig()
        self.liquidator = liquidator
        self.accounts = (
            accounts if accounts is not None else BookState.from_ledger(ledger, self.config.model)
        )
        """The accounts margined (from the ledger; ``accounts`` hands in a state built elsewhere,
        e.g. a benchmark's synthetic book)."""
        self.live = LiveMarket(market, self.config.market)
        self.latency = LatencyStats()
        self.breaches: asyncio.Queue[Breach] = asyncio.Queue()
        """Units handed to liquidation when no liquidator is attached (tests read it)."""
        self._breached: list[Breach] = []
        """Breaches of the last tick, put on :attr:`breaches` on the loop (:meth:`_deliver`)."""
        self.what_if_state: WhatIfState | None = None
        """What :meth:`what_if` answers from (None before the first tick)."""
        self.health: BookHealth | None = None
        self.tick_count = 0
        self.sequence = 0
        self.event_seq = 0
        self.fault_count = 0
        self.skipped = 0
        """Market events skipped because a checkpoint had already applied them."""
        self.totals: dict[str, float] = {}
        self._units: dict[str, set[str]] = {}
        """Running totals of the liquidator's reports (persisted with the checkpoint)."""
        self.history: list[dict[str, Any]] = []
        """Per tick: time, index, counts by state, totals (for the replay report)."""
        self._runtimes: dict[str, ModelRuntime] = {}
        self._multipliers: dict[str, LiveMultiplier] = {}
        self._codes: dict[str, int] = {}
        self._subscribers: list[Subscription] = []
        self._unsaved: list[EngineEvent] = []
        self._committed: list[EngineEvent] = []
        self._ticks_since_save = 0
        self._lock = asyncio.Lock()
        self._queue: asyncio.Queue[MarketEvent | _Flush | _Stop] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_publication: datetime | None = None
        self._fund_units: dict[str, int] = ledger.balances(INSURANCE)
        self._changed: set[str] = set()
        """Accounts written since the last tick (reloaded at the next one, or by a what-if)."""
        self._margined: tuple[Any, ...] | None = None
        """What the current health was computed from (market version, accounts version,
        multipliers): a tick where none of them changed reuses it."""
        self._service = AccountService(
            ledger,
            self._margin_function,
            freshness=MarketFreshness(
                max_age=timedelta(seconds=self.config.max_market_age_s),
                clock=self._freshness_clock,
            ),
        )
        for name in sorted(set(self.accounts.models)):
            self._runtime(name)
        self._plan: list[Mapping[str, Any]] = []
        """Liquidation steps decided by the last tick and persisted, booked right after."""
        checkpoint = load_checkpoint(ledger, self.config.stream)
        if checkpoint is not None:
            self._restore(checkpoint)
            if self._plan:  # a crash interrupted the booking: finish it before anything else
                self._execute_plan(self.live.snapshot, None)

    @classmethod
    def from_ledger(
        cls,
        ledger: Ledger,
        market: MarketSnapshot,
        config: EngineConfig | None = None,
        *,
        liquidator: Liquidator | None = None,
        executor: Executor | None = None,
        worker: concurrent.futures.Executor | None = None,
    ) -> RealtimeEngine:
        """The engine on ``ledger``'s accounts and ``market``, resumed from the checkpoint of
        ``config.stream`` when there is one; ``executor``: where each tick's margin runs;
        ``worker``: where ticks and account changes run (None: on the event loop)."""
        return cls(ledger, market, config, liquidator=liquidator, executor=executor, worker=worker)

    # --- models --------------------------------------------------------------------------------

    def _runtime(self, name: str) -> ModelRuntime:
        if name not in self._runtimes:
            params = self.config.params if name == self.config.model else None
            self._runtimes[name] = ModelRuntime(name, params, incremental=self.config.incremental)
            self._multipliers[name] = LiveMultiplier(
                load_dynamic_params(name), enabled=self.config.dynamic
            )
        return self._runtimes[name]

    def multipliers(self) -> dict[str, Multiplier]:
        """Each model's multiplier in force."""
        return {m: lm.current() for m, lm in sorted(self._multipliers.items())}

    # --- driving -------------------------------------------------------------------------------

    async def run(self, source: AsyncIterable[MarketEvent]) -> None:
        """Consume ``source`` to its end: events coalesced into ticks by feed time only
        (deterministic), events already applied before a restart skipped."""
        window = timedelta(milliseconds=self.config.coalesce_ms)
        batch: list[MarketEvent] = []
        async for event in source:
            if event.seq <= self.sequence:
                self.skipped += 1
                continue
            if batch and event.time - batch[0].time > window:
                await self._process(batch)
                batch = []
            batch.append(event)
        if batch:
            await self._process(batch)
        await self.flush()

    async def start(self) -> None:
        """Start the live loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="solvent-realtime")

    async def stop(self) -> None:
        """Finish the tick in progress, persist, and stop the live loop."""
        if self._task is not None and not self._task.done():
            await self._queue.put(_Stop())
            await self._task
        self._task = None
        await self.flush()

    async def publish(self, event: MarketEvent) -> None:
        """One market event for the live loop."""
        await self._queue.put(event)

    async def tick_now(self) -> None:
        """Ask the live loop for a tick now (events pending or not)."""
        await self._queue.put(_Flush())

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        window = timedelta(milliseconds=self.config.coalesce_ms)
        carry: MarketEvent | _Flush | _Stop | None = None
        while True:
            first = carry if carry is not None else await self._queue.get()
            carry = None
            if isinstance(first, _Stop):
                return
            batch: list[MarketEvent] = []
            if isinstance(first, _Flush):
                await self._process(batch)
                continue
            if first.seq <= self.sequence:
                self.skipped += 1
                continue
            batch.append(first)
            deadline = loop.time() + self.config.flush_ms / 1000.0
            stop = False
            while True:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    nxt = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    break
                if isinstance(nxt, _Stop):
                    stop = True
                    break
                if isinstance(nxt, _Flush):
                    break
                if nxt.seq <= self.sequence:
                    self.skipped += 1
                    continue
                if nxt.time - first.time > window:
                    carry = nxt
                    break
                batch.append(nxt)
            await self._process(batch)
            if stop:
                return

    async def _process(self, batch: Sequence[MarketEvent]) -> None:
        async with self._lock:
            await self._exclusive(self._tick, batch)
            self._deliver()
        await asyncio.sleep(0)  # account changes and subscribers run between ticks

    async def _exclusive(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(*args)`` (the caller holds the lock): inline, or on :attr:`worker` while the
        loop goes on serving; a cancelled caller still waits for the worker to finish."""
        if self.worker is None:
            return work(*args)
        done = asyncio.get_running_loop().run_in_executor(self.worker, work, *args)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            await asyncio.wait([done])  # keep the lock until the worker is done
            raise

    def close(self) -> None:
        """Release the executor's residents holding the book (idempotent; the next tick would
        place the book again)."""
        if self.resident is not None:
            self.resident.close()

    async def flush(self) -> None:
        """Persist the checkpoint now (if anything is unsaved)."""
        async with self._lock:
            if self._ticks_since_save or self._unsaved:
                with self.ledger.transaction() as tx:
                    self._save(tx)
            self._deliver()

    # --- the tick ------------------------------------------------------------------------------

    def _tick(self, batch: Sequence[MarketEvent]) -> None:
        timer = TickTimer()
        tick = self.tick_count + 1
        for event in batch:
            self.live.add(event)
        self._apply_changes()
        grouped = self.accounts.grouped()
        market = self.live.tick(timer, grouped.book.instruments)
        if market.moved:
            self._last_publication = market.time
        for name in sorted(self._multipliers):
            change = self._multipliers[name].observe(
                {a: market.index[a] for a in sorted(market.moved)}, market.time
            )
            if change is not None:
                self._emit(
                    EventKind.MULTIPLIER,
                    None,
                    tick,
                    market.time,
                    {
                        "model": name,
                        "previous": change.previous,
                        "multiplier": change.new,
                        "target": change.target,
                        "reason": change.reason.value,
                        "rate_limited": change.rate_limited,
                        "vol_ratio": change.vol_ratio,
                    },
                )
        multipliers = self.multipliers()
        key = (
            self.live.version,
            self.accounts.version,
            tuple((m, v.value, v.applies_to.value) for m, v in multipliers.items()),
        )
        if self.health is not None and key == self._margined:
            health = self.health  # nothing an account's figures depend on moved: same result
        else:
            health = remargin(
                grouped,
                market.priced,
                self.live.version,
                self._runtimes,
                multipliers,
                timer,
                stage=self.resident,
            )
            self._margined = key
        timer.finish()
        self.latency.record(timer)
        self.health = health
        self.tick_count = tick
        if batch:
            self.sequence = max(self.sequence, max(e.seq for e in batch))
        for fault in [*(e for e in batch if isinstance(e, FeedFault)), *market.faults]:
            self.fault_count += 1
            log.info("feed fault on %s: %s: %s", fault.stream, fault.kind.value, fault.detail)
            self._emit(
                EventKind.FEED_FAULT,
                None,
                tick,
                market.time,
                {"stream": fault.stream, "fault": fault.kind.value, "detail": fault.detail},
            )
        breaches = self._transitions(health, tick, market.time)
        touched: tuple[str, ...] = ()
        pending: list[Breach] = []
        if self.liquidator is not None:
            pending = breaches + self._still_breached(health, breaches, tick, market.time)
        else:
            self._breached.extend(breaches)
        self._ticks_since_save += 1
        save_due = self._ticks_since_save >= self.config.checkpoint_every
        if pending:
            assert self.liquidator is not None
            report = self.liquidator.liquidate(
                pending,
                LiquidationContext(
                    grouped,
                    health,
                    market,
                    self.live.version,
                    self._runtimes,
                    multipliers,
                    tick,
                ),
            )
            self._record_liquidations(report, pending, tick, market.time)
            self._plan = list(report.plan)
            touched = report.touched
        if self._plan or self._unsaved or save_due:
            with self.ledger.transaction() as tx:
                self._save(tx)  # the plan is persisted before a step of it is booked
        if self._plan:
            self._execute_plan(market.snapshot, touched)
        self._history(market, health)
        self._publish_what_if()

    def _execute_plan(self, market: MarketSnapshot, touched: Sequence[str] | None) -> None:
        """Book the pending plan and reload what it touched (every account when unknown)."""
        if self.liquidator is None:
            raise SolventInputError(
                "liquidator",
                "the checkpoint holds liquidation steps not yet booked: restart the engine with "
                "its liquidator",
            )
        self.liquidator.execute(self._plan, market)
        self._plan = []
        if touched is None:
            self.accounts = BookState.from_ledger(self.ledger, self.config.model)
        else:
            self.accounts.reload(self.ledger, touched)
        self._fund_units = self.ledger.balances(INSURANCE)

    def _transitions(self, health: BookHealth, tick: int, time: datetime) -> list[Breach]:
        """Publish every unit whose state changed; the units that entered liquidation."""
        names = health.grouped.book.accounts
        previous = np.zeros(len(names), dtype=np.int8)
        if self._codes:
            row = self._row_index(health.grouped)
            for account, code in self._codes.items():
                r = row.get(account)
                if r is not None:
                    previous[r] = code
        codes = health.state_code
        changed = np.flatnonzero(codes != previous)
        breaches: list[Breach] = []
        for r in changed.tolist():
            account = names[r]
            old, new = int(previous[r]), int(codes[r])
            detail = self._figures(health, r)
            detail["previous"] = STATES[old].value
            self._emit(EventKind.HEALTH, account, tick, time, detail)
            if new == _MARGIN_CALL and old == _HEALTHY:
                call = dict(detail)
                call["shortfall_usd"] = float(health.initial_margin_usd[r] - health.equity_usd[r])
                self._emit(EventKind.MARGIN_CALL, account, tick, time, call)
            if new >= _LIQUIDATION > old:
                breaches.append(self._breach(health, r, tick, time))
                if self.liquidator is None:
                    queued = dict(detail)
                    queued["action"] = "queued"
                    self._emit(EventKind.LIQUIDATION, account, tick, time, queued)
                    self._mark("liquidated", account)
            if new == _BANKRUPT and self.liquidator is None:
                self._mark("bankrupt", account)
        nonzero = np.flatnonzero(codes)
        self._codes = {names[r]: int(codes[r]) for r in nonzero.tolist()}
        return breaches

    def _mark(self, what: str, account: str) -> None:
        """Count ``account`` once in ``what`` (``liquidated``: units handed to or acted on by
        liquidation; ``bankrupt``: units that went bankrupt) over the whole run."""
        self._units.setdefault(what, set()).add(account)
        self.totals[what] = float(len(self._units[what]))

    def _still_breached(
        self, health: BookHealth, fresh: Sequence[Breach], tick: int, time: datetime
    ) -> list[Breach]:
        """Units still in liquidation from earlier ticks (a liquidator retries them)."""
        seen = {b.account for b in fresh}
        rows = np.flatnonzero(health.state_code >= _LIQUIDATION)
        names = health.grouped.book.accounts
        return [self._breach(health, r, tick, time) for r in rows.tolist() if names[r] not in seen]

    def _breach(self, health: BookHealth, r: int, tick: int, time: datetime) -> Breach:
        grouped = health.grouped
        members = tuple(grouped.accounts.accounts[i] for i in grouped.groups.members(r).tolist())
        return Breach(
            tick=tick,
            time=time,
            account=grouped.book.accounts[r],
            members=members,
            state=STATES[int(health.state_code[r])],
            equity_usd=float(health.equity_usd[r]),
            initial_margin_usd=float(health.initial_margin_usd[r]),
            maintenance_margin_usd=float(health.maintenance_margin_usd[r]),
        )

    def _record_liquidations(
        self,
        report: LiquidationReport,
        breaches: Sequence[Breach],
        tick: int,
        time: datetime,
    ) -> None:
        for key, value in report.totals.items():
            self.totals[key] = self.totals.get(key, 0.0) + float(value)
        by_account = {b.account: b for b in breaches}
        for account, outcome in sorted(report.outcomes.items()):
            breach = by_account.get(account)
            if breach is not None and outcome.get("action") not in (None, "none"):
                self._mark("liquidated", account)
                if outcome.get("action") == "bankrupt":
                    self._mark("bankrupt", account)
            detail: dict[str, Any] = {"outcome": dict(outcome)}
            if breach is not None:
                detail.update(
                    state=breach.state.value,
                    equity_usd=breach.equity_usd,
                    initial_margin_usd=breach.initial_margin_usd,
                    maintenance_margin_usd=breach.maintenance_margin_usd,
                )
            self._emit(EventKind.LIQUIDATION, account, tick, time, detail)

    def _figures(self, health: BookHealth, r: int) -> dict[str, Any]:
        model = health.grouped.models[r]
        return {
            "state": STATES[int(health.state_code[r])].value,
            "equity_usd": float(health.equity_usd[r]),
            "initial_margin_usd": float(health.initial_margin_usd[r]),
            "maintenance_margin_usd": float(health.maintenance_margin_usd[r]),
            "model": model,
            "multiplier": self._multipliers[model].current().value,
        }

    def insurance_fund_usd(self) -> float:
        """The insurance fund (``@insurance``'s balances) valued at the current index, USD."""
        snapshot = self.live.snapshot
        total = 0.0
        for asset, units in self._fund_units.items():
            spec = self.ledger.assets.get(asset)
            try:
                price = snapshot.price_usd(asset)
            except SolventInputError:
                continue  # an asset the market does not price counts for zero
            total += float(spec.to_decimal(units)) * price
        return total

    def _history(self, market: MarketTick, health: BookHealth) -> None:
        counts = np.bincount(health.state_code.astype(np.intp), minlength=len(STATES))
        self.history.append(
            {
                "tick": self.tick_count,
                "time": market.time,
                "index": dict(market.index),
                "by_state": {s.value: int(counts[i]) for i, s in enumerate(STATES)},
                "totals": dict(self.totals),
                "insurance_fund_usd": self.insurance_fund_usd(),
            }
        )

    _row_cache: tuple[int, dict[str, int]] | None = None

    def _row_index(self, grouped: GroupedBook) -> dict[str, int]:
        if self._row_cache is None or self._row_cache[0] != id(grouped):
            self._row_cache = (id(grouped), {a: i for i, a in enumerate(grouped.book.accounts)})
        return self._row_cache[1]

    # --- events --------------------------------------------------------------------------------

    def _emit(
        self,
        kind: EventKind,
        account: str | None,
        tick: int,
        time: datetime,
        detail: Mapping[str, Any],
    ) -> None:
        self.event_seq += 1
        event = EngineEvent(
            self.event_seq, tick, time, kind, account, MappingProxyType(dict(detail))
        )
        self._unsaved.append(event)

    def _deliver(self) -> None:
        """Hand the persisted (committed) events to the subscribers."""
        breached, self._breached = self._breached, []
        for breach in breached:
            self.breaches.put_nowait(breach)
        events, self._committed = self._committed, []
        for event in events:
            for sub in list(self._subscribers):
                sub.offer(event)

    def subscribe(
        self, kinds: frozenset[EventKind] | None = None, maxsize: int = 10_000
    ) -> Subscription:
        """A new subscription to the events published from now on (``kinds``: all if None)."""
        sub = Subscription(self, kinds, maxsize)
        self._subscribers.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(sub)

    def events_since(self, seq: int, limit: int | None = None) -> list[EngineEvent]:
        """Persisted events with ``seq`` beyond ``seq``, oldest first."""
        return load_events(self.ledger, self.config.stream, seq, limit)

    # --- checkpoints ---------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "market": self.live.to_state(),
            "multipliers": {m: lm.to_state() for m, lm in sorted(self._multipliers.items())},
            "codes": dict(sorted(self._codes.items())),
            "totals": dict(sorted(self.totals.items())),
            "faults": self.fault_count,
            "plan": list(self._plan),
            "units": {k: sorted(v) for k, v in sorted(self._units.items())},
        }

    def _save(self, tx: LedgerTransaction) -> None:
        save_checkpoint(
            tx,
            Checkpoint(
                self.config.stream, self.sequence, self.tick_count, self.event_seq, self._state()
            ),
            self._unsaved,
        )
        self._committed.extend(self._unsaved)
        self._unsaved = []
        self._ticks_since_save = 0

    def _restore(self, checkpoint: Checkpoint) -> None:
        state = checkpoint.state
        self.sequence = checkpoint.sequence
        self.tick_count = checkpoint.tick
        self.event_seq = checkpoint.event_seq
        self.live.restore(state["market"])
        for name, raw in state["multipliers"].items():
            self._runtime(name)
            self._multipliers[name].restore(raw)
        self._codes = {str(a): int(c) for a, c in state["codes"].items()}
        self.totals = {str(k): float(v) for k, v in state["totals"].items()}
        self.fault_count = int(state["faults"])
        self._plan = list(state.get("plan", []))
        self._units = {str(k): set(v) for k, v in state.get("units", {}).items()}

    # --- account changes -----------------------------------------------------------------------

    def _freshness_clock(self) -> datetime:
        """``market.as_of`` plus the feed time since the index was last published: the market is
        as old as its last publication (not as the base snapshot's timestamp)."""
        snapshot = self.live.snapshot
        if self._last_publication is None:
            return snapshot.as_of
        return snapshot.as_of + (self.live.time - self._last_publication)

    def _margin_function(
        self, portfolio: Portfolio, market: MarketSnapshot, model: str
    ) -> MarginFigures:
        """Requirement of one margin unit for :class:`AccountService` checks: from the prepared
        state when ``market`` is the engine's and the instruments are prepared, times the
        multiplier in force (new risk pays it); else the one-shot registry path."""
        runtime = self._runtimes.get(model)
        priced = self._priced_for(market)
        names = [p.instrument for p in portfolio.positions]
        if runtime is None or priced is None or not set(names) <= set(priced.instruments):
            figures = registry_margin(portfolio, market, model)
            return figures
        column = {n: j for j, n in enumerate(priced.instruments)}
        q = sp.csr_array(
            (
                np.array([p.quantity for p in portfolio.positions], dtype=np.float64),
                (np.zeros(len(names), np.intp), np.array([column[n] for n in names], np.intp)),
            ),
            shape=(1, len(priced.instruments)),
        )
        book = Book((portfolio.account,), priced.instruments, q)
        result = runtime.model.margin(
            runtime.prepared(priced, self.live.version), book, detail=Detail.TOTALS
        )
        m = self._multipliers[model].current()
        im = float(result.initial_margin_usd[0]) * m.initial
        mm = min(float(result.maintenance_margin_usd[0]) * m.maintenance, im)
        return _Figures(im, mm)

    def _priced_for(self, market: MarketSnapshot) -> PricedMarket | None:
        if self.health is None or market is not self.live.snapshot:
            return None
        return self.health.priced

    async def _change(self, account: str, body: Callable[[], Any]) -> Any:
        async with self._lock:
            result = await self._exclusive(self._apply_change, account, body)
        if self._task is not None:
            await self.tick_now()
        return result

    def _apply_change(self, account: str, body: Callable[[], Any]) -> Any:
        """``body()`` (a ledger write) and its account reloaded, what-ifs brought to it."""
        result = body()
        self._changed.add(account)
        self._apply_changes()
        self._publish_what_if()
        return result

    def _apply_changes(self) -> None:
        """Reload every account changed since the last tick from the ledger (one read)."""
        if self._changed:
            changed, self._changed = sorted(self._changed), set()
            self.accounts.reload(self.ledger, changed)

    async def create_account(
        self,
        account: str,
        *,
        parent: str | None = None,
        mode: SubAccountMode | None = None,
        model: str = "standard",
    ) -> None:
        """Create an account on the ledger and in the engine."""

        def body() -> None:
            self._service.create(account, parent=parent, mode=mode, model=model)
            self._runtime(self.config.model or model)

        await self._change(account, body)

    async def deposit(
        self, account: str, asset: str, amount: str, *, ref: str | None = None
    ) -> Receipt:
        """Deposit (decimal string) into ``account``: :meth:`AccountService.deposit`."""
        result: Receipt = await self._change(
            account, lambda: self._service.deposit(account, asset, amount, ref=ref)
        )
        return result

    async def withdraw(
        self, account: str, asset: str, amount: str, *, ref: str | None = None
    ) -> tuple[Receipt, Health]:
        """Withdraw from ``account`` (refused below IM, with the multiplier in force)."""
        result: tuple[Receipt, Health] = await self._change(
            account,
            lambda: self._service.withdraw(account, asset, amount, self.live.snapshot, ref=ref),
        )
        return result

    async def trade(
        self,
        account: str,
        instrument: str,
        quantity: str,
        price: str,
        fee: str | None = None,
        *,
        ref: str | None = None,
    ) -> tuple[TradeRecord, Health]:
        """Book a fill for ``account`` (refused below IM, outside the price band, ...)."""
        result: tuple[TradeRecord, Health] = await self._change(
            account,
            lambda: self._service.trade(
                account, instrument, quantity, price, self.live.snapshot, fee, ref=ref
            ),
        )
        return result

    # --- reads ---------------------------------------------------------------------------------

    @property
    def market(self) -> MarketSnapshot:
        """The market of the last tick."""
        return self.live.snapshot

    def _require_health(self) -> BookHealth:
        if self.health is None:
            raise SolventInputError("engine", "no tick yet: the engine has not margined the book")
        return self.health

    def account_state(self, account: str) -> AccountState:
        """The margin unit of ``account`` as of the last tick."""
        health = self._require_health()
        grouped = health.grouped
        self.accounts.index(account)  # an unknown account raises naming it
        i = self._account_row(grouped, account)
        g = int(grouped.groups.group_of[i])
        model = grouped.models[g]
        return AccountState(
            account=grouped.book.accounts[g],
            members=tuple(grouped.accounts.accounts[m] for m in grouped.groups.members(g).tolist()),
            health=assess(
                float(health.equity_usd[g]),
                health.collateral_value_usd(g),
                float(health.initial_margin_usd[g]),
                float(health.maintenance_margin_usd[g]),
            ),
            model=model,
            multiplier=self._multipliers[model].current(),
            tick=self.tick_count,
            as_of=self.live.time,
        )

    _account_rows: tuple[int, dict[str, int]] | None = None

    def _account_row(self, grouped: GroupedBook, account: str) -> int:
        """Row of ``account`` in ``grouped``'s accounts (it must have been there at that tick)."""
        if self._account_rows is None or self._account_rows[0] != id(grouped):
            self._account_rows = (
                id(grouped),
                {a: i for i, a in enumerate(grouped.accounts.accounts)},
            )
        row = self._account_rows[1].get(account)
        if row is None:
            raise SolventInputError("account", f"{account!r} is new since the last tick")
        return row

    def what_if(self, account: str, orders: Sequence[Order]) -> CheckResult:
        """Would ``orders`` (filled at the mark, no fee) keep ``account``'s margin unit at or above
        its initial margin (multiplier in force)? Answered from :attr:`what_if_state` (the
        prepared state of the last tick, every account change since applied): nothing is
        written, no tick awaited, safe while a tick runs on the worker."""
        state = self.what_if_state
        if state is None:
            raise SolventInputError("engine", "no tick yet: the engine has not margined the book")
        return state.check(account, orders)

    def _publish_what_if(self) -> None:
        """Build the :class:`WhatIfState` of the last tick and the accounts as they are now, and
        swap it in (one assignment: a reader sees the previous state or this one)."""
        health = self.health
        if health is None:
            return
        grouped = self.accounts.grouped()
        priced = health.priced
        version = self.live.version
        models = {}
        for name in sorted(set(grouped.models)):
            runtime = self._runtime(name)
            models[name] = PreparedModel(
                name, runtime.model, runtime.params, runtime.prepared(priced, version)
            )
        previous = self.what_if_state
        state = WhatIfState(
            tick=self.tick_count,
            as_of=self.live.time,
            market_version=version,
            book_version=self.accounts.version,
            snapshot=self.live.snapshot,
            priced=priced,
            grouped=grouped,
            rows=WhatIfState.account_rows(grouped, previous),
            models=MappingProxyType(models),
            multipliers=MappingProxyType(self.multipliers()),
        )
        state.carry_extended(previous)
        self.what_if_state = state

    def state(self) -> EngineState:
        """Counts by health state, multipliers, latency."""
        by_state = {s.value: 0 for s in STATES}
        if self.health is not None:
            counts = np.bincount(self.health.state_code.astype(np.intp), minlength=len(STATES))
            by_state = {s.value: int(counts[i]) for i, s in enumerate(STATES)}
        return EngineState(
            tick=self.tick_count,
            sequence=self.sequence,
            as_of=self.live.time,
            accounts=len(self.accounts),
            by_state=by_state,
            multipliers={m: v.value for m, v in self.multipliers().items()},
            latency_ms=self.latency.summary(),
            events=self.event_seq,
            faults=self.fault_count,
        )

    def metrics(self) -> dict[str, Any]:
        """``{"ticks", "events", "faults", "skipped", "accounts", "latency_ms": {stage: {"p50",
        "p99", "max"}}}`` (ms)."""
        return {
            "ticks": self.tick_count,
            "events": self.event_seq,
            "faults": self.fault_count,
            "skipped": self.skipped,
            "accounts": len(self.accounts),
            "latency_ms": self.latency.summary(),
        }


@dataclass(frozen=True, slots=True)
class _Figures:
    initial_margin_usd: float
    maintenance_margin_usd: float
