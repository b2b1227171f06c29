"""Deribit option-chain messages -> :class:`~solvent.realtime.events.ChainUpdate` events.

One :class:`DeribitChainDecoder` per option-chain stream (a recorded file, or one WebSocket
connection). It reads the messages Deribit's public API sends about options:

- ``ticker.<instrument>.<interval>`` subscription notifications (JSON-RPC
  ``{"method": "subscription", "params": {"channel": "ticker...", "data": {...}}}``): one
  option's ticker;
- the answer of ``public/get_book_summary_by_currency`` (``{"result": [{...}, ...]}``): every
  instrument of a currency at once (the shape the shipped chain snapshots were collected in);
- a bare ticker or summary object (and, to :func:`message_records`, a list of them).

From each record it reads ``instrument_name``, ``mark_iv`` (Deribit quotes vols in percent:
``43.2`` is 0.432) and the venue's ``timestamp`` (ms; optional in a book summary). Records of
instruments that are not options (futures and perpetuals in a book summary) are skipped. The
other fields (``bid_iv``, ``ask_iv``, ``underlying_price``, ``index_price``, ``mark_price``) are
not used: the index comes from the spot and perpetual venues' books, forwards move with it and
options are re-marked from the fitted surface (docs/engine.md).

Every valid record of a message goes into ONE :class:`ChainUpdate` (the surface stage refits once
for it). A record is dropped with a :class:`FeedFault`: ``invalid`` when its ``mark_iv`` is
missing, not a finite number or not > 0; ``duplicate`` when its timestamp equals the last applied
one of that instrument; ``out_of_order`` when it is older. Events are built with ``seq = 0``:
the source numbers them.

:func:`snapshot_records` turns the rows of a chain snapshot CSV (the shipped
``deribit_options_snapshot_*.csv``: decimal ``implied_volatility``, ISO ``timestamp``) into the
same records, so a recorded snapshot replays through the same decoder.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from solvent.realtime.events import ChainUpdate, FaultKind, FeedFault, MarketEvent
from solvent.validation import iso_timestamp

_OPTION = re.compile(r"^[A-Z0-9_]+-\d{1,2}[A-Z]{3}\d{2}-\d+(?:d\d+)?-[CP]$")
"""Deribit option names: ``BTC-16JAN26-82000-C``, ``XRP_USDC-30JAN26-2d5-P``."""


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """One option's mark IV as a venue reported it: ``mark_iv`` a decimal (0.432), or ``None``
    when the record had none; ``timestamp_ms`` the venue's time (``None``: not given);
    ``raw_iv`` the value as received, for fault messages."""

    instrument: str
    mark_iv: float | None
    timestamp_ms: int | None
    raw_iv: object = None


def is_option_name(name: str) -> bool:
    """Whether ``name`` is a Deribit option's instrument name."""
    return bool(_OPTION.match(name))


def _percent_iv(raw: object) -> float | None:
    """Deribit's ``mark_iv`` (percent) as a decimal; ``None`` when not a finite number > 0."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    return _valid_iv(float(raw) / 100.0)


def _valid_iv(value: float) -> float | None:
    """A decimal vol when finite and > 0; ``None`` otherwise."""
    return value if math.isfinite(value) and value > 0.0 else None


def _timestamp(raw: object) -> int | None:
    return int(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None


def message_records(message: object) -> list[ChainRecord] | None:
    """The option records of one Deribit message (see the module docstring); ``None`` when the
    message is not a ticker, a book summary or a list of them."""
    body: object = message
    if isinstance(message, Mapping):
        params = message.get("params")
        if isinstance(params, Mapping) and "data" in params:
            body = params["data"]
        elif "result" in message:
            body = message["result"]
    raw_items = body if isinstance(body, list) else [body]
    items = [i for i in raw_items if isinstance(i, Mapping) and "instrument_name" in i]
    if len(items) != len(raw_items):
        return None
    out: list[ChainRecord] = []
    for item in items:
        name = item["instrument_name"]
        if not isinstance(name, str) or not is_option_name(name):
            continue
        raw = item.get("mark_iv")
        out.append(ChainRecord(name, _percent_iv(raw), _timestamp(item.get("timestamp")), raw))
    return out


def snapshot_records(rows: Sequence[Mapping[str, str]]) -> dict[datetime, list[ChainRecord]]:
    """The rows of a Deribit chain snapshot CSV (``timestamp``, ``instrument_name``,
    ``implied_volatility`` decimal) as records, grouped by their ``timestamp`` (the time of
    the snapshot), in time order. A malformed time is refused naming its line."""
    out: dict[datetime, list[ChainRecord]] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("instrument_name") or "").strip()
        if not is_option_name(name):
            continue
        when = iso_timestamp((row.get("timestamp") or "").strip(), f"chain:line {line}.timestamp")
        raw = row.get("implied_volatility")
        try:
            value = _valid_iv(float(raw or ""))
        except ValueError:
            value = None
        stamp = int(when.timestamp() * 1000)
        out.setdefault(when, []).append(ChainRecord(name, value, stamp, raw))
    return dict(sorted(out.items()))


class DeribitChainDecoder:
    """Decodes one option-chain stream's messages (see the module docstring). ``venue`` names
    the stream in events and faults (e.g. ``deribit-options:BTC``)."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self._last_ms: dict[str, int] = {}

    def decode(self, message: Mapping[str, Any], time: datetime) -> list[MarketEvent]:
        """Events of one raw message received at ``time`` (feed time)."""
        records = message_records(message)
        if records is None:
            if "error" in message:
                return [self._fault(time, FaultKind.INVALID, f"error answer: {message['error']}")]
            return []  # heartbeats, subscription confirmations: nothing about the chain
        return self.decode_records(records, time)

    def decode_records(self, records: Sequence[ChainRecord], time: datetime) -> list[MarketEvent]:
        """One :class:`ChainUpdate` of the valid records (none when no record is valid), after
        a fault for each dropped one."""
        events: list[MarketEvent] = []
        ivs: dict[str, float] = {}
        for record in records:
            if record.mark_iv is None:
                events.append(
                    self._fault(
                        time,
                        FaultKind.INVALID,
                        f"{record.instrument}: mark IV {record.raw_iv!r} is not a number > 0: "
                        "dropped",
                    )
                )
                continue
            stamp, last = record.timestamp_ms, self._last_ms.get(record.instrument)
            if stamp is not None and last is not None and stamp <= last:
                kind = FaultKind.DUPLICATE if stamp == last else FaultKind.OUT_OF_ORDER
                events.append(
                    self._fault(
                        time,
                        kind,
                        f"{record.instrument}: ticker of {stamp} ms after the one of {last} ms: "
                        "dropped",
                    )
                )
                continue
            if stamp is not None:
                self._last_ms[record.instrument] = stamp
            ivs[record.instrument] = record.mark_iv
        if ivs:
            events.append(ChainUpdate(0, time, self.venue, ivs))
        return events

    def _fault(self, time: datetime, kind: FaultKind, detail: str) -> FeedFault:
        return FeedFault(0, time, self.venue, kind, detail)
