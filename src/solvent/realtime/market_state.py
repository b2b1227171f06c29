"""The live market: market events in, one moved :class:`MarketSnapshot` per tick out.

The engine starts from a base snapshot (``--market``: the instruments' terms, marks, mark IVs,
forwards) and moves it with what the feeds say. Per tick, in this order:

1. **index**: a price path's row is the index itself (decided upstream: published as is, after
   the same validation as any index price). Venue quotes go through the oracle
   (:func:`solvent.market.oracle.update_oracle`): the latest quote of every stream of the asset,
   the stale, future-stamped, invalid and outlying ones excluded, the weighted median, then the
   circuit breaker. When the oracle cannot publish (too few fresh sources) or its breaker holds
   the move, the previous index is kept and a ``index_held`` fault says why: never a zero price.
   A recorded feed moves the market by its *relative* moves: the market's index of an asset is
   ``base index x feed index / feed index at its first publication`` (a 2024 Binance feed then
   drives a 2026 chain).
2. **surface** (only when the chain moved: option IV updates arrived; at most once per
   ``surface_refit_s`` of feed time): the new IVs replace the base's, one SVI surface is fitted
   per underlying whose IVs arrived (:func:`solvent.market.surface_marks.fit_snapshot_surfaces`)
   and that underlying's options are re-marked from it (:func:`refit_surfaces`; the other
   underlyings' options are left as they are).
3. **marks**: the base is moved to the new index (:func:`solvent.market.moves.move_underlyings`:
   index, futures and perpetual marks and option forwards scale with it, options keep their IV:
   sticky strike); then every perpetual of an asset whose venue perpetuals quote (a
   :class:`VenueQuote` with ``perpetual=True``) is marked as index + basis
   (:mod:`solvent.market.marks`): the basis observed is the median mid of the asset's fresh
   perpetual touches minus the median mid of its fresh spot touches (the feed's published
   index when no spot venue is fresh), put on the market's scale (``x base index / feed index
   at its first publication``, as the index); its time-aware EMA
   (``MarketConfig.marks.half_life_s``) is added to the market's index and the mark clamped to
   ``perpetual_band`` around it. A price path (no venue quote) leaves the perpetuals moving
   with the index. The market is then resolved for the book's instruments
   (:class:`PricedMarket`).

Time: the market's clock is ``base.as_of + (feed time - feed time of the first event)``; the
instruments' times to expiry stay those of the base (a replay spans minutes to days; a venue's
chain updates carry the time on). Everything is a function of the events (never of the wall
clock), so a replay is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np

from solvent.errors import SolventInputError, StaleDataError
from solvent.instruments.terms import InstrumentKind
from solvent.margin.protocol import PricedMarket
from solvent.market import oracle
from solvent.market.marks import MarkConfig, MarkKind, MarkState, clamp_marks
from solvent.market.moves import move_underlyings, restrict
from solvent.market.oracle import (
    ExclusionReason,
    IndexStatus,
    InvalidQuotePolicy,
    OracleConfig,
    OracleState,
)
from solvent.market.snapshot import INDEX_BOUNDS, MarketSnapshot
from solvent.market.surface_marks import fit_snapshot_surfaces, mark_options_from_surfaces
from solvent.pricing.black76 import black76_price
from solvent.realtime.events import (
    ChainUpdate,
    FaultKind,
    FeedFault,
    IndexPrices,
    MarketEvent,
    TradePrint,
    VenueQuote,
)
from solvent.realtime.latency import TickStage, TickTimer
from solvent.validation import iso_utc

FEED_ORACLE = OracleConfig(max_age_s=10.0, min_sources=2, invalid_quotes=InvalidQuotePolicy.EXCLUDE)
"""The oracle of a feed replay: a quote older than 10 s is stale, two fresh venues make an
index (the shipped recording has three), a bad price excludes its venue instead of failing."""

_REASON_FAULT = {
    ExclusionReason.STALE: FaultKind.STALE,
    ExclusionReason.FUTURE: FaultKind.OUT_OF_ORDER,
    ExclusionReason.INVALID: FaultKind.INVALID,
    ExclusionReason.OUTLIER: FaultKind.OUTLIER,
}


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """The live market's parameters."""

    oracle: OracleConfig = FEED_ORACLE
    surface_refit_s: float = 5.0
    """Least feed time between two vol-surface refits (seconds)."""
    perpetual_basis: bool = True
    """Mark perpetuals as index + the basis of the venue perpetuals' quotes (module docstring);
    ``False``: perpetual marks move with the index only."""
    marks: MarkConfig = field(default_factory=MarkConfig)
    """Basis EMA half-life and clamp bands of the perpetuals' marks."""


