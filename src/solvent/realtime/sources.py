"""Sources of market events: a price path, recorded venue feeds, a live WebSocket venue.

Every source is an async iterator of :data:`~solvent.realtime.events.MarketEvent` numbered
``seq = 1, 2, ...`` in the order it yields them, deterministically: replaying the same input
yields the same events with the same numbers, which is what lets a restarted engine skip the
events its checkpoint already applied.

- :func:`path_source`: a CSV ``time,ASSET,ASSET...`` of USD index prices (FORMATS 10 ``--path``),
  one :class:`IndexPrices` per row. Built-in paths (``builtin:NAME``, :data:`BUILTIN_PATHS`) come
  from the shipped daily closes or are synthetic.
- :func:`feed_source`: a directory of recorded raw feeds in the ../shared/data/orderbook layout
  (one file per venue stream, ``.gz`` or plain; each line ``<local ns> <raw JSON>``), merged by
  local timestamp (ties: file name order, then line order) and decoded by the stream's decoder
  (:func:`decoder_for`): :class:`~solvent.realtime.binance.BinanceDecoder` for Binance's books
  and trades, :class:`~solvent.realtime.deribit.DeribitChainDecoder` for a Deribit option
  chain (``deribit_*`` files: ticker or book-summary messages). A Deribit chain snapshot CSV
  (``deribit_options_snapshot_*.csv[.gz]``, the shipped ../shared/data/deribit layout) is one
  chain update per snapshot time, at that time.
- :class:`WebSocketVenue`: the venue adapter interface for a live feed: connects to a WebSocket
  URL, decodes each message with its venue's decoder, stamps it with its receipt time.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from solvent.errors import SolventInputError
from solvent.files import csv_rows, decode_text, is_directory, read_bytes, shown_path
from solvent.market.deribit import read_chain_rows
from solvent.market.history import embedded_price_history
from solvent.market.moves import reference_price
from solvent.market.snapshot import INDEX_BOUNDS, MarketSnapshot
from solvent.realtime.binance import BinanceDecoder, asset_of_symbol
from solvent.realtime.deribit import ChainRecord, DeribitChainDecoder, snapshot_records
from solvent.realtime.events import FaultKind, FeedFault, IndexPrices, MarketEvent
from solvent.validation import iso_timestamp, number_in_range

BUILTIN_PREFIX = "builtin:"

BUILTIN_PATHS = {
    "covid-2020-03": (
        "BTC 2020-03-05..2020-03-20 daily closes (12 March: -39 %)",
        "2020-03-05",
        "2020-03-20",
    ),
    "ftx-2022-11": (
        "BTC and ETH 2022-11-01..2022-11-21 daily closes (the FTX week)",
        "2022-11-01",
        "2022-11-21",
    ),
    "luna-2022-05": (
        "BTC and ETH 2022-05-01..2022-05-20 daily closes (LUNA/UST)",
        "2022-05-01",
        "2022-05-20",
    ),
    "minus-40-hour": (
        "every index -40 % in one hour, one step a minute, then flat 30 minutes",
        "",
        "",
    ),
    "gap-40-hour": (
        "every index -4 % in the first minute (a gap: the first stops fire into a thin book), "
        "then on down to -40 % at one hour, one step a minute, then flat 30 minutes",
        "",
        "",
    ),
}
"""Built-in price paths: name -> (what, first day, last day). Historical paths scale the shipped
daily closes (docs: "Data: CryptoDataDownload.com") so that the first day equals the market's
index: they replay the relative moves of those days on today's market."""

GAP_40_HOUR_GAP = 0.04
"""``gap-40-hour``'s first-minute move (a fraction of the index): a one-minute drop of this size
is what the index did on the worst minutes of recent crashes (2020-03-12, 2021-05-19)."""

SYNTHETIC_PATHS: dict[str, list[float]] = {
    "minus-40-hour": [1.0 - 0.4 * k / 60 for k in range(61)] + [0.6] * 30,
    "gap-40-hour": [1.0]
    + [1.0 - GAP_40_HOUR_GAP - (0.4 - GAP_40_HOUR_GAP) * (k - 1) / 59 for k in range(1, 61)]
    + [0.6] * 30,
}
"""The synthetic built-in paths: each index's multiple of its starting value, one a minute."""


