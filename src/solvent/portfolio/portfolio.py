"""Portfolios (FORMATS.md 2): one account's collateral and signed positions.

``quantity > 0`` is long, ``< 0`` short, in units of the underlying (times the contract size).
Collateral balances are in units of each asset (1.5 BTC), signed (negative = borrowed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from solvent.errors import SolventInputError
from solvent.files import read_json
from solvent.validation import finite_number


class SubAccountMode(StrEnum):
    """How a sub-account relates to its parent (FORMATS.md 2)."""

    CROSS = "cross"
    ISOLATED = "isolated"


@dataclass(frozen=True, slots=True)
class Position:
    """A signed quantity of one instrument (> 0 long, < 0 short), in units of the underlying."""

    instrument: str
    quantity: float


@dataclass(frozen=True, slots=True)
class Portfolio:
    """One account: collateral balances per asset and positions."""

    account: str
    collateral: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    positions: tuple[Position, ...] = ()
    parent: str | None = None
    mode: SubAccountMode | None = None


_PORTFOLIO_FIELDS = {"account", "collateral", "positions", "parent", "mode"}


def parse_portfolio(raw: object, field: str = "portfolio") -> Portfolio:
    """Validated :class:`Portfolio` from its JSON object; errors name the field."""
    if not isinstance(raw, dict):
        raise SolventInputError(field, "must be a JSON object")
    unknown = set(raw) - _PORTFOLIO_FIELDS
    if unknown:
        raise SolventInputError(f"{field}.{sorted(unknown)[0]}", "unknown field")
    account = raw.get("account")
    if not isinstance(account, str) or not account:
        raise SolventInputError(f"{field}.account", "required (a non-empty string)")
    collateral_raw = raw.get("collateral", {})
    if not isinstance(collateral_raw, dict):
        raise SolventInputError(f"{field}.collateral", "must be an object of asset -> amount")
    collateral = {
        str(a): finite_number(v, f"{field}.collateral.{a}") for a, v in collateral_raw.items()
    }
    positions_raw = raw.get("positions", [])
    if not isinstance(positions_raw, list):
        raise SolventInputError(f"{field}.positions", "must be a list")
    positions: list[Position] = []
    for i, p in enumerate(positions_raw):
        pf = f"{field}.positions[{i}]"
        if not isinstance(p, dict) or set(p) != {"instrument", "quantity"}:
            raise SolventInputError(pf, 'must be {"instrument": name, "quantity": number}')
        if not isinstance(p["instrument"], str) or not p["instrument"]:
            raise SolventInputError(f"{pf}.instrument", "must be a non-empty string")
        positions.append(Position(p["instrument"], finite_number(p["quantity"], f"{pf}.quantity")))
    parent = raw.get("parent")
    mode_raw = raw.get("mode")
    if parent is not None and (not isinstance(parent, str) or not parent):
        raise SolventInputError(f"{field}.parent", "must be an account id")
    mode: SubAccountMode | None = None
    if mode_raw is not None:
        if parent is None:
            raise SolventInputError(
                f"{field}.mode", "only a sub-account (with a parent) has a mode"
            )
        try:
            mode = SubAccountMode(mode_raw)
        except ValueError:
            raise SolventInputError(f"{field}.mode", "must be cross or isolated") from None
    elif parent is not None:
        mode = SubAccountMode.CROSS
    return Portfolio(account, MappingProxyType(collateral), tuple(positions), parent, mode)


def parse_portfolio_or_book(raw: object) -> tuple[list[Portfolio], bool]:
    """Portfolios of a portfolio or book JSON, and whether it was a book (``{"accounts": ...}``)."""
    if isinstance(raw, dict) and "accounts" in raw:
        if set(raw) != {"accounts"} or not isinstance(raw["accounts"], list):
            raise SolventInputError("accounts", 'a book is {"accounts": [portfolio, ...]}')
        portfolios = [parse_portfolio(p, f"accounts[{i}]") for i, p in enumerate(raw["accounts"])]
        names = [p.account for p in portfolios]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise SolventInputError("accounts", f"duplicate account {dup!r}")
        known = set(names)
        for i, p in enumerate(portfolios):
            if p.parent is not None and p.parent not in known:
                raise SolventInputError(f"accounts[{i}].parent", f"unknown parent {p.parent!r}")
        return portfolios, True
    return [parse_portfolio(raw)], False


def load_book(path: str | Path) -> list[Portfolio]:
    """The portfolios of a portfolio or book JSON file (one portfolio is a one-account book)."""
    return load_portfolio_or_book(path)[0]


def load_portfolio_or_book(path: str | Path) -> tuple[list[Portfolio], bool]:
    """Read a portfolio or book JSON file (FORMATS.md 2)."""
    return parse_portfolio_or_book(read_json(path, "portfolio"))
