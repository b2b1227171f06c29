"""A venue's order book rebuilt live: a full-depth snapshot, then diffs, with sequence checks.

Binance's documented procedure ("How to manage a local order book correctly"), which most venues
share in substance:

- diffs received before the snapshot are buffered; those the snapshot already contains
  (final update id ``u`` <= the snapshot's ``lastUpdateId``) are dropped;
- the first diff applied must straddle the snapshot: spot ``U <= lastUpdateId + 1 <= u``,
  futures ``U <= lastUpdateId <= u``;
- every later diff must follow the previous one: spot ``U == previous u + 1``, futures
  ``pu == previous u``. Anything else is a **gap**: the book is dropped (it would be wrong
  silently) and stays out until a new snapshot resyncs it;
- a diff whose ``u`` is not beyond the last applied one is a **duplicate** (ignored);
- a level with a NaN, infinite or negative price or size makes the diff **invalid**: the book can
  no longer be trusted and is dropped until a resync (like a gap);
- a book whose best bid >= best ask is **crossed**: its touch is withheld from the oracle until
  later diffs uncross it.

Prices in the venue's quote currency per unit (USD for USDT/USD pairs), sizes as the venue gives
them (coin, or contracts for coin-margined futures); levels with size 0 are deletions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class BookStatus(StrEnum):
    """Where a live book stands."""

    WAITING = "waiting"
    """No snapshot yet (diffs are buffered)."""
    SYNCED = "synced"
    """Snapshot and diffs applied in sequence: the touch is usable."""
    CROSSED = "crossed"
    """In sequence, but best bid >= best ask: the touch is withheld."""
    GAP = "gap"
    """A gap or an invalid diff: dropped until the next snapshot."""


class DiffResult(StrEnum):
    """What :meth:`LiveBook.apply_diff` did."""

    APPLIED = "applied"
    BUFFERED = "buffered"
    DUPLICATE = "duplicate"
    GAP = "gap"
    INVALID = "invalid"
    IGNORED = "ignored"
    """Received while the book waits for a resync."""


Level = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Diff:
    """One depth diff: first and final update ids ``U``/``u``, the previous final id ``pu``
    (futures only, else ``None``), and the changed levels (price, size; size 0 deletes)."""

    first: int
    last: int
    previous: int | None
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


def _valid(levels: Iterable[Level]) -> bool:
    return all(math.isfinite(p) and math.isfinite(s) and p > 0.0 and s >= 0.0 for p, s in levels)


class LiveBook:
    """One venue's book (see the module docstring); ``futures`` selects the futures sequence
    rule (``pu``) instead of spot's."""

    MAX_BUFFER = 10_000
    """Diffs kept while waiting for the first snapshot (the oldest are dropped beyond it)."""

    def __init__(self, futures: bool) -> None:
        self.futures = futures
        self.status = BookStatus.WAITING
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.last_update_id: int | None = None
        self._snapshot_id: int | None = None
        self._buffer: list[Diff] = []
        self._best_bid: float | None = None
        self._best_ask: float | None = None

    # --- snapshot ------------------------------------------------------------------------------

    def apply_snapshot(self, update_id: int, bids: Sequence[Level], asks: Sequence[Level]) -> bool:
        """Rebuild from a full-depth snapshot; returns False (book dropped) when it has an
        invalid level. Buffered diffs after it are applied."""
        if not (_valid(bids) and _valid(asks)):
            self._drop()
            return False
        self.bids = {p: s for p, s in bids if s > 0.0}
        self.asks = {p: s for p, s in asks if s > 0.0}
        self._best_bid = max(self.bids) if self.bids else None
        self._best_ask = min(self.asks) if self.asks else None
        self.last_update_id = update_id
        self._snapshot_id = update_id
        self.status = self._touch_status()
        pending, self._buffer = self._buffer, []
        for diff in pending:
            if diff.last > update_id and self.apply_diff(diff) in (
                DiffResult.GAP,
                DiffResult.INVALID,
            ):
                break
        return True

    # --- diffs ---------------------------------------------------------------------------------

    def apply_diff(self, diff: Diff) -> DiffResult:
        """Apply one diff under the sequence rules (see the module docstring)."""
        if self.status is BookStatus.WAITING:
            self._buffer.append(diff)
            if len(self._buffer) > self.MAX_BUFFER:
                self._buffer.pop(0)
            return DiffResult.BUFFERED
        if self.status is BookStatus.GAP:
            return DiffResult.IGNORED
        last = self.last_update_id
        assert last is not None
        if diff.last <= last:
            return DiffResult.DUPLICATE
        if self._snapshot_id == last:  # the first diff after the snapshot must straddle it
            in_sequence = (
                diff.first <= last <= diff.last
                if self.futures
                else diff.first <= last + 1 <= diff.last
            )
        elif self.futures and diff.previous is not None:
            in_sequence = diff.previous == last
        else:
            in_sequence = diff.first == last + 1
        if not in_sequence:
            self._drop()
            return DiffResult.GAP
        if not (_valid(diff.bids) and _valid(diff.asks)):
            self._drop()
            return DiffResult.INVALID
        self._update(self.bids, diff.bids, bid=True)
        self._update(self.asks, diff.asks, bid=False)
        self.last_update_id = diff.last
        self._snapshot_id = None
        self.status = self._touch_status()
        return DiffResult.APPLIED

    def _update(self, side: dict[float, float], levels: Sequence[Level], *, bid: bool) -> None:
        best = self._best_bid if bid else self._best_ask
        stale = False
        for price, size in levels:
            if size == 0.0:
                if side.pop(price, None) is not None and price == best:
                    stale = True
            else:
                side[price] = size
                if best is None or (price > best if bid else price < best):
                    best = price
                    stale = False
        if stale:
            best = (max(side) if bid else min(side)) if side else None
        if bid:
            self._best_bid = best
        else:
            self._best_ask = best

    def _touch_status(self) -> BookStatus:
        bid, ask = self._best_bid, self._best_ask
        if bid is not None and ask is not None and bid >= ask:
            return BookStatus.CROSSED
        return BookStatus.SYNCED

    def _drop(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self._best_bid = self._best_ask = None
        self.status = BookStatus.GAP

    # --- reads ---------------------------------------------------------------------------------

    def touch(self) -> tuple[float, float] | None:
        """(best bid, best ask) when the book is synced and not crossed, else ``None``."""
        if self.status is not BookStatus.SYNCED:
            return None
        if self._best_bid is None or self._best_ask is None:
            return None
        return self._best_bid, self._best_ask
