"""``solvent solvency publish``: a signed snapshot of the ledger's liabilities, every account's
proof and the solvency report, written to a directory (FORMATS 11)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.errors import SolventInputError
from solvent.files import is_directory, read_json, shown_path
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.solvency.keys import public_key_hex
from solvent.solvency.liabilities import ledger_holdings, read_liabilities
from solvent.solvency.reserves import Reserves, ledger_reserves, solvency_report
from solvent.solvency.snapshot import DEFAULT_DEPTH, Snapshot, build_snapshot, next_number
from solvent.solvency.verifier import signature_ok
from solvent.validation import iso_timestamp


@dataclass(frozen=True, slots=True)
class Publication:
    """A published snapshot: the snapshot (tree and proofs), its signed header and the report."""

    snapshot: Snapshot
    header: dict[str, Any]
    report: dict[str, Any]


def load_previous(
    path: str | Path, key: Ed25519PrivateKey, field: str = "previous"
) -> dict[str, Any]:
    """The previous header (the chain's last link): signed, and by this venue's key."""
    raw = read_json(path, field)
    if not isinstance(raw, dict) or not signature_ok(raw):
        raise SolventInputError(field, f"{shown_path(path)} is not a validly signed header")
    if raw.get("public_key") != public_key_hex(key):
        raise SolventInputError(field, "the previous header was signed by another key")
    return raw


def publish_snapshot(
    ledger: Ledger,
    market: MarketSnapshot,
    key: Ed25519PrivateKey,
    *,
    reserves: Reserves | None = None,
    previous: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    depth: int = DEFAULT_DEPTH,
) -> Publication:
    """Read the ledger, build the tree, sign the header (chained to ``previous``) and write the
    report against ``reserves`` (default: the ledger's own holdings, ``reserves_source`` =
    ``"ledger"``)."""
    moment = now or datetime.now(UTC)
    if previous is not None and iso_timestamp(previous.get("time"), "previous.time") >= moment:
        raise SolventInputError("previous", "the previous header is not older than now")
    liabilities = read_liabilities(ledger, market)
    snapshot = build_snapshot(liabilities, next_number(previous), depth)
    header = snapshot.sign(key, moment, previous)
    report = solvency_report(header, reserves or ledger_reserves(ledger_holdings(ledger)))
    return Publication(snapshot, header, report)


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")


def write_publication(publication: Publication, out: str | Path, field: str = "out") -> Path:
    """Write ``DIR/proofs/ACCOUNT.json`` (every account, the insurance fund included),
    ``DIR/report.json`` and, last, ``DIR/header.json``. ``DIR`` is created if needed (its parent
    must exist); a directory that already holds a header is refused."""
    directory = Path(out)
    if directory.exists() and not is_directory(directory, field):
        raise SolventInputError(field, f"{shown_path(directory)} is a file, expected a directory")
    if not is_directory(directory.parent, field):
        raise SolventInputError(field, f"{shown_path(directory)}: the parent folder does not exist")
    if (directory / "header.json").exists():
        raise SolventInputError(field, f"{shown_path(directory)} already holds a published header")
    proofs = directory / "proofs"
    try:
        proofs.mkdir(parents=True, exist_ok=True)
        snapshot = publication.snapshot
        for account in snapshot.positions:
            _write_json(proofs / f"{account}.json", snapshot.proof(account))
        _write_json(directory / "report.json", publication.report)
        tmp = directory / f".header.json.{os.getpid()}"
        _write_json(tmp, publication.header)
        tmp.replace(directory / "header.json")
    except OSError as exc:
        raise SolventInputError(
            field, f"{shown_path(directory)}: cannot write ({exc.strerror or exc})"
        ) from None
    return directory


_ACCOUNT_FILE = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


def read_published_header(out: str | Path, field: str = "solvency") -> dict[str, Any]:
    """The header of the publication in directory ``out`` (what ``GET /v1/solvency/header``
    serves when snapshots are published to disk)."""
    raw = read_json(Path(out) / "header.json", field)
    if not isinstance(raw, dict):
        raise SolventInputError(field, "header.json is not a JSON object")
    return raw


def read_published_proof(out: str | Path, account: str, field: str = "account") -> dict[str, Any]:
    """``account``'s proof in the publication in directory ``out``; an id that is not an account
    id (a path, ``..``) is refused before any file is opened."""
    if not isinstance(account, str) or not _ACCOUNT_FILE.match(account):
        raise SolventInputError(field, f"{account!r} is not an account id")
    path = Path(out) / "proofs" / f"{account}.json"
    if not path.is_file():
        raise SolventInputError(field, f"{account!r} is not in the published snapshot")
    raw = read_json(path, field)
    if not isinstance(raw, dict):
        raise SolventInputError(field, f"the proof of {account!r} is not a JSON object")
    return raw
