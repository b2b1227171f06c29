"""Collateral held elsewhere, admitted into the one collateral valuation (docs/cross-venue.md).

For each external holding of a book (:class:`~solvent.portfolio.external.ExternalHolding`):

1. its location must be known (:class:`~solvent.venues.locations.LocationSet`) and its asset too
   (the asset registry): otherwise the input is refused, naming the field;
2. its attestation is checked (:func:`~solvent.venues.attestation.check_attestation`): fresh at
   the snapshot's ``as_of``, signed by the location's key, and (where the location publishes
   proofs of liabilities) backed by a valid inclusion proof. ``admitted`` is the attested amount
   when all of that holds (capped at the proven amount), else 0;
3. its location factor is ``(1 - location haircut) x (1 - settlement haircut)``, the settlement
   haircut being the T-day move of the asset's class (``min(1, move x sqrt(T))``).

:func:`external_balances` then sums ``admitted`` and ``admitted x factor`` per (row, asset) cell,
which :func:`solvent.collateral.valuation.value_collateral_matrix` values with the asset's own
haircut computed on the whole holding. Amounts in coin; haircuts and factors are fractions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.collateral.assets import AssetRegistry, default_assets
from solvent.collateral.valuation import ExternalBalances
from solvent.portfolio.external import ExternalHolding
from solvent.venues.attestation import AttestationStatus, check_attestation
from solvent.venues.locations import LocationSet, default_locations
from solvent.venues.proofs import proven_amount

ProofCheck = Callable[[str, ExternalHolding, "LocationSet", datetime], float | None]
"""``(account, holding, locations, now) -> proven amount`` (coin), ``None`` if the proof fails."""


@dataclass(frozen=True, slots=True)
class ExternalAdmission:
    """Every external holding of a book, in input order, with what it is admitted at.

    ``account[e]``: the input index of the holding's account; ``status[e]``: its attestation's
    status; ``admitted[e]``: coins admitted (0 unless verified); ``location_haircut``,
    ``settlement_haircut`` and ``factor`` (fractions, ``factor = (1 - location) x (1 -
    settlement)``); ``locations``: the label of the location set used."""

    holdings: tuple[ExternalHolding, ...]
    account: IntArray
    status: tuple[AttestationStatus, ...]
    admitted: FloatArray
    location_haircut: FloatArray
    settlement_haircut: FloatArray
    factor: FloatArray
    locations: str

    def __len__(self) -> int:
        return len(self.holdings)

    @property
    def assets(self) -> tuple[str, ...]:
        """The assets held elsewhere, sorted."""
        return tuple(sorted({h.asset for h in self.holdings}))


def admit_external(
    holdings: Sequence[ExternalHolding],
    account: IntArray,
    account_ids: Sequence[str],
    now: datetime,
    locations: LocationSet | None = None,
    assets: AssetRegistry | None = None,
    proof_check: ProofCheck | None = None,
) -> ExternalAdmission:
    """Admit ``holdings`` (``account[e]`` indexes ``account_ids``) at ``now`` (the snapshot's
    ``as_of``). Unknown locations and assets raise naming the holding's field; attestations that
    do not verify give status and 0 admitted. ``proof_check`` verifies the proofs of liabilities
    of locations that publish them (default: :func:`solvent.venues.proofs.proven_amount`)."""
    locations = locations or default_locations()
    proof_check = proof_check or proven_amount
    assets = assets or default_assets()
    n = len(holdings)
    status: list[AttestationStatus] = []
    admitted = np.zeros(n, dtype=np.float64)
    location_cut = np.zeros(n, dtype=np.float64)
    settlement_cut = np.zeros(n, dtype=np.float64)
    seen: dict[int, int] = {}
    for e, holding in enumerate(holdings):
        owner = int(account[e])
        k = seen.get(owner, 0)
        seen[owner] = k + 1
        field = f"{account_ids[owner]}.external[{k}]"
        location = locations.get(holding.location, f"{field}.location")
        asset = assets.get(holding.asset, f"{field}.asset")
        location_cut[e] = location.haircut
        settlement_cut[e] = locations.settlement_haircut(location, asset.asset_class)
        state = check_attestation(
            account_ids[owner], holding, location, now, locations.max_clock_skew_seconds
        )
        amount = holding.amount
        proof = None if holding.attestation is None else holding.attestation.proof
        if state is AttestationStatus.VERIFIED and proof is not None:
            proven = proof_check(account_ids[owner], holding, locations, now)
            if proven is None:
                state = AttestationStatus.PROOF_INVALID
            else:
                amount = min(amount, proven)
        status.append(state)
        admitted[e] = amount if state is AttestationStatus.VERIFIED else 0.0
    factor = (1.0 - location_cut) * (1.0 - settlement_cut)
    return ExternalAdmission(
        holdings=tuple(holdings),
        account=np.asarray(account, dtype=np.intp).reshape(n),
        status=tuple(status),
        admitted=admitted,
        location_haircut=location_cut,
        settlement_haircut=settlement_cut,
        factor=factor,
        locations=locations.label,
    )


def external_balances(
    admission: ExternalAdmission, row_of_account: IntArray, rows: int, symbols: Sequence[str]
) -> ExternalBalances:
    """``(rows, symbols)`` cells of admitted coins and of admitted coins x location factor; the
    holding of account ``a`` goes to row ``row_of_account[a]`` (a margin group). Every asset of
    the admission must be among ``symbols``."""
    column = {s: j for j, s in enumerate(symbols)}
    cols = np.fromiter(
        (column[h.asset] for h in admission.holdings), dtype=np.intp, count=len(admission)
    )
    row = np.asarray(row_of_account, dtype=np.intp)[admission.account]
    amount = np.zeros((rows, len(symbols)), dtype=np.float64)
    weighted = np.zeros((rows, len(symbols)), dtype=np.float64)
    np.add.at(amount, (row, cols), admission.admitted)
    np.add.at(weighted, (row, cols), admission.admitted * admission.factor)
    return ExternalBalances(amount, weighted)
