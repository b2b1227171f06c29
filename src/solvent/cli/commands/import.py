# ruff: noqa: N999 (modules are named after their command, and this command is `import`)
"""``solvent import ccxt|deribit|okx|bybit FILE ...``: positions held elsewhere as a portfolio.

An edge only: read the export, call :mod:`solvent.venues.imports`, print the portfolio
(docs/formats.md 2 and 13) on stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from solvent.cli.output import emit_json
from solvent.files import read_json
from solvent.market.snapshot import MarketSnapshot, load_market
from solvent.venues.imports import import_ccxt, import_export
from solvent.venues.locations import load_locations

AccountOption = Annotated[
    str | None, typer.Option("--account", help="Account id of the portfolio (default: the venue).")
]
MarketOption = Annotated[
    Path | None,
    typer.Option("--market", help="Market snapshot JSON: every instrument must be in it."),
]
LocationsOption = Annotated[
    str | None,
    typer.Option("--locations", help="Location set: built-in version or TOML file over it."),
]


def _market(path: Path | None) -> MarketSnapshot | None:
    return None if path is None else load_market(path)


def _native(venue: str, group: typer.Typer) -> None:
    @group.command(venue)
    def command(
        positions: Annotated[
            Path, typer.Argument(metavar="FILE", help="The venue's positions endpoint response.")
        ],
        balance: Annotated[
            Path | None,
            typer.Option("--balance", help="The venue's balance endpoint response (collateral)."),
        ] = None,
        account: AccountOption = None,
        market: MarketOption = None,
        locations: LocationsOption = None,
    ) -> None:
        raw_balance: Any = None if balance is None else read_json(balance, "balance")
        emit_json(
            import_export(
                venue,
                read_json(positions, "positions"),
                raw_balance,
                account=account,
                market=_market(market),
                locations=load_locations(locations),
            )
        )

    command.__doc__ = f"A {venue} position export (its documented API JSON) as a portfolio."


def register(app: typer.Typer) -> None:
    """Add the ``import`` command group to ``app``."""
    group = typer.Typer(
        name="import",
        help="Positions and balances held at other venues, as a portfolio.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="import")

    @group.command("ccxt")
    def ccxt(
        export: Annotated[
            Path,
            typer.Argument(
                metavar="FILE", help='{"exchange", "positions", "balance"} in ccxt\'s structures.'
            ),
        ],
        account: AccountOption = None,
        market: MarketOption = None,
        locations: LocationsOption = None,
    ) -> None:
        """ccxt's unified positions and balance as a portfolio (docs/formats.md 13)."""
        emit_json(
            import_ccxt(
                read_json(export, "ccxt"),
                account=account,
                market=_market(market),
                locations=load_locations(locations),
            )
        )

    for venue in ("deribit", "okx", "bybit"):
        _native(venue, group)