@dataclass(frozen=True, slots=True)
class MarketTick:
    """The market of one tick: ``time`` (market clock), the moved ``snapshot`` and its
    ``priced`` form for the book's instruments, the index per asset (USD), which underlyings moved,
    whether the surfaces were refitted, and the faults found on the way."""

    time: datetime
    snapshot: MarketSnapshot
    priced: PricedMarket
    index: Mapping[str, float]
    moved: frozenset[str]
    refit: bool
    faults: tuple[FeedFault, ...] = field(default_factory=tuple)


class LiveMarket:
    """The market moved by events (see the module docstring). Mutable; one per engine."""

    def __init__(self, base: MarketSnapshot, config: MarketConfig | None = None) -> None:
        self.config = config or MarketConfig()
        self._base = base
        self.index: dict[str, float] = dict(base.index)
        """The market index (USD) per asset, as last published."""
        self._origin: datetime | None = None
        self._feed_time: datetime | None = None
        self._anchor: dict[str, float] = {}
        self._oracle: dict[str, OracleState] = {}
        self._quotes: dict[tuple[str, str], VenueQuote] = {}
        self._excluded: dict[str, frozenset[tuple[str, str]]] = {}
        self._held: dict[str, str] = {}
        self._pending_path: dict[str, float] = {}
        self._pending_iv: dict[str, float] = {}
        self._iv_overrides: dict[str, float] = {}
        self._quoted_assets: set[str] = set()
        self._last_refit_s: float | None = None
        self._refit_due = False
        self._snapshot: MarketSnapshot = base
        self._priced: PricedMarket | None = None
        self._moved_version = 0
        self._priced_key: tuple[int, tuple[str, ...]] | None = None
        self.last_trade: dict[tuple[str, str], TradePrint] = {}
        perps = sorted(
            n for n, q in base.quotes.items() if q.instrument.kind is InstrumentKind.PERPETUAL
        )
        self._basis = MarkState.initial(perps, [MarkKind.PERPETUAL] * len(perps), self.config.marks)
        self._perp_underlying = tuple(base.quotes[n].instrument.underlying for n in perps)
        self.perpetual_marks: dict[str, float] = {}
        """The perpetuals marked from their basis (USD per unit), as of the last tick."""

    # --- reads ---------------------------------------------------------------------------------

    @property
    def base(self) -> MarketSnapshot:
        """The snapshot the market moves from (its IVs include every applied chain update)."""
        return self._base

    @property
    def snapshot(self) -> MarketSnapshot:
        """The market as of the last tick."""
        return self._snapshot

    @property
    def version(self) -> int:
        """Increases whenever the snapshot moves (prepared models are cached per version)."""
        return self._moved_version

    @property
    def time(self) -> datetime:
        """The market clock (``base.as_of`` until the first event)."""
        if self._origin is None or self._feed_time is None:
            return self._base.as_of
        return self._base.as_of + (self._feed_time - self._origin)

    # --- events --------------------------------------------------------------------------------

    def add(self, event: MarketEvent) -> None:
        """Take one event into the next tick (no computation)."""
        if self._origin is None:
            self._origin = event.time
        if self._feed_time is None or event.time > self._feed_time:
            self._feed_time = event.time
        if isinstance(event, IndexPrices):
            self._pending_path.update(event.prices)
        elif isinstance(event, VenueQuote):
            self._quotes[(event.asset, event.stream)] = event
            self._quoted_assets.add(event.asset)
        elif isinstance(event, ChainUpdate):
            self._pending_iv.update(event.mark_iv)
            self._refit_due = True
        elif isinstance(event, TradePrint):
            self.last_trade[(event.asset, event.stream)] = event
        elif isinstance(event, FeedFault) and event.withdrawn:
            for key in [k for k in self._quotes if k[1] == event.stream]:
                del self._quotes[key]

    # --- the tick ------------------------------------------------------------------------------

    def tick(self, timer: TickTimer, instruments: Sequence[str]) -> MarketTick:
        """Run the index, surface and marks stages over the events added since the last tick."""
        faults: list[FeedFault] = []
        with timer(TickStage.INDEX):
            moved = self._index_stage(faults)
        refit = False
        with timer(TickStage.SURFACE):
            if self._refit_due and self._refit_allowed():
                self._surface_stage()
                refit = True
        with timer(TickStage.MARKS):
            basis_moved = self._basis_stage()
            if moved or refit or basis_moved:
                self._snapshot = self._moved_snapshot()
                self._moved_version += 1
            key = (self._moved_version, tuple(instruments))
            if self._priced is None or self._priced_key != key:
                self._priced = PricedMarket.resolve(self._snapshot, instruments)
                self._priced_key = key
        return MarketTick(
            time=self.time,
            snapshot=self._snapshot,
            priced=self._priced,
            index=MappingProxyType(dict(self.index)),
            moved=frozenset(moved),
            refit=refit,
            faults=tuple(faults),
        )

    def _moved_snapshot(self) -> MarketSnapshot:
        """The base moved to the index, perpetuals at their basis marks."""
        moved = {a: self.index[a] for a in sorted(self._moved_assets())}
        snapshot = move_underlyings(self._base, moved) if moved else self._base
        return with_perpetual_marks(snapshot, self.perpetual_marks)

    def _basis_stage(self) -> bool:
        """Observe the venue perpetuals' basis (module docstring, marks); whether a perpetual's
        mark changed."""
        time = self._feed_time
        if not self.config.perpetual_basis or not self._basis.instruments or time is None:
            return False
        fair_of: dict[str, float] = {}
        for asset in sorted({a for (a, _), q in self._quotes.items() if q.perpetual}):
            if asset in self._held or asset not in self._anchor:
                continue  # no index published now to measure a basis against
            perp = self._fresh_mids(asset, perpetual=True)
            if not perp:
                continue
            spot = self._fresh_mids(asset, perpetual=False)
            # the reference: the spot venues' median mid, else the feed's published index
            reference = float(np.median(spot)) if spot else self._anchor_reference(asset)
            scale = self._base.index[asset] / self._anchor[asset]
            fair_of[asset] = self.index[asset] + (float(np.median(perp)) - reference) * scale
        if not fair_of:  # no fresh perpetual quote: the basis holds, the marks follow the index
            return self._apply_basis()
        index = np.array([self.index[a] for a in self._perp_underlying], dtype=np.float64)
        fair = np.array([fair_of.get(a, np.nan) for a in self._perp_underlying], dtype=np.float64)
        self._basis = self._basis.update(time, index, fair)
        return self._apply_basis()

    def _fresh_mids(self, asset: str, *, perpetual: bool) -> list[float]:
        """Mids (USD, feed scale) of ``asset``'s perpetual (or spot) venues whose last touch is
        fresh (at most the oracle's ``max_age_s`` old), finite and uncrossed."""
        time = self._feed_time
        assert time is not None
        max_age = self.config.oracle.max_age_s
        return [
            q.mid
            for (a, _), q in sorted(self._quotes.items())
            if a == asset
            and q.perpetual is perpetual
            and 0.0 <= (time - q.time).total_seconds() <= max_age
            and np.isfinite(q.bid)
            and np.isfinite(q.ask)
            and 0.0 < q.bid < q.ask
        ]

    def _anchor_reference(self, asset: str) -> float:
        """The feed's published index of ``asset`` (feed scale): the market's index back on the
        feed's scale."""
        return self.index[asset] * self._anchor[asset] / self._base.index[asset]

    def _apply_basis(self) -> bool:
        """Perpetual marks from the basis EMAs at the current index; whether any changed."""
        state = self._basis
        observed = np.flatnonzero(~np.isnan(state.basis_ema))
        index = np.array([self.index[self._perp_underlying[k]] for k in observed.tolist()])
        marks = clamp_marks(index, state.basis_ema[observed], state.bands[observed])
        new = {
            state.instruments[k]: float(m) for k, m in zip(observed.tolist(), marks, strict=True)
        }
        changed = new != self.perpetual_marks
        self.perpetual_marks = new
        return changed

    def _moved_assets(self) -> set[str]:
        return {a for a, p in self.index.items() if self._base.index.get(a) != p}

    def _index_stage(self, faults: list[FeedFault]) -> set[str]:
        moved: set[str] = set()
        time = self._feed_time
        for asset, price in sorted(self._pending_path.items()):
            if asset not in self._base.index:
                continue  # the path prices an asset the market has no instrument on
            lo, hi = INDEX_BOUNDS
            if not (np.isfinite(price) and lo <= price <= hi):
                assert time is not None
                faults.append(
                    FeedFault(
                        0,
                        time,
                        "path",
                        FaultKind.INDEX_HELD,
                        f"{asset}: index {price!r} refused; {self.index[asset]:.10g} kept",
                    )
                )
                continue
            if price != self.index[asset]:
                self.index[asset] = float(price)
                moved.add(asset)
        self._pending_path.clear()
        for asset in sorted(self._quoted_assets & set(self._base.index)):
            published = self._oracle_update(asset, faults)
            if published is not None:
                if asset not in self._anchor:
                    self._anchor[asset] = published
                price = self._base.index[asset] * published / self._anchor[asset]
                if price != self.index[asset]:
                    self.index[asset] = price
                    moved.add(asset)
        return moved

    def _oracle_update(self, asset: str, faults: list[FeedFault]) -> float | None:
        """The oracle's published feed index of ``asset``, or ``None`` (held: a fault says why)."""
        time = self._feed_time
        assert time is not None
        quotes = [q for (a, _), q in sorted(self._quotes.items()) if a == asset]
        venue = [oracle.VenueQuote(q.stream, q.mid, q.time.timestamp(), 1.0) for q in quotes]
        state = self._oracle.get(asset, OracleState())
        try:
            result = oracle.update_oracle(state, venue, time, self.config.oracle)
        except StaleDataError as exc:
            limit = self.config.oracle.max_age_s
            stale = frozenset(
                (q.stream, ExclusionReason.STALE.value)
                for q in quotes
                if (time - q.time).total_seconds() > limit
            )
            self._note_exclusions(asset, stale, faults, time)
            self._hold(
                asset,
                "sources",
                f"{exc.message}; index kept at {self.index[asset]:.10g}",
                faults,
                time,
            )
            return None
        self._note_exclusions(
            asset, frozenset((e.source, e.reason.value) for e in result.excluded), faults, time
        )
        self._oracle[asset] = result.state
        if result.status is IndexStatus.TRIPPED:
            self._hold(asset, "breaker", str(result.breaker), faults, time)
            return None
        self._held.pop(asset, None)
        return float(result.price)

    def _hold(
        self, asset: str, why: str, detail: str, faults: list[FeedFault], time: datetime
    ) -> None:
        """The index of ``asset`` is held: a fault when it starts being held (or for another
        reason), not on every tick while it stays held."""
        if self._held.get(asset) != why:
            faults.append(FeedFault(0, time, f"oracle:{asset}", FaultKind.INDEX_HELD, detail))
        self._held[asset] = why

    def _note_exclusions(
        self,
        asset: str,
        excluded: frozenset[tuple[str, str]],
        faults: list[FeedFault],
        time: datetime,
    ) -> None:
        """A fault when a source leaves the index (and none while it stays out)."""
        before = self._excluded.get(asset, frozenset())
        for source, reason in sorted(excluded - before):
            kind = _REASON_FAULT[ExclusionReason(reason)]
            faults.append(
                FeedFault(
                    0, time, source, kind, f"{asset}: {source} left out of the index ({reason})"
                )
            )
        self._excluded[asset] = excluded

    def _refit_allowed(self) -> bool:
        now = self._feed_time.timestamp() if self._feed_time is not None else 0.0
        return self._last_refit_s is None or now - self._last_refit_s >= self.config.surface_refit_s

    def _surface_stage(self) -> None:
        self._iv_overrides.update(self._pending_iv)
        underlyings = option_underlyings(self._base, self._pending_iv)
        self._pending_iv.clear()
        self._base = refit_surfaces(self._base, self._iv_overrides, underlyings)
        self._last_refit_s = self._feed_time.timestamp() if self._feed_time is not None else 0.0
        self._refit_due = False

    # --- checkpoints -----------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint: enough to rebuild the same market from the base."""
        return {
            "index": dict(sorted(self.index.items())),
            "origin": None if self._origin is None else iso_utc(self._origin),
            "feed_time": None if self._feed_time is None else iso_utc(self._feed_time),
            "anchor": dict(sorted(self._anchor.items())),
            "oracle": {
                a: [
                    s.price,
                    s.published_at_s,
                    s.last_update_s,
                    s.pending_direction,
                    s.pending_count,
                ]
                for a, s in sorted(self._oracle.items())
            },
            "iv_overrides": dict(sorted(self._iv_overrides.items())),
            "last_refit_s": self._last_refit_s,
            "basis": {
                n: [float(e), float(t)]
                for n, e, t in zip(
                    self._basis.instruments,
                    self._basis.basis_ema,
                    self._basis.observed_at_s,
                    strict=True,
                )
                if not np.isnan(e)
            },
        }

    def restore(self, raw: Mapping[str, Any]) -> None:
        """Back to a checkpointed state (:meth:`to_state`), market moved to its index."""
        self.index = {str(a): float(p) for a, p in raw["index"].items()}
        self._origin = None if raw["origin"] is None else _parse_time(raw["origin"])
        self._feed_time = None if raw["feed_time"] is None else _parse_time(raw["feed_time"])
        self._anchor = {str(a): float(p) for a, p in raw["anchor"].items()}
        self._oracle = {
            str(a): OracleState(v[0], v[1], v[2], int(v[3]), int(v[4]))
            for a, v in raw["oracle"].items()
        }
        self._iv_overrides = {str(n): float(v) for n, v in raw["iv_overrides"].items()}
        self._last_refit_s = raw["last_refit_s"]
        if self._iv_overrides:
            underlyings = option_underlyings(self._base, self._iv_overrides)
            self._base = refit_surfaces(self._base, self._iv_overrides, underlyings)
        basis = raw.get("basis", {})  # absent from checkpoints written before the basis
        state = self._basis
        self._basis = replace(
            state,
            basis_ema=np.array([basis.get(n, [np.nan])[0] for n in state.instruments], np.float64),
            observed_at_s=np.array(
                [basis[n][1] if n in basis else np.nan for n in state.instruments], np.float64
            ),
        )
        self.perpetual_marks = {}
        self._apply_basis()
        self._snapshot = self._moved_snapshot()
        self._moved_version += 1
        self._priced = None


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def option_underlyings(snapshot: MarketSnapshot, names: Mapping[str, float]) -> frozenset[str]:
    """Underlyings of the options of ``snapshot`` named in ``names`` (others ignored)."""
    quotes = snapshot.quotes
    return frozenset(
        quotes[n].instrument.underlying
        for n in names
        if n in quotes and quotes[n].instrument.is_option
    )