# --------------------------------------------------------------------------------- price paths


def load_path(path: str | Path, market: MarketSnapshot) -> list[IndexPrices]:
    """The events of a price path: a CSV file (see the module docstring) or ``builtin:NAME``.
    Refused (naming the cell) when a time is not ISO 8601 or goes back, a price is not a finite
    number within the index bounds, or an asset column is repeated, empty or not priced by
    ``market`` (no index price: the path could not move it)."""
    text = str(path)
    if text.startswith(BUILTIN_PREFIX):
        return builtin_path(text[len(BUILTIN_PREFIX) :], market)
    data = read_bytes(path, "path")
    lines = decode_text(data, "path", shown_path(path)).splitlines()
    rows = [r for r in csv_rows(lines, "path", shown_path(path)) if any(c.strip() for c in r)]
    if not rows:
        raise SolventInputError("path", f"{shown_path(path)} is empty")
    header = [c.strip() for c in rows[0]]
    if len(header) < 2 or header[0] != "time":
        raise SolventInputError("path", 'header must be "time,ASSET[,ASSET...]"')
    assets = header[1:]
    for j, asset in enumerate(assets):
        if not asset or not re.fullmatch(r"[A-Za-z0-9_]{1,32}", asset):
            raise SolventInputError(f"path.header[{j + 1}]", f"not an asset symbol: {asset!r}")
    if len(set(assets)) != len(assets):
        raise SolventInputError("path.header", "an asset column is repeated")
    for j, asset in enumerate(assets):  # a column the market cannot move would be ignored
        reference_price(market, asset, f"path.header[{j + 1}]")
    if len(rows) == 1:
        raise SolventInputError("path", "no price rows after the header")
    events: list[IndexPrices] = []
    previous: datetime | None = None
    lo, hi = INDEX_BOUNDS
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise SolventInputError(f"path[{i}]", f"{len(row)} cells, the header has {len(header)}")
        time = iso_timestamp(row[0].strip(), f"path[{i}].time")
        if previous is not None and time < previous:
            raise SolventInputError(f"path[{i}].time", "goes back in time")
        previous = time
        prices: dict[str, float] = {}
        for asset, cell in zip(assets, row[1:], strict=True):
            if not cell.strip():
                continue  # no price of this asset on this row
            try:
                value = float(cell)
            except ValueError:
                raise SolventInputError(f"path[{i}].{asset}", f"not a number: {cell!r}") from None
            prices[asset] = number_in_range(value, f"path[{i}].{asset}", lo, hi)
        events.append(IndexPrices(i, time, "path", prices))
    return events


def builtin_path(name: str, market: MarketSnapshot) -> list[IndexPrices]:
    """A built-in path (:data:`BUILTIN_PATHS`) on ``market``'s assets, starting at its index."""
    if name not in BUILTIN_PATHS:
        raise SolventInputError(
            "path", f"unknown built-in path {name!r}; known: {sorted(BUILTIN_PATHS)}"
        )
    synthetic = name in SYNTHETIC_PATHS
    assets = sorted(a for a in market.index if a in ("BTC", "ETH") or synthetic)
    start = market.as_of
    if synthetic:
        steps = SYNTHETIC_PATHS[name]
        return [
            IndexPrices(
                k + 1,
                start + timedelta(minutes=k),
                "path",
                {a: market.index[a] * f for a in assets},
            )
            for k, f in enumerate(steps)
        ]
    _, first, last = BUILTIN_PATHS[name]
    history = embedded_price_history()
    days = np.arange(np.datetime64(first), np.datetime64(last) + np.timedelta64(1, "D"))
    rows = np.searchsorted(history.dates, days)
    columns: dict[str, np.ndarray] = {}
    for asset in assets:
        if asset not in history.assets:
            continue
        closes = history.closes[rows, history.asset_index(asset)]
        columns[asset] = market.index[asset] * closes / closes[0]
    if not columns:
        raise SolventInputError("path", f"the market has no asset of the built-in path {name!r}")
    return [
        IndexPrices(
            k + 1,
            start + timedelta(days=k),
            "path",
            {a: float(c[k]) for a, c in sorted(columns.items())},
        )
        for k in range(days.size)
    ]


