"""Proof of reserves input and the solvency report (FORMATS 11).

RESERVES JSON: ``{"as_of": ISO time, "assets": {ASSET: "decimal string"}, "attestations":
[{...}, ...]}``: what the venue holds per asset (coin amounts, exact decimal strings, no more
decimals than the asset has, >= 0) and the evidence for it (address-ownership signatures, custodian
letters...: objects carried into the report as given; Solvent does not check them on chain).

The report compares, per asset, the liabilities the signed tree commits to with the reserves:

- ``liabilities``: the root's balance total (base units): what the venue owes every account and the
  insurance fund (the fund is counted as owed, so reserves must back it too); users' debts are NOT
  netted against it (a debt is only as good as the collateral behind it, which a Merkle sum tree
  cannot prove), so the comparison is conservative;
- ``reserves``: base units held; ``coverage`` = reserves / liabilities (``null`` when nothing is
  owed); ``insurance_fund``: the fund's own balance; ``debt``: the root's debt total;
- ``solvent``: reserves >= liabilities for the asset; the report's ``solvent``: for every
  asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from solvent.collateral.assets import AssetRegistry, parse_decimal
from solvent.errors import SolventInputError
from solvent.files import read_json
from solvent.validation import iso_timestamp, iso_utc, shown

_FIELDS = {"as_of", "assets", "attestations"}


@dataclass(frozen=True, slots=True)
class Reserves:
    """Holdings per asset in base units, as of ``as_of``, with their ``attestations``;
    ``source`` is ``"statement"`` (a RESERVES file) or ``"ledger"`` (the ledger's own record of
    what was deposited and not withdrawn: no outside evidence)."""

    as_of: datetime | None
    amounts: dict[str, int]
    attestations: tuple[dict[str, Any], ...]
    source: str


def parse_reserves(raw: Any, registry: AssetRegistry, field: str = "reserves") -> Reserves:
    """Validate a RESERVES document; every fault names its field."""
    if not isinstance(raw, dict):
        raise SolventInputError(field, f"must be a JSON object, got {shown(raw)}")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise SolventInputError(f"{field}.{unknown[0]}", "unknown field")
    missing = sorted(_FIELDS - set(raw))
    if missing:
        raise SolventInputError(f"{field}.{missing[0]}", "is required")
    as_of = iso_timestamp(raw["as_of"], f"{field}.as_of")
    assets = raw["assets"]
    if not isinstance(assets, dict):
        raise SolventInputError(f"{field}.assets", f"must be an object, got {shown(assets)}")
    amounts: dict[str, int] = {}
    for symbol, text in assets.items():
        where = f"{field}.assets.{symbol}"
        asset = registry.get(symbol, where)
        if not isinstance(text, str):
            raise SolventInputError(where, f"must be a decimal string, got {shown(text)}")
        value = parse_decimal(text, where)
        if value < 0:
            raise SolventInputError(where, f"{text} is negative")
        amounts[symbol] = asset.to_units(value, where)
    attestations = raw["attestations"]
    if not isinstance(attestations, list) or not all(isinstance(a, dict) for a in attestations):
        raise SolventInputError(f"{field}.attestations", "must be a list of objects")
    return Reserves(as_of, amounts, tuple(attestations), "statement")


def load_reserves(path: str | Path, registry: AssetRegistry, field: str = "reserves") -> Reserves:
    """Read and validate the RESERVES file at ``path``."""
    return parse_reserves(read_json(path, field), registry, field)


def ledger_reserves(holdings: Mapping[str, int]) -> Reserves:
    """Reserves as the ledger records them (deposits not withdrawn), without outside evidence."""
    return Reserves(None, dict(holdings), (), "ledger")


def solvency_report(header: Mapping[str, Any], reserves: Reserves) -> dict[str, Any]:
    """The FORMATS 11 report of a signed ``header`` against ``reserves`` (amounts in base
    units; ``coverage`` a ratio)."""
    root = header["root"]
    fund = header.get("insurance_fund") or {}
    assets: dict[str, Any] = {}
    for info in header["assets"]:
        symbol = info["asset"]
        owed = int(root["balances"][symbol])
        held = int(reserves.amounts.get(symbol, 0))
        assets[symbol] = {
            "decimals": info["decimals"],
            "liabilities": owed,
            "reserves": held,
            "coverage": None if owed == 0 else held / owed,
            "insurance_fund": int((fund.get("balances") or {}).get(symbol, 0)),
            "debt": int(root["debts"][symbol]),
            "solvent": held >= owed,
        }
    for symbol, held in sorted(reserves.amounts.items()):  # held, and owed to no one
        if symbol not in assets:
            assets[symbol] = {
                "decimals": None,
                "liabilities": 0,
                "reserves": int(held),
                "coverage": None,
                "insurance_fund": 0,
                "debt": 0,
                "solvent": True,
            }
    return {
        "snapshot": header["snapshot"],
        "time": header["time"],
        "root": root["hash"],
        "assets": assets,
        "reserves_source": reserves.source,
        "reserves_as_of": None if reserves.as_of is None else iso_utc(reserves.as_of),
        "attestations": list(reserves.attestations),
        "solvent": all(a["solvent"] for a in assets.values()),
    }
