"""``solvent key create (ACCOUNT | --operator) [--db URL]`` (docs/formats.md 12).

Issues an HTTP API key and prints ``{"key", "account", "operator"}``: the key is shown this once;
the ledger database keeps only its SHA-256 digest (:mod:`solvent.api.keys`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from solvent.cli.output import emit_json
from solvent.errors import SolventInputError


def register(app: typer.Typer) -> None:
    """Add the ``key`` command group to ``app``."""
    group = typer.Typer(name="key", help="API keys of the HTTP service.", no_args_is_help=True)
    app.add_typer(group, name="key")

    @group.command("create")
    def create(
        account: Annotated[
            str | None, typer.Argument(metavar="ACCOUNT", help="The user account the key sees.")
        ] = None,
        operator: Annotated[
            bool, typer.Option("--operator", help="A key that sees every account.")
        ] = False,
        db: Annotated[
            str | None,
            typer.Option(
                "--db", help="SQLAlchemy URL (default: $SOLVENT_DB, else sqlite:///solvent.db)."
            ),
        ] = None,
    ) -> None:
        """Create an API key for ACCOUNT (and its sub-accounts) or, with --operator, for all;
        the key is printed once and stored only hashed."""

        def action() -> dict[str, Any]:
            if (account is None) == (not operator):
                raise SolventInputError("account", "give exactly one of ACCOUNT and --operator")
            from solvent.api.keys import create_key
            from solvent.ledger.db import require_existing
            from solvent.ledger.store import Ledger

            if account is not None:  # an account key needs the account: a ledger that exists
                require_existing(db)

            ledger = Ledger.open(db)
            try:
                issued = create_key(ledger, None if operator else account)
            finally:
                ledger.close()
            return {
                "key": issued.key,
                "account": issued.principal.account,
                "operator": issued.principal.operator,
            }

        emit_json(action())
