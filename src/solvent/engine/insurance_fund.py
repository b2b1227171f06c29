"""The insurance fund's history as JSON (the HTTP API's ``GET /v1/insurance-fund``).

Amounts are exact decimal strings of the asset (signed: ``> 0`` into the fund), times ISO 8601
UTC. The data comes from :func:`solvent.liquidation.fund_history.insurance_fund_history`.
"""

from __future__ import annotations

from typing import Any

from solvent.collateral.assets import AssetRegistry
from solvent.liquidation.fund_history import InsuranceHistory
from solvent.validation import iso_utc


def insurance_fund_json(history: InsuranceHistory, assets: AssetRegistry) -> dict[str, Any]:
    """``{"balances", "fees_in", "deficits_covered"}`` per asset (decimal strings) and
    ``"events"``: ``{"operation", "time", "kind", "asset", "amount", "balance", "account",
    "reference"}`` oldest first."""

    def amounts(units: dict[str, int] | Any) -> dict[str, str]:
        return {a: assets.get(a).format(u) for a, u in sorted(units.items())}

    return {
        "balances": amounts(history.balance_units),
        "fees_in": amounts(history.fees_in_units),
        "deficits_covered": amounts(history.deficits_out_units),
        "events": [
            {
                "operation": e.operation,
                "time": iso_utc(e.time),
                "kind": e.kind,
                "asset": e.asset,
                "amount": assets.get(e.asset).format(e.units),
                "balance": assets.get(e.asset).format(e.balance_units),
                "account": e.account,
                "reference": e.reference,
            }
            for e in history.events
        ],
    }
