"""Binance market-data messages -> market events, through a live order book per venue.

One :class:`BinanceDecoder` per venue stream (a recorded file, or one WebSocket connection). It
reads the raw JSON messages of Binance's spot, USD-M and COIN-M streams, as recorded in
../shared/data/orderbook (and sent by the venue):

- a full-depth snapshot (``{"lastUpdateId", "bids", "asks"}``, the REST answer) rebuilds the
  book (:class:`~solvent.realtime.live_book.LiveBook`);
- ``depthUpdate`` diffs (``U``, ``u``, futures ``pu``) update it under the sequence rules; each
  applied diff yields the venue's touch as a :class:`~solvent.realtime.events.VenueQuote`;
- ``trade`` messages yield :class:`~solvent.realtime.events.TradePrint` (a repeated or older
  trade id is a duplicate / out of order, and dropped);
- ``bookTicker`` messages are not used: the index reads the book rebuilt from depth, whose
  sequence is checked (a ticker cannot reveal a gap).

Every anomaly yields a :class:`~solvent.realtime.events.FeedFault` saying what was done (see
:mod:`.live_book`). Events are built with ``seq = 0``: the source numbers them in the order it
hands them to the engine. The asset is read from the symbol (``BTCUSDT``, ``BTCUSD_PERP`` ->
``BTC``); USDT and USD quotes are taken as USD. A perpetual's stream
(:func:`is_perpetual_stream`: USD-M ``BTCUSDT``, COIN-M ``BTCUSD_PERP``) marks its quotes
``perpetual``: they feed the index like any venue's touch and, in the marks stage, the
perpetual's basis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from solvent.realtime.events import FaultKind, FeedFault, MarketEvent, TradePrint, VenueQuote
from solvent.realtime.live_book import BookStatus, Diff, DiffResult, Level, LiveBook

_QUOTES = ("USDT", "USDC", "USD", "BUSD", "FDUSD")


def asset_of_symbol(symbol: str) -> str:
    """``BTCUSDT`` -> ``BTC``, ``BTCUSD_PERP`` -> ``BTC``, ``ETHUSDC`` -> ``ETH``."""
    base = symbol.upper().split("_", 1)[0]
    for quote in _QUOTES:
        if base.endswith(quote) and len(base) > len(quote):
            return base[: -len(quote)]
    return base


_FUTURES_MARKETS = frozenset({"usdm", "coinm", "futures", "swap"})


def is_perpetual_stream(stream: str) -> bool:
    """Whether a stream name (``<venue>-<market>:<SYMBOL>``, e.g. ``binance-usdm:BTCUSDT``)
    is a perpetual swap: a futures market (USD-M, COIN-M) and a symbol without a delivery
    date (``BTCUSDT``, ``BTCUSD_PERP``; ``BTCUSDT_240927`` is a dated future)."""
    prefix, sep, symbol = stream.partition(":")
    if not sep or prefix.rsplit("-", 1)[-1].lower() not in _FUTURES_MARKETS:
        return False
    _, dated, suffix = symbol.upper().partition("_")
    return not dated or suffix == "PERP"


def _levels(raw: object) -> tuple[Level, ...] | None:
    """``[["61800.2", "1.5"], ...]`` as floats; ``None`` when malformed."""
    if not isinstance(raw, list):
        return None
    out: list[Level] = []
    for level in raw:
        if not isinstance(level, list) or len(level) < 2:
            return None
        try:
            out.append((float(level[0]), float(level[1])))
        except (TypeError, ValueError):
            return None
    return tuple(out)


class BinanceDecoder:
    """Decodes one venue stream's messages (see the module docstring). ``venue`` names the
    stream in events and faults (e.g. ``binance-usdm``); ``futures`` selects the futures
    sequence rule (``pu``; detected from the first diff when ``None``)."""

    def __init__(self, venue: str, asset: str | None = None, futures: bool | None = None) -> None:
        self.venue = venue
        self.asset = asset
        self.perpetual = is_perpetual_stream(venue)
        """The stream is a perpetual swap's (:func:`is_perpetual_stream`): its quotes say so."""
        self._futures = futures
        self.book: LiveBook | None = None if futures is None else LiveBook(futures)
        self._last_trade: int | None = None
        self._last_time: datetime | None = None
        self._resync_pending = False

    def _book(self, futures: bool) -> LiveBook:
        if self.book is None:
            self.book = LiveBook(futures)
        return self.book

    def decode(self, message: Mapping[str, Any], time: datetime) -> list[MarketEvent]:
        """Events of one raw message received at ``time`` (feed time)."""
        if self._last_time is not None and time < self._last_time:
            return [
                self._fault(
                    time,
                    FaultKind.OUT_OF_ORDER,
                    f"message stamped {time.isoformat()} before the previous one "
                    f"({self._last_time.isoformat()}): dropped",
                )
            ]
        self._last_time = time
        data = message.get("data", message)
        if not isinstance(data, Mapping):
            return [self._fault(time, FaultKind.INVALID, "message without a data object: dropped")]
        if "lastUpdateId" in data:
            return self._snapshot(data, time)
        kind = data.get("e")
        if kind == "depthUpdate":
            return self._diff(data, time)
        if kind == "trade":
            return self._trade(data, time)
        return []  # bookTicker and anything else: not used

    # --- messages ------------------------------------------------------------------------------

    def _snapshot(self, data: Mapping[str, Any], time: datetime) -> list[MarketEvent]:
        self._note_symbol(data.get("symbol") or data.get("s"))
        bids, asks = _levels(data.get("bids")), _levels(data.get("asks"))
        update_id = data.get("lastUpdateId")
        if bids is None or asks is None or not isinstance(update_id, int):
            return [self._fault(time, FaultKind.INVALID, "malformed depth snapshot: dropped")]
        book = self._book(self._futures if self._futures is not None else "E" in data)
        resync = book.status is BookStatus.GAP
        if not book.apply_snapshot(update_id, bids, asks):
            return [
                self._fault(
                    time,
                    FaultKind.INVALID,
                    "depth snapshot with a NaN, infinite or negative level: book "
                    "dropped until the next snapshot",
                    withdrawn=True,
                )
            ]
        events: list[MarketEvent] = []
        if resync:
            events.append(
                self._fault(
                    time, FaultKind.RESYNC, f"book rebuilt from the snapshot at update {update_id}"
                )
            )
        events += self._touch(time)
        return events

    def _diff(self, data: Mapping[str, Any], time: datetime) -> list[MarketEvent]:
        self._note_symbol(data.get("s"))
        bids, asks = _levels(data.get("b")), _levels(data.get("a"))
        first, last, previous = data.get("U"), data.get("u"), data.get("pu")
        if (
            bids is None
            or asks is None
            or not isinstance(first, int)
            or not isinstance(last, int)
            or (previous is not None and not isinstance(previous, int))
        ):
            return [self._fault(time, FaultKind.INVALID, "malformed depth diff: dropped")]
        book = self._book(self._futures if self._futures is not None else previous is not None)
        before = book.status
        result = book.apply_diff(Diff(first, last, previous, bids, asks))
        if result is DiffResult.APPLIED:
            events: list[MarketEvent] = []
            if book.status is BookStatus.CROSSED and before is not BookStatus.CROSSED:
                events.append(
                    self._fault(
                        time,
                        FaultKind.CROSSED,
                        "best bid >= best ask: touch withheld until uncrossed",
                        withdrawn=True,
                    )
                )
            return events + self._touch(time)
        if result is DiffResult.DUPLICATE:
            return [
                self._fault(
                    time, FaultKind.DUPLICATE, f"depth diff up to {last} already applied: ignored"
                )
            ]
        if result is DiffResult.GAP:
            return [
                self._fault(
                    time,
                    FaultKind.GAP,
                    f"depth diff {first}..{last} does not follow update "
                    f"{book.last_update_id}: book dropped until the next snapshot",
                    withdrawn=True,
                )
            ]
        if result is DiffResult.INVALID:
            return [
                self._fault(
                    time,
                    FaultKind.INVALID,
                    "depth diff with a NaN, infinite or negative level: book "
                    "dropped until the next snapshot",
                    withdrawn=True,
                )
            ]
        return []

    def _trade(self, data: Mapping[str, Any], time: datetime) -> list[MarketEvent]:
        self._note_symbol(data.get("s"))
        trade_id = data.get("t")
        try:
            price, size = float(data.get("p")), float(data.get("q"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return [self._fault(time, FaultKind.INVALID, "malformed trade: dropped")]
        if not (math.isfinite(price) and math.isfinite(size) and price > 0.0 and size > 0.0):
            return [
                self._fault(
                    time, FaultKind.INVALID, f"trade at price {price!r} size {size!r}: dropped"
                )
            ]
        if isinstance(trade_id, int) and self._last_trade is not None:
            if trade_id == self._last_trade:
                return [
                    self._fault(time, FaultKind.DUPLICATE, f"trade {trade_id} repeated: dropped")
                ]
            if trade_id < self._last_trade:
                return [
                    self._fault(
                        time,
                        FaultKind.OUT_OF_ORDER,
                        f"trade {trade_id} after trade {self._last_trade}: dropped",
                    )
                ]
        if isinstance(trade_id, int):
            self._last_trade = trade_id
        if self.asset is None:
            return []
        return [TradePrint(0, time, self.venue, self.asset, price, size)]

    # --- helpers -------------------------------------------------------------------------------

    def _note_symbol(self, symbol: object) -> None:
        if self.asset is None and isinstance(symbol, str) and symbol:
            self.asset = asset_of_symbol(symbol)

    def _touch(self, time: datetime) -> list[MarketEvent]:
        if self.book is None or self.asset is None:
            return []
        touch = self.book.touch()
        if touch is None:
            return []
        return [VenueQuote(0, time, self.venue, self.asset, touch[0], touch[1], self.perpetual)]

    def _fault(
        self, time: datetime, kind: FaultKind, detail: str, *, withdrawn: bool = False
    ) -> FeedFault:
        return FeedFault(0, time, self.venue, kind, detail, withdrawn)


def decode_all(
    decoder: BinanceDecoder, messages: Sequence[tuple[datetime, Mapping[str, Any]]]
) -> list[MarketEvent]:
    """Every event of ``messages`` (time, raw message) in order."""
    out: list[MarketEvent] = []
    for time, message in messages:
        out += decoder.decode(message, time)
    return out