async def path_source(path: str | Path, market: MarketSnapshot) -> AsyncIterator[MarketEvent]:
    """:func:`load_path`'s events as a source (the file is read and checked before the first)."""
    for event in load_path(path, market):
        yield event


# ------------------------------------------------------------------------------- recorded feeds

_FILE = re.compile(r"^(?P<venue>[a-z]+)_(?P<market>[a-z]+)_(?P<symbol>[a-z0-9_]+?)_(?P<day>\d{8})")


class Decoder(Protocol):
    """A venue stream's decoder: raw messages (parsed JSON objects) in, market events out
    (``seq = 0``: the source numbers them)."""

    venue: str

    def decode(self, message: Mapping[str, Any], time: datetime) -> list[MarketEvent]: ...


def decoder_for(stream: str, asset: str | None = None) -> Decoder:
    """The decoder of a stream by its venue: ``deribit...`` -> the option-chain decoder, any
    other -> the Binance decoder (books, trades)."""
    if stream.lower().startswith("deribit"):
        return DeribitChainDecoder(stream)
    return BinanceDecoder(stream, asset)


def _is_chain_snapshot(path: Path) -> bool:
    """A Deribit chain snapshot CSV (``deribit_options_snapshot_*.csv`` or ``.csv.gz``)."""
    name = path.name.lower()
    return name.startswith("deribit") and (name.endswith(".csv") or name.endswith(".csv.gz"))


def _feed_files(directory: Path) -> list[Path]:
    if not is_directory(directory, "feed"):
        raise SolventInputError("feed", f"{shown_path(directory)} is not a directory")
    files = sorted(
        p
        for p in directory.iterdir()
        if p.is_file()
        and (p.suffix in (".gz", ".txt", ".jsonl") or p.suffix == "" or _is_chain_snapshot(p))
        and not p.name.startswith(".")
        and p.name.lower() != "readme.md"
    )
    if not files:
        raise SolventInputError("feed", f"{shown_path(directory)} holds no feed file")
    return files


def _stream_of(path: Path) -> tuple[str, str | None]:
    """``binance_usdm_btcusdt_20240808.gz`` -> (``binance-usdm:BTCUSDT``, ``BTC``);
    ``deribit_options_snapshot_20260115T153452Z.csv`` -> (``deribit-options``, ``None``)."""
    match = _FILE.match(path.name)
    if match is None:
        return path.name.split(".")[0], None
    symbol = match["symbol"].upper()
    if symbol == "SNAPSHOT":
        return f"{match['venue']}-{match['market']}", None
    return f"{match['venue']}-{match['market']}:{symbol}", asset_of_symbol(symbol)


_Item = tuple[int, str | list[ChainRecord]]
"""One input of a recorded stream: its timestamp (ns) and a raw JSON line or a snapshot's
option records."""


def _items(path: Path) -> list[_Item]:
    """A recorded file's inputs in order: its lines, or a chain snapshot's records per time."""
    if not _is_chain_snapshot(path):
        return list(_lines(path))
    groups = snapshot_records(read_chain_rows(path))
    return [(int(when.timestamp() * 1e9), records) for when, records in groups.items()]


def _lines(path: Path) -> list[tuple[int, str]]:
    data = read_bytes(path, "feed")
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise SolventInputError("feed", f"{shown_path(path)}: not gzip data ({exc})") from None
    text = decode_text(data, "feed", shown_path(path))
    out: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        stamp, sep, payload = line.partition(" ")
        if not sep or not stamp.isdigit():
            raise SolventInputError(
                "feed", f"{shown_path(path)} line {n}: expected '<timestamp ns> <JSON>'"
            )
        out.append((int(stamp), payload))
    return out


