"""``solvent market from-deribit CHAIN.csv [--perpetuals PERPS.csv] [--out MARKET.json]``.

Turns a Deribit option-chain export (the CSV layout of the shipped Deribit data, optionally
gzipped: see :mod:`solvent.market.deribit`) into the market snapshot JSON of docs/formats.md 1.
The records are resolved exactly as ``solvent margin --market`` will resolve them before anything
is written, so a chain that would be refused later is refused here, with the same message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from solvent.cli.output import emit_json, fail


def deribit_market_json(chain: Path, perpetuals: Path | None) -> dict[str, Any]:
    """The market object (docs/formats.md 1) of a Deribit chain CSV and optional perpetual marks."""
    from solvent.errors import SolventInputError
    from solvent.files import is_directory
    from solvent.market.deribit import chain_to_records, read_chain_rows, read_perpetual_marks
    from solvent.market.snapshot import build_snapshot
    from solvent.validation import iso_timestamp, iso_utc

    for path, field in ((chain, "CHAIN"), (perpetuals, "--perpetuals")):
        if path is not None and (is_directory(path, field) or not path.exists()):
            what = "a directory" if is_directory(path, field) else "no such file"
            raise SolventInputError(field, f"{str(path)!r}: {what}")
    marks = None
    if perpetuals is not None:
        snapshot = chain.name.removesuffix(".gz")
        marks = read_perpetual_marks(perpetuals, snapshot)
    as_of, index, records = chain_to_records(read_chain_rows(chain), marks)
    when = iso_timestamp(as_of, "timestamp")
    build_snapshot(when, index, {}, records)  # refuse now what `--market` would refuse later
    stamp = iso_utc(when)
    return {"as_of": stamp, "index": index, "rates": {}, "instruments": records}


def register(app: typer.Typer) -> None:
    """Add the ``market`` command group to ``app``."""
    group = typer.Typer(
        name="market", help="Build market snapshot JSON from venue exports.", no_args_is_help=True
    )
    app.add_typer(group, name="market")

    @group.command("from-deribit")
    def from_deribit(
        chain: Annotated[
            Path, typer.Argument(help="Deribit option-chain CSV (or .csv.gz).", metavar="CHAIN")
        ],
        perpetuals: Annotated[
            Path | None,
            typer.Option("--perpetuals", help="CSV of perpetual marks to add (optional)."),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Write the market JSON here instead of stdout."),
        ] = None,
    ) -> None:
        """Market snapshot JSON (docs/formats.md 1) from a Deribit option-chain CSV."""
        market = deribit_market_json(chain, perpetuals)
        if out is None:
            emit_json(market)
            return
        from solvent.files import output_path

        target = output_path(out, "--out", ".json")
        try:
            target.write_text(json.dumps(market, allow_nan=False) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"--out: {str(out)!r}: cannot write ({exc.strerror})")
