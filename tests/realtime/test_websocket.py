"""The venue WebSocket adapter against a local server on 127.0.0.1 replaying a recorded file."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

from solvent.realtime.events import FeedFault, MarketEvent
from solvent.realtime.sources import WebSocketVenue, feed_lines, load_feed

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
RECORDING = FEEDS / "binance_spot_btcusdt_20240808.gz"


def _shape(events: list[MarketEvent]) -> list[tuple[object, ...]]:
    """Events without their times (the adapter stamps receipt or venue event times)."""
    return [replace(e, time=None) for e in events]  # type: ignore[arg-type]


def test_the_adapter_decodes_what_the_server_sends_like_the_recorded_file(tmp_path: Path) -> None:
    shutil.copy(RECORDING, tmp_path / RECORDING.name)
    expected = load_feed(tmp_path)
    messages = [*feed_lines(RECORDING), "not json"]

    async def handler(socket: ServerConnection) -> None:
        for message in messages:
            await socket.send(message)
        await socket.close()

    async def _collect(venue: WebSocketVenue) -> list[MarketEvent]:
        return [e async for e in venue.events()]

    async def main() -> list[MarketEvent]:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            venue = WebSocketVenue(f"ws://127.0.0.1:{port}", "binance-spot:BTCUSDT", "BTC")
            return await asyncio.wait_for(_collect(venue), 60)

    got = asyncio.run(main())
    assert len(expected) > 100
    assert _shape(got[:-1]) == _shape(expected)
    assert [e.seq for e in got] == list(range(1, len(got) + 1))
    last = got[-1]
    assert isinstance(last, FeedFault) and last.kind.value == "invalid"