def _parse_message(payload: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def load_feed(directory: str | Path) -> list[MarketEvent]:
    """Every event of a recorded feed directory, merged and numbered (see the module docstring).
    A line that is not JSON is a fault (``invalid``), not an error: a recording may be damaged."""
    files = _feed_files(Path(directory))
    streams = [(_stream_of(p), _items(p)) for p in files]
    # Within a file keep the recorded order (the decoder sees a time going back and reports it);
    # across files merge by timestamp.
    order = _merge_order(
        [[(stamp, n) for n, (stamp, _) in enumerate(items)] for _, items in streams]
    )
    decoders = [decoder_for(name, asset) for (name, asset), _ in streams]
    events: list[MarketEvent] = []
    for f, n in order:
        stamp, payload = streams[f][1][n]
        time = datetime.fromtimestamp(stamp / 1e9, tz=UTC)
        decoder = decoders[f]
        if not isinstance(payload, str):
            assert isinstance(decoder, DeribitChainDecoder)
            events += decoder.decode_records(payload, time)
            continue
        message = _parse_message(payload)
        if not isinstance(message, dict):
            events.append(
                FeedFault(
                    0,
                    time,
                    decoder.venue,
                    FaultKind.INVALID,
                    f"line {n + 1} is not a JSON object: dropped",
                )
            )
            continue
        events += decoder.decode(message, time)
    return [replace(e, seq=i) for i, e in enumerate(events, start=1)]


def _merge_order(per_file: Sequence[Sequence[tuple[int, int]]]) -> list[tuple[int, int]]:
    """Merge files by timestamp, each file in its own line order: at every step take the file
    whose next line has the smallest timestamp (ties: the lower file index)."""
    import heapq

    heads = [(lines[0][0], f, 0) for f, lines in enumerate(per_file) if lines]
    heapq.heapify(heads)
    out: list[tuple[int, int]] = []
    while heads:
        _, f, k = heapq.heappop(heads)
        out.append((f, per_file[f][k][1]))
        if k + 1 < len(per_file[f]):
            heapq.heappush(heads, (per_file[f][k + 1][0], f, k + 1))
    return out


async def feed_source(directory: str | Path) -> AsyncIterator[MarketEvent]:
    """:func:`load_feed`'s events as a source."""
    for event in load_feed(directory):
        yield event


# ----------------------------------------------------------------------------- live venues


class VenueAdapter(Protocol):
    """A live venue: its market events, numbered from 1, until the connection ends."""

    def events(self) -> AsyncIterator[MarketEvent]: ...


class WebSocketVenue:
    """A venue adapter over one WebSocket connection (Binance raw or combined streams, a
    Deribit option-chain subscription: the decoder is :func:`decoder_for` the venue's name).

    ``url``: the WebSocket URL; ``venue``/``asset``: the stream's name and asset (``asset`` may
    be read from the messages' symbols); ``clock``: the feed time of each message, its receipt
    time (monotonic across message kinds, unlike the venue's own event times, which differ per
    channel). Messages that are not JSON objects are reported as ``invalid`` faults."""

    def __init__(
        self,
        url: str,
        venue: str,
        asset: str | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        open_timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.venue = venue
        self.asset = asset
        self.clock = clock
        self.open_timeout_s = open_timeout_s

    async def events(self) -> AsyncIterator[MarketEvent]:
        from websockets.asyncio.client import connect

        decoder = decoder_for(self.venue, self.asset)
        seq = 0
        async with connect(self.url, open_timeout=self.open_timeout_s) as socket:
            async for raw in socket:
                received = self.clock()
                message = _parse_message(
                    raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                )
                if not isinstance(message, dict):
                    seq += 1
                    yield FeedFault(
                        seq,
                        received,
                        self.venue,
                        FaultKind.INVALID,
                        "message is not a JSON object: dropped",
                    )
                    continue
                for event in decoder.decode(message, received):
                    seq += 1
                    yield replace(event, seq=seq)


def feed_lines(path: Path) -> Iterator[str]:
    """The raw JSON messages of a recorded feed file, in order (what a venue would send; the
    tests' local WebSocket server replays them)."""
    for _, payload in _lines(path):
        yield payload
