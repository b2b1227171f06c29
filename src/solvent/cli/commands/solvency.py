"""``solvent solvency keygen|publish|verify`` (docs/formats.md 11, docs/solvency.md).

An edge only: parse the arguments, call :mod:`solvent.solvency` / :mod:`solvent.engine.solvency`,
print one JSON object. ``verify`` exits 0 only for a valid proof; an invalid one prints its verdict
on stdout, one line on stderr and exits 1.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from solvent.cli.output import emit_json, fail
from solvent.engine.solvency import (
    DEFAULT_MAX_AGE_SECONDS,
    ProofFormat,
    verify_files,
)
from solvent.errors import SolventInputError
from solvent.ledger.db import require_existing
from solvent.ledger.store import Ledger
from solvent.market.snapshot import load_market
from solvent.solvency.keys import create_key, load_key, public_key_hex
from solvent.solvency.publish import load_previous, publish_snapshot, write_publication
from solvent.solvency.reserves import load_reserves
from solvent.validation import iso_timestamp

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL (default: $SOLVENT_DB, else sqlite:///solvent.db)."),
]


def _seconds(text: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SolventInputError(field, f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise SolventInputError(field, f"{text!r} must be a finite number of seconds >= 0")
    return value


def register(app: typer.Typer) -> None:
    """Add the ``solvency`` command group to ``app``."""
    group = typer.Typer(
        name="solvency",
        help="Proof of liabilities and reserves: signed snapshots, proofs, verifier.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="solvency")

    @group.command("keygen")
    def keygen(
        out: Annotated[str, typer.Option("--out", help="Key file to create (PEM, mode 0600).")],
    ) -> None:
        """Create the venue's Ed25519 signing key (never overwrites a file)."""
        key = create_key(out)
        emit_json({"key": out, "public_key": public_key_hex(key)})

    @group.command("publish")
    def publish(
        market: Annotated[
            str, typer.Option("--market", help="Market snapshot JSON: marks the positions.")
        ],
        key: Annotated[str, typer.Option("--key", help="The venue's key (solvency keygen).")],
        out: Annotated[str, typer.Option("--out", help="Directory to write the snapshot to.")],
        db: DbOption = None,
        reserves: Annotated[
            str | None,
            typer.Option("--reserves", help="RESERVES JSON (default: the ledger's holdings)."),
        ] = None,
        previous: Annotated[
            str | None, typer.Option("--previous", help="The previous header, to chain to.")
        ] = None,
        now: Annotated[
            str | None, typer.Option("--now", help="ISO time of the snapshot (default: now).")
        ] = None,
    ) -> None:
        """Publish a signed snapshot: DIR/header.json, DIR/proofs/ACCOUNT.json, DIR/report.json;
        prints the report."""
        signing_key = load_key(key)
        snapshot_market = load_market(market)
        moment = None if now is None else iso_timestamp(now, "now")
        last = None if previous is None else load_previous(previous, signing_key)
        require_existing(db)
        ledger = Ledger.open(db)
        try:
            statement = None if reserves is None else load_reserves(reserves, ledger.assets)
            publication = publish_snapshot(
                ledger, snapshot_market, signing_key, reserves=statement, previous=last, now=moment
            )
            write_publication(publication, out)
        finally:
            ledger.close()
        emit_json(publication.report)

    @group.command("verify")
    def verify(
        proof: Annotated[str, typer.Argument(metavar="PROOF", help="The proof file.")],
        header: Annotated[
            str | None, typer.Option("--header", help="The signed header (Solvent's proofs).")
        ] = None,
        proof_format: Annotated[
            str, typer.Option("--format", help="solvent | bybit (Bybit's published layout).")
        ] = "solvent",
        root: Annotated[
            str | None, typer.Option("--root", help="The root hash the venue published.")
        ] = None,
        previous: Annotated[
            str | None, typer.Option("--previous", help="The previous header: checks the chain.")
        ] = None,
        public_key: Annotated[
            str | None, typer.Option("--public-key", help="The venue's public key (hex).")
        ] = None,
        max_age: Annotated[
            str,
            typer.Option("--max-age", help="Seconds the header may be old ('none': no limit)."),
        ] = str(int(DEFAULT_MAX_AGE_SECONDS)),
        now: Annotated[
            str | None, typer.Option("--now", help="ISO time to measure the age at.")
        ] = None,
    ) -> None:
        """Verify a proof of liabilities; exit 0 only when every check passes."""
        try:
            chosen = ProofFormat(proof_format)
        except ValueError:
            raise SolventInputError("format", "must be solvent or bybit") from None
        result: dict[str, Any] = verify_files(
            proof,
            header=header,
            proof_format=chosen,
            root=root,
            previous=previous,
            public_key=public_key,
            max_age_seconds=None if max_age == "none" else _seconds(max_age, "max-age"),
            now=None if now is None else iso_timestamp(now, "now"),
        )
        emit_json(result)
        if not result["valid"]:
            fail(f"the proof is not valid: {result['reason']}", code=1)
