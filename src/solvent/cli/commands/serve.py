"""``solvent serve [--db URL] [--market MARKET] [--host 127.0.0.1] [--port 8000]``
(docs/formats.md 12, docs/api.md), with ``--solvency-key KEY`` a live proof of liabilities.

Runs the HTTP API and the dashboard on the ledger at ``--db`` until SIGINT or SIGTERM, then
finishes what is in progress, flushes the ledger and exits 0. ``--market`` is the snapshot every
request prices and checks against (default: the embedded Deribit sample of 2026-01-05, which is
too old for trades and withdrawals unless ``--max-market-age`` allows it).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from solvent.errors import SolventInputError


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
        service = Service(config, snapshot)
        try:
            serve_forever(create_app(service), listen, port)
        finally:
            service.ledger.close()
