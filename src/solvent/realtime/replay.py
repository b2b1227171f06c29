"""Crash replay (FORMATS 10 ``solvent replay``): a book driven through the real-time engine.

:func:`replay` puts the book on the ledger (:mod:`.seed`; skipped when the ledger already holds
it: a replay killed midway resumes from its checkpoint), builds the engine on it, runs it over
the price path or the recorded feed, and summarizes: ticks, liquidations and bankruptcies, the
liquidation volume, slippage and fees, the insurance fund (start, end, lowest), ADL events,
socialized loss, tick-to-margin latency, and the ledger's audit. With ``report`` it also writes an
HTML page with PNG charts (:mod:`.report`).
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import numpy as np

from solvent.errors import SolventInputError
from solvent.executors import Executor
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.realtime.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from solvent.realtime.engine import EngineConfig, Liquidator, RealtimeEngine
from solvent.realtime.events import MarketEvent
from solvent.realtime.seed import seed_ledger, seeded
from solvent.realtime.sources import load_feed, load_path
from solvent.realtime.summary import ReplayResult

REPLAY_STREAM = "replay"
"""The checkpoint row of a replay (one replay per ledger database)."""

REPLAY_INPUTS = "replay:inputs"
"""A checkpoint row holding the fingerprint of the replay's inputs (:func:`inputs_fingerprint`):
resuming the ledger's replay with other inputs is refused instead of silently ignoring them."""

LiquidatorFactory = Callable[[Ledger], Liquidator]
"""``ledger -> liquidator`` (:func:`waterfall_liquidator` by default)."""


def waterfall_liquidator(policy: str = "partial") -> LiquidatorFactory:
    """The waterfall (``policy``: partial, full, auction), its outcomes booked on the ledger."""
    from solvent.realtime.liquidation import WaterfallLiquidator

    def make(ledger: Ledger) -> Liquidator:
        return WaterfallLiquidator(ledger, policy=policy)

    return make


Progress = Callable[[int, int], None]
"""``progress(consumed, total)``: market events consumed so far and the source's total."""


def _events(
    path: str | Path | None, feed: str | Path | None, market: MarketSnapshot
) -> list[MarketEvent]:
    """Every event of the path or the feed, read and checked before anything is written."""
    if (path is None) == (feed is None):
        raise SolventInputError("path", "give exactly one of --path and --feed")
    if path is not None:
        return list(load_path(path, market))
    assert feed is not None
    return load_feed(feed)


async def _source(
    events: list[MarketEvent], progress: Progress | None
) -> AsyncIterator[MarketEvent]:
    total = len(events)
    for consumed, event in enumerate(events, start=1):
        yield event
        if progress is not None:
            progress(consumed, total)


