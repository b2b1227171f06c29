"""Attestations of collateral held elsewhere: the signed message, signing and verification.

A location attests that ``account`` holds ``amount`` of ``asset`` there at ``attested_at`` by
signing, with its registered Ed25519 key, the bytes::

    b"solvent-attestation-v1\\n" || canonical JSON of
        {"account", "amount", "asset", "attested_at", "location"[, "proof_account"]}

(keys sorted, no spaces, ASCII; ``amount`` the JSON number of the portfolio (shortest round-trip
form), ``attested_at`` in the one output form ``2026-11-30T06:00:00Z`` of
:func:`solvent.validation.iso_utc`; ``proof_account`` the account id of the inclusion proof when
the attestation carries one, which binds that leaf to this account).

:func:`check_attestation` returns a :class:`AttestationStatus`; every status but ``VERIFIED``
makes the holding count for zero. Nothing here raises on a bad attestation: a forged, stale or
unverifiable attestation is a fact about the holding, not an input error.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from solvent.portfolio.external import ExternalHolding
from solvent.validation import iso_utc
from solvent.venues.locations import Location

MESSAGE_TAG = b"solvent-attestation-v1\n"


class AttestationStatus(StrEnum):
    """Why a holding counts, or does not (only ``VERIFIED`` counts)."""

    VERIFIED = "verified"
    UNATTESTED = "unattested"  # no attestation given
    NO_KEY = "no_key"  # the location has no registered key: nothing to verify against
    BAD_SIGNATURE = "bad_signature"  # forged, or signed over other content
    STALE = "stale"  # older than the location's freshness limit at the snapshot time
    FUTURE = "future"  # dated after the snapshot (beyond the tolerated clock skew)
    PROOF_MISSING = "proof_missing"  # the location publishes proofs and none was given
    PROOF_INVALID = "proof_invalid"  # the inclusion proof does not verify


def attestation_message(
    account: str, holding: ExternalHolding, proof_account: str | None = None
) -> bytes:
    """The exact bytes a location signs for ``holding`` of ``account`` (module docstring)."""
    body: dict[str, object] = {
        "account": account,
        "amount": holding.amount,
        "asset": holding.asset,
        "attested_at": iso_utc(holding.attested_at),
        "location": holding.location,
    }
    if proof_account is not None:
        body["proof_account"] = proof_account
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return MESSAGE_TAG + text.encode("ascii")


def sign_attestation(
    key: Ed25519PrivateKey, account: str, holding: ExternalHolding, proof_account: str | None = None
) -> str:
    """The signature (128 hex digits) a location holding ``key`` gives ``holding``: what a
    location's attestation service computes (and tests and examples use)."""
    return key.sign(attestation_message(account, holding, proof_account)).hex()


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """The raw public key of ``key`` as 64 hex digits (what a location registers)."""
    return key.public_key().public_bytes_raw().hex()


@lru_cache(maxsize=1 << 16)
def signature_valid(public_key: str, signature: str, message: bytes) -> bool:
    """Whether ``signature`` (hex) is ``public_key``'s (hex) Ed25519 signature of ``message``.

    A pure function of its arguments, so its answers are kept (the last 65,536): re-margining a
    book on every tick verifies each unchanged attestation once, not once per tick."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(signature), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def check_attestation(
    account: str,
    holding: ExternalHolding,
    location: Location,
    now: datetime,
    max_clock_skew_seconds: float,
) -> AttestationStatus:
    """Status of ``holding``'s attestation at ``now`` (the snapshot's ``as_of``): its freshness
    against ``location.max_age_seconds`` and its signature against the location's key. A proof
    of liabilities, when the location publishes them, is checked by
    :func:`solvent.venues.external.admitted_amount`."""
    attestation = holding.attestation
    if attestation is None:
        return AttestationStatus.UNATTESTED
    if location.public_key is None:
        return AttestationStatus.NO_KEY
    age = (now - holding.attested_at).total_seconds()
    if age < -max_clock_skew_seconds:
        return AttestationStatus.FUTURE
    if age > location.max_age_seconds:
        return AttestationStatus.STALE
    if location.proof and attestation.proof is None:
        return AttestationStatus.PROOF_MISSING
    proof_account = None
    if attestation.proof is not None:
        raw = attestation.proof.get("account")
        if not isinstance(raw, str):
            return AttestationStatus.PROOF_INVALID
        proof_account = raw
    message = attestation_message(account, holding, proof_account)
    if not signature_valid(location.public_key, attestation.signature, message):
        return AttestationStatus.BAD_SIGNATURE
    return AttestationStatus.VERIFIED
