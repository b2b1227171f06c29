"""Collateral held elsewhere (docs/formats.md 2 and 13): a portfolio's ``external`` list.

Each entry says that the account holds ``amount`` coins of ``asset`` at ``location`` (another
venue, a custodian or a chain), as attested at ``attested_at`` by ``attestation``. This module
only reads and checks the shape; whether an attestation is genuine and fresh, and what the
holding is worth after its location haircut, is decided by :mod:`solvent.venues` (an attestation
that cannot be verified counts for zero, it is not an input error).

``attestation`` is ``{"signature": HEX, "proof": PROOF?, "header": HEADER?}``: an Ed25519
signature (128 hex digits) by the location's registered key over the canonical attestation message
(:func:`solvent.venues.attestation.attestation_message`) and, for a location that publishes proofs
of liabilities, the account's inclusion proof and the signed header it proves against
(docs/formats.md 11), kept as parsed JSON for the solvency verifier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from solvent.errors import SolventInputError
from solvent.validation import iso_timestamp, number_in_range, shown

MAX_EXTERNAL_AMOUNT = 1e15
"""Largest external amount (coin), the bound of every collateral amount (docs/formats.md)."""

_FIELDS = frozenset({"location", "asset", "amount", "attested_at", "attestation"})
_ATTESTATION_FIELDS = frozenset({"signature", "proof", "header"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{128}$")


@dataclass(frozen=True, slots=True)
class Attestation:
    """A location's statement about a holding: ``signature`` (Ed25519, 64 bytes as 128 hex
    digits) and, optionally, a proof of liabilities with its header (parsed JSON objects)."""

    signature: str
    proof: Mapping[str, Any] | None = None
    header: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ExternalHolding:
    """``amount`` coins (>= 0) of ``asset`` held at ``location``, attested at ``attested_at``
    (aware UTC) by ``attestation`` (``None``: unattested, so it counts for zero)."""

    location: str
    asset: str
    amount: float
    attested_at: datetime
    attestation: Attestation | None


def location_name(value: object, field: str) -> str:
    """A location or venue identifier: 1-64 characters of letters, digits and ``_ . : -``."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise SolventInputError(
            field, f"must be a location name (letters, digits, _ . : -), got {shown(value)}"
        )
    return value


def _attestation(raw: object, field: str) -> Attestation | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SolventInputError(field, 'must be {"signature": hex, "proof"?, "header"?} or null')
    unknown = set(raw) - _ATTESTATION_FIELDS
    if unknown:
        raise SolventInputError(f"{field}.{sorted(unknown)[0]}", "unknown field")
    signature = raw.get("signature")
    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        raise SolventInputError(
            f"{field}.signature", "must be an Ed25519 signature as 128 hex digits"
        )
    parts: dict[str, Mapping[str, Any] | None] = {}
    for key in ("proof", "header"):
        value = raw.get(key)
        if value is not None and not isinstance(value, dict):
            raise SolventInputError(f"{field}.{key}", "must be a JSON object")
        parts[key] = None if value is None else MappingProxyType(value)
    if (parts["proof"] is None) != (parts["header"] is None):
        raise SolventInputError(field, "a proof needs its header, and a header its proof")
    return Attestation(signature.lower(), parts["proof"], parts["header"])


def parse_external(raw: object, field: str) -> tuple[ExternalHolding, ...]:
    """The ``external`` list of a portfolio (``None``: no external collateral)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SolventInputError(field, "must be a list of external holdings")
    holdings = []
    seen: dict[tuple[str, str, object], int] = {}  # (location, asset, attested_at) -> index
    for i, entry in enumerate(raw):
        f = f"{field}[{i}]"
        if not isinstance(entry, dict):
            raise SolventInputError(f, "must be a JSON object")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise SolventInputError(f"{f}.{sorted(unknown)[0]}", "unknown field")
        missing = sorted(_FIELDS - {"attestation"} - set(entry))
        if missing:
            raise SolventInputError(f"{f}.{missing[0]}", "required")
        location = location_name(entry["location"], f"{f}.location")
        asset = entry["asset"]
        if not isinstance(asset, str) or not asset:
            raise SolventInputError(f"{f}.asset", "must be an asset symbol")
        amount = number_in_range(entry["amount"], f"{f}.amount", 0.0, MAX_EXTERNAL_AMOUNT)
        attested_at = iso_timestamp(entry["attested_at"], f"{f}.attested_at")
        attestation = _attestation(entry.get("attestation"), f"{f}.attestation")
        first = seen.setdefault((location, asset, attested_at), i)
        if first != i:  # a signed statement listed twice would count twice
            raise SolventInputError(
                f,
                f"a second statement of {asset} at {location} attested at the same time as "
                f"{field}[{first}]: a location's statement of a holding counts once",
            )
        holdings.append(ExternalHolding(location, asset, amount, attested_at, attestation))
    return tuple(holdings)
