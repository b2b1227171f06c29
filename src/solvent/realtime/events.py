"""Market events the real-time engine consumes, and the events it emits.

Market events (in): every event carries the ``stream`` it came from (a venue's channel, e.g.
``binance-usdm:BTCUSDT`` or ``path``), its sequence number ``seq`` in the engine's input order
(strictly increasing over everything the engine is fed; persisted with the state it produced, so
no event is applied twice after a restart) and its feed ``time`` (an aware UTC datetime: the
venue's event time, never the wall clock of the process that reads it).

- :class:`IndexPrices`: USD index prices decided upstream (a price path, FORMATS 10 ``--path``).
- :class:`VenueQuote`: one venue's current best bid/ask of an asset (from its live order book or
  its book ticker) in USD per unit; what the oracle aggregates. A perpetual venue's quote
  (``perpetual=True``) also gives the perpetual's basis.
- :class:`TradePrint`: a trade on a venue (USD price, size in coin).
- :class:`ChainUpdate`: option mark IVs (decimal vols) by instrument name.
- :class:`FeedFault`: something wrong with a feed (a sequence gap, a duplicate, a message out of
  order, a crossed book, a NaN price): detected by the source, logged and handled as documented
  in docs/engine.md; it reaches the engine so that it is counted and published.

Engine events (out): :class:`EngineEvent` (health changes, margin calls, liquidations, multiplier
changes, feed faults), numbered by the engine in the order it emits them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from solvent.validation import iso_utc


@dataclass(frozen=True, slots=True)
class IndexPrices:
    """USD index prices of assets at ``time`` (a price path's row)."""

    seq: int
    time: datetime
    stream: str
    prices: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class VenueQuote:
    """A venue's touch for ``asset``: best bid and ask (USD per unit), sizes in coin."""

    seq: int
    time: datetime
    stream: str
    asset: str
    bid: float
    ask: float
    perpetual: bool = False
    """The touch of a perpetual swap on ``asset`` (its venue price feeds the perpetual's basis,
    docs/engine.md), not of the spot asset."""

    @property
    def mid(self) -> float:
        """(bid + ask) / 2, USD."""
        return 0.5 * (self.bid + self.ask)


@dataclass(frozen=True, slots=True)
class TradePrint:
    """A trade on a venue: ``price`` USD per unit, ``size`` in coin (> 0)."""

    seq: int
    time: datetime
    stream: str
    asset: str
    price: float
    size: float


@dataclass(frozen=True, slots=True)
class ChainUpdate:
    """New mark IVs (decimals) of options, by instrument name."""

    seq: int
    time: datetime
    stream: str
    mark_iv: Mapping[str, float]


class FaultKind(StrEnum):
    """What went wrong with a feed (docs/engine.md, "Feed faults")."""

    GAP = "gap"
    """A sequence gap in a venue's diff stream: its book is dropped until resynced."""
    DUPLICATE = "duplicate"
    """A message already applied (same or older sequence): ignored."""
    OUT_OF_ORDER = "out_of_order"
    """A message stamped before the previous one of its stream: ignored."""
    STALE = "stale"
    """A venue's quote older than the oracle's ``max_age_s``: excluded from the index."""
    CROSSED = "crossed"
    """A book whose best bid >= best ask: its quote is withheld."""
    INVALID = "invalid"
    """A NaN, infinite or non-positive price or size: the message is dropped (or, in the
    oracle, the venue excluded)."""
    OUTLIER = "outlier"
    """A venue's quote too far from the others' median: excluded from the index."""
    RESYNC = "resync"
    """A venue's book rebuilt from a new snapshot after a gap."""
    INDEX_HELD = "index_held"
    """The oracle could not publish (too few fresh sources, or its circuit breaker tripped): the
    previous index is kept, never a zero price."""


@dataclass(frozen=True, slots=True)
class FeedFault:
    """A fault detected on ``stream`` and how it was handled (``detail``)."""

    seq: int
    time: datetime
    stream: str
    kind: FaultKind
    detail: str
    withdrawn: bool = False
    """The venue's book can no longer be trusted: its last touch leaves the oracle now."""


MarketEvent = IndexPrices | VenueQuote | TradePrint | ChainUpdate | FeedFault
"""Everything a source yields to the engine."""


class EventKind(StrEnum):
    """Kinds of :class:`EngineEvent`."""

    HEALTH = "health"
    """A margin unit moved between health states."""
    MARGIN_CALL = "margin_call"
    """A unit fell below its initial margin (but not its maintenance margin)."""
    LIQUIDATION = "liquidation"
    """A unit fell below its maintenance margin and was handed to liquidation (or liquidated)."""
    MULTIPLIER = "multiplier"
    """A model's dynamic margin multiplier changed."""
    FEED_FAULT = "feed_fault"
    """A feed fault (see :class:`FaultKind`)."""


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One thing the engine published: ``seq`` numbers them in emission order (from 1); ``tick``
    is the tick that produced it; ``account`` the margin unit's top account (``None`` for a
    market-wide event); ``detail`` a JSON-ready mapping (docs/engine.md lists its fields)."""

    seq: int
    tick: int
    time: datetime
    kind: EventKind
    account: str | None
    detail: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, Any]:
        """``{"seq", "tick", "time", "kind", "account", "detail"}``."""
        return {
            "seq": self.seq,
            "tick": self.tick,
            "time": iso_utc(self.time),
            "kind": self.kind.value,
            "account": self.account,
            "detail": dict(self.detail),
        }