def replay(
    book: AccountBook,
    market: MarketSnapshot,
    *,
    path: str | Path | None = None,
    feed: str | Path | None = None,
    model: str = "standard",
    params: str | None = None,
    db: str | None = None,
    report: str | Path | None = None,
    insurance_fund_usd: float = 0.0,
    liquidator: LiquidatorFactory | None = None,
    config: EngineConfig | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> ReplayResult:
    """Replay ``book`` on ``market`` along ``path`` or ``feed`` (see the module docstring).
    ``db``: an SQLAlchemy URL (default: a new temporary SQLite file, deleted afterwards);
    ``progress``: told after each market event (consumed, total); ``executor``: where each
    tick's whole-book margin runs (None: this process)."""
    events = _events(path, feed, market)
    fingerprint = inputs_fingerprint(book, events, model, params, insurance_fund_usd)
    source = _source(events, progress)
    folder: Path | None = None
    if db is None:
        folder = Path(tempfile.mkdtemp(prefix="solvent-replay-"))
        db = f"sqlite:///{folder / 'replay.db'}"
    try:
        return _run(
            book,
            market,
            source,
            model,
            params,
            db,
            report,
            insurance_fund_usd,
            liquidator,
            config,
            temporary=folder is not None,
            executor=executor,
            fingerprint=fingerprint,
        )
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _run(
    book: AccountBook,
    market: MarketSnapshot,
    source: AsyncIterator[MarketEvent],
    model: str,
    params: str | None,
    db: str,
    report: str | Path | None,
    insurance_fund_usd: float,
    liquidator: LiquidatorFactory | None,
    config: EngineConfig | None,
    *,
    temporary: bool,
    executor: Executor | None = None,
    fingerprint: str = "",
) -> ReplayResult:
    ledger = Ledger.open(db)
    try:
        if not seeded(ledger, book):
            seed_ledger(ledger, book, market, model, insurance_fund_usd=insurance_fund_usd)
        _same_inputs(ledger, fingerprint)
        base = config or EngineConfig()
        engine_config = EngineConfig(
            model=model,
            params=params,
            coalesce_ms=base.coalesce_ms,
            flush_ms=base.flush_ms,
            market=base.market,
            dynamic=base.dynamic,
            stream=REPLAY_STREAM,
            checkpoint_every=base.checkpoint_every,
            max_market_age_s=base.max_market_age_s,
        )
        engine = RealtimeEngine.from_ledger(
            ledger,
            market,
            engine_config,
            liquidator=None if liquidator is None else liquidator(ledger),
            executor=executor,
        )
        start_fund = engine.insurance_fund_usd()
        try:
            asyncio.run(engine.run(source))
        finally:
            engine.close()
        audit = ledger.audit()
        history = engine.history
        funds = [start_fund, *(h["insurance_fund_usd"] for h in history)]
        totals = engine.totals
        latency = engine.latency.tick_to_margin()
        written: Path | None = None
        result = ReplayResult(
            steps=engine.tick_count,
            accounts=len(book),
            liquidated=int(totals.get("liquidated", 0.0)),
            bankrupt=int(totals.get("bankrupt", 0.0)),
            volume_usd=float(totals.get("volume_usd", 0.0)),
            slippage_usd=float(totals.get("slippage_usd", 0.0)),
            fees_usd=float(totals.get("fees_usd", 0.0)),
            insurance_fund_start_usd=float(start_fund),
            insurance_fund_end_usd=float(funds[-1]),
            insurance_fund_min_usd=float(min(funds)),
            adl_events=int(totals.get("adl_events", 0.0)),
            socialized_loss_usd=float(totals.get("socialized_loss_usd", 0.0)),
            latency_p50_ms=float(latency["p50"]),
            latency_p99_ms=float(latency["p99"]),
            audit=audit,
            report=None,
            db=None if temporary else db,
            faults=engine.fault_count,
            metrics=engine.metrics(),
            history=history,
        )
        if report is not None:
            from solvent.realtime.report import write_report

            written = write_report(result, Path(report))
            result = _with_report(result, written)
        return result
    finally:
        ledger.close()


def inputs_fingerprint(
    book: AccountBook,
    events: Sequence[MarketEvent],
    model: str,
    params: str | None,
    insurance_fund_usd: float,
) -> str:
    """SHA-256 (hex) of what a replay's outcome depends on besides the market: the book (its
    accounts, collateral and positions), every market event of the path or feed, the model, its
    parameters and the starting insurance fund."""
    digest = hashlib.sha256()
    digest.update(repr((model, params, float(insurance_fund_usd))).encode())
    digest.update(repr((book.accounts, book.parent_id, book.assets, book.instruments)).encode())
    for column in (book.collateral, book.position_account, book.position_instrument):
        digest.update(np.ascontiguousarray(column).tobytes())
    digest.update(np.ascontiguousarray(book.position_quantity).tobytes())
    if book.position_entry_price is not None:
        digest.update(np.ascontiguousarray(book.position_entry_price).tobytes())
    for event in events:
        digest.update(repr(event).encode())
    return digest.hexdigest()


def _same_inputs(ledger: Ledger, fingerprint: str) -> None:
    """Record ``fingerprint`` with the ledger's replay, or refuse a ledger whose replay ran on
    other inputs (resuming it would skip the new path's first events as already applied and
    report the old run). A ledger replayed before fingerprints were kept takes this one."""
    held = load_checkpoint(ledger, REPLAY_INPUTS)
    if held is None:
        with ledger.transaction() as tx:
            save_checkpoint(tx, Checkpoint(REPLAY_INPUTS, 0, 0, 0, {"sha256": fingerprint}), ())
        return
    if held.state.get("sha256") != fingerprint:
        raise SolventInputError(
            "db",
            "this ledger holds a replay of other inputs (the book, --path or --feed, --model, "
            "--params or --insurance-fund differ): give a new --db, or the same inputs to resume",
        )


def _with_report(result: ReplayResult, path: Path) -> ReplayResult:
    from dataclasses import replace

    return replace(result, report=path)
