"""JSON view of collateral held elsewhere in a margin run (docs/formats.md 13, docs/cross-venue.md).

Each account with an ``external`` list gets, in ``solvent margin`` output, one entry per holding:
``{"location", "asset", "amount", "attested_at", "status", "admitted", "location_haircut",
"settlement_haircut", "asset_haircut", "value_usd"}``: ``status`` says whether its attestation
verified (only ``verified`` counts), ``admitted`` the coins that count, the three haircuts
(fractions) what they were cut by, and ``value_usd`` what they add to the collateral value::

    value_usd = admitted x price_usd x (1 - asset_haircut) x (1 - location) x (1 - settlement)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from solvent.validation import iso_utc

if TYPE_CHECKING:
    from solvent.engine.margin import MarginRun


def external_by_account(run: MarginRun) -> dict[int, list[dict[str, Any]]]:
    """Every account's external holdings (input account index -> its entries, in input order);
    accounts without any are absent. One pass over the holdings."""
    admission = run.external
    if admission is None:
        return {}
    arrays = run.equity.collateral
    column = {s: j for j, s in enumerate(arrays.symbols)}
    groups = run.groups.group_of
    out: dict[int, list[dict[str, Any]]] = {}
    for e, account in enumerate(admission.account.tolist()):
        holding = admission.holdings[e]
        j = column[holding.asset]
        asset_haircut = float(arrays.haircut[int(groups[account]), j])
        admitted = float(admission.admitted[e])
        value = admitted * float(admission.factor[e]) * float(arrays.price_usd[j])
        out.setdefault(account, []).append(
            {
                "location": holding.location,
                "asset": holding.asset,
                "amount": holding.amount,
                "attested_at": iso_utc(holding.attested_at),
                "status": admission.status[e].value,
                "admitted": admitted,
                "location_haircut": float(admission.location_haircut[e]),
                "settlement_haircut": float(admission.settlement_haircut[e]),
                "asset_haircut": asset_haircut,
                "value_usd": value * (1.0 - asset_haircut),
            }
        )
    return out
