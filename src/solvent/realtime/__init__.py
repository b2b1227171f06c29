"""The real-time risk engine: market events in, every account re-margined on every tick.

Modules: :mod:`.events` (market events), :mod:`.live_book` (order books rebuilt from a snapshot
and diffs), :mod:`.binance` and :mod:`.sources` (recorded feeds, price paths, a WebSocket venue),
:mod:`.market_state` (oracle index, marks, surfaces per tick), :mod:`.dynamic` (the live
multiplier), :mod:`.book_state` (the accounts as arrays), :mod:`.tick` (one re-margin of the
book), :mod:`.engine` (the asyncio loop), :mod:`.checkpoint` (restart), :mod:`.replay` (crash
replay), :mod:`.report` (HTML and PNG charts). docs/engine.md explains the loop.
"""
