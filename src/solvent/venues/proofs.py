"""Proofs of liabilities behind an attestation (docs/cross-venue.md, "Attestations").

A location that publishes proofs of liabilities in Solvent's format (docs/formats.md 11) attaches
to its attestation the account's inclusion proof and the signed header it proves against. The
holding then counts only up to what the proof shows, checked by the solvency lane's standalone
verifier (:func:`solvent.solvency.verifier.verify_proof`): the header must be signed by the
location's registered key and be no older than its freshness limit, the proof must lead to the
header's root, and the proven amount is the leaf's balance minus its debt of the asset, in coin
(base units over the header's decimals).
"""

from __future__ import annotations

from datetime import datetime

from solvent.portfolio.external import ExternalHolding
from solvent.solvency.verifier import verify_proof
from solvent.venues.locations import LocationSet


def proven_amount(
    account: str, holding: ExternalHolding, locations: LocationSet, now: datetime
) -> float | None:
    """Coins of ``holding.asset`` that the attached proof shows (>= 0), or ``None`` when there
    is no proof or it does not verify (``account`` is ours; the proof's own account id is bound
    to it by the attestation's signature)."""
    attestation = holding.attestation
    if attestation is None or attestation.proof is None or attestation.header is None:
        return None
    location = locations.locations[holding.location]
    header = dict(attestation.header)
    verdict = verify_proof(
        dict(attestation.proof),
        header,
        public_key=location.public_key,
        now=now,
        max_age_seconds=location.max_age_seconds,
    )
    if not verdict.valid:
        return None
    decimals = {a.get("asset"): a.get("decimals") for a in header["assets"] if isinstance(a, dict)}
    places = decimals.get(holding.asset)
    if not isinstance(places, int):
        return None
    net = verdict.balances.get(holding.asset, 0) - verdict.debts.get(holding.asset, 0)
    return float(max(net, 0)) / float(10**places)