def refit_surfaces(
    snapshot: MarketSnapshot, ivs: Mapping[str, float], underlyings: frozenset[str]
) -> MarketSnapshot:
    """``snapshot`` with the surfaces of ``underlyings`` refitted: their options named in
    ``ivs`` at those IVs (:func:`with_mark_ivs`), one SVI surface fitted per underlying to its
    options, and every option of these underlyings re-marked from it. Other underlyings'
    options are left as they are (a chain update of BTC does not re-mark ETH)."""
    if not underlyings:
        return snapshot
    mine = {
        n: v
        for n, v in ivs.items()
        if n in snapshot.quotes and snapshot.quotes[n].instrument.underlying in underlyings
    }
    with_ivs = with_mark_ivs(snapshot, mine)
    chain = [
        n
        for n, q in with_ivs.quotes.items()
        if q.instrument.is_option and q.instrument.underlying in underlyings
    ]
    fits = fit_snapshot_surfaces(restrict(with_ivs, chain))
    return mark_options_from_surfaces(with_ivs, {u: f.surface for u, f in fits.items()})


def with_perpetual_marks(snapshot: MarketSnapshot, marks: Mapping[str, float]) -> MarketSnapshot:
    """``snapshot`` with the perpetuals named in ``marks`` at those marks (USD per unit; a
    perpetual's forward is its mark); names not quoted are ignored."""
    names = [n for n in marks if n in snapshot.quotes]
    if not names:
        return snapshot
    quotes = dict(snapshot.quotes)
    for name in names:
        quotes[name] = replace(quotes[name], mark_price=marks[name], forward=marks[name])
    return replace(snapshot, quotes=MappingProxyType(quotes))


def with_mark_ivs(snapshot: MarketSnapshot, ivs: Mapping[str, float]) -> MarketSnapshot:
    """``snapshot`` with the options named in ``ivs`` at those mark IVs (decimals), premiums
    recomputed with Black-76 on the same forward; names not quoted are ignored, a non-finite or
    non-positive vol is refused naming the instrument."""
    names = [n for n in ivs if n in snapshot.quotes and snapshot.quotes[n].instrument.is_option]
    if not names:
        return snapshot
    vol = np.array([ivs[n] for n in names], dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(vol) & (vol > 0.0)))
    if bad.size:
        raise SolventInputError(f"mark_iv.{names[int(bad[0])]}", "must be finite and > 0")
    table = snapshot.table(names)
    cols = snapshot.columns(table)
    usd = black76_price(cols.forward, table.strike, cols.time, vol, table.is_call, cols.discount)
    mark = np.where(table.is_inverse, usd / cols.forward, usd)
    quotes = dict(snapshot.quotes)
    for i, name in enumerate(names):
        quotes[name] = replace(quotes[name], mark_iv=float(vol[i]), mark_price=float(mark[i]))
    return replace(snapshot, quotes=MappingProxyType(quotes))
