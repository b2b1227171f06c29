"""``solvent serve [--db URL] [--market MARKET | --feed DIR] [--host 127.0.0.1] [--port 8000]``
(docs/formats.md 12, docs/api.md), with ``--solvency-key KEY`` a live proof of liabilities.

Runs the HTTP API and the dashboard on the ledger at ``--db`` until SIGINT or SIGTERM, then
finishes what is in progress, flushes the ledger and exits 0. ``--market`` is the snapshot every
request prices and checks against (default: the embedded Deribit sample of 2026-01-05, which is
too old for trades and withdrawals unless ``--max-market-age`` allows it).

With ``--feed DIR`` (a recorded feed directory, or a ``ws://``/``wss://`` URL of a live venue
stream) or ``--path PATH`` (a price path as ``solvent replay`` takes it, ``builtin:NAME``
included), the service runs the real-time engine in process on that market source, starting
from ``--market`` (:mod:`solvent.api.live`): recorded events are replayed at ``--speed`` times
their feed time, liquidations follow ``--policy``.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from solvent.errors import SolventInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from solvent.api.live import LiveFeed
    from solvent.market.snapshot import MarketSnapshot
    from solvent.realtime.events import MarketEvent


def _host(text: str) -> str:
    """An IP address or a host name (letters, digits, dots and hyphens)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    labels = text.split(".")
    if (
        not text
        or len(text) > 253
        or not all(
            label
            and len(label) <= 63
            and label.replace("-", "").isascii()
            and label.replace("-", "").isalnum()
            and not label.startswith("-")
            for label in labels
        )
    ):
        raise SolventInputError("host", f"{text!r} is not an IP address or a host name")
    return text


def _live_feed(
    feed: str | None, path: str | None, speed: float, policy: str, market: MarketSnapshot
) -> LiveFeed | None:
    """The engine's market source, read and checked before anything is served (``None``: no
    engine)."""
    from solvent.api.live import POLICIES, LiveFeed
    from solvent.realtime.sources import WebSocketVenue, load_feed, load_path

    if feed is not None and path is not None:
        raise SolventInputError("feed", "give at most one of --feed and --path")
    if not (math.isfinite(speed) and 0 <= speed <= 1e9):
        raise SolventInputError("speed", "must be a number in [0, 1e9] (0: no pacing)")
    if policy not in POLICIES:
        raise SolventInputError("policy", f"must be one of {', '.join(POLICIES)}")
    if feed is None and path is None:
        return None
    if feed is not None and feed.startswith(("ws://", "wss://")):
        venue = WebSocketVenue(feed, _venue_name(feed))
        return LiveFeed(speed=speed, policy=policy, venue=venue.events, label=feed)
    events: Sequence[MarketEvent]
    if feed is not None:
        events = load_feed(feed)
        label = f"feed {feed}"
    else:
        assert path is not None
        events = load_path(path, market)
        label = f"path {path}"
    return LiveFeed(events=tuple(events), speed=speed, policy=policy, label=label)


def _venue_name(url: str) -> str:
    """A stream name for a venue URL: ``ws:`` and its host and path (what feed faults name)."""
    parsed = urlsplit(url)
    return f"ws:{parsed.hostname or ''}{parsed.path}"


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command("serve")
    def serve(
        db: Annotated[
            str | None,
            typer.Option(
                "--db", help="SQLAlchemy URL (default: $SOLVENT_DB, else sqlite:///solvent.db)."
            ),
        ] = None,
        market: Annotated[
            str | None,
            typer.Option("--market", help="Market snapshot JSON (docs/formats.md 1)."),
        ] = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
        rate_limit: Annotated[
            float, typer.Option("--rate-limit", help="Requests per second per key.")
        ] = 20.0,
        burst: Annotated[int, typer.Option("--burst", help="Requests a key may burst.")] = 40,
        max_body: Annotated[
            int, typer.Option("--max-body", help="Largest request body, bytes.")
        ] = 64 * 1024,
        max_market_age: Annotated[
            float,
            typer.Option(
                "--max-market-age",
                help="Seconds the market may be old for trades and withdrawals (default 300).",
            ),
        ] = 300.0,
        solvency_key: Annotated[
            str | None,
            typer.Option(
                "--solvency-key",
                help="Ed25519 key (solvent solvency keygen): publish a signed proof of "
                "liabilities at start and every --solvency-every seconds.",
            ),
        ] = None,
        solvency_every: Annotated[
            float,
            typer.Option("--solvency-every", help="Seconds between two solvency snapshots."),
        ] = 60.0,
        locations: Annotated[
            str | None,
            typer.Option(
                "--locations",
                help="Locations of collateral held elsewhere: built-in version or TOML file.",
            ),
        ] = None,
        feed: Annotated[
            str | None,
            typer.Option(
                "--feed",
                help="Run the real-time engine on a recorded feed directory (as solvent replay "
                "--feed) or a ws:// or wss:// venue stream.",
            ),
        ] = None,
        path: Annotated[
            str | None,
            typer.Option(
                "--path",
                help="Run the real-time engine on a price path: CSV time,ASSET... or "
                "builtin:NAME (as solvent replay --path).",
            ),
        ] = None,
        speed: Annotated[
            float,
            typer.Option(
                "--speed",
                help="Replay --feed DIR or --path at this many times its feed time (0: as "
                "fast as the engine goes).",
            ),
        ] = 1.0,
        policy: Annotated[
            str,
            typer.Option(
                "--policy",
                help="Liquidation policy of the real-time engine: partial, full, auction or "
                "none (breaches published only).",
            ),
        ] = "partial",
    ) -> None:
        """Serve the HTTP API and the dashboard until SIGINT/SIGTERM."""
        from solvent.api.app import create_app
        from solvent.api.server import serve_forever
        from solvent.api.state import Service, ServiceConfig
        from solvent.market.deribit import load_embedded_chain
        from solvent.market.snapshot import load_market

        listen = _host(host)
        if not 1 <= port <= 65535:
            raise SolventInputError("port", f"{port} is not a TCP port (1-65535)")
        if not 1 <= max_body <= 64 * 1024 * 1024:
            raise SolventInputError("max_body", "must be 1 byte to 64 MiB")
        if not 0 <= max_market_age <= 10**10:
            raise SolventInputError("max_market_age", "must be a number of seconds in [0, 1e10]")
        if not 1 <= solvency_every <= 10**7:
            raise SolventInputError("solvency_every", "must be a number of seconds in [1, 1e7]")
        snapshot = load_embedded_chain() if market is None else load_market(market)
        live = _live_feed(feed, path, speed, policy, snapshot)
        config = ServiceConfig(
            db=db,
            rate=rate_limit,
            burst=burst,
            max_body=max_body,
            max_market_age=timedelta(seconds=max_market_age),
            solvency_key=None if solvency_key is None else Path(solvency_key),
            solvency_every=solvency_every,
            locations=locations,
        )
        service = Service(config, snapshot, live)
        try:
            serve_forever(create_app(service), listen, port)
        finally:
            service.ledger.close()
