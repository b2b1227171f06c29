"""Portfolios (docs/formats.md 2): one account's collateral and signed positions.

``quantity > 0`` is long, ``< 0`` short, in units of the underlying (times the contract size).
Collateral balances are in units of each asset (1.5 BTC), signed: a negative balance is a debt
(valued at full price with no haircut, ``debt_usd``), as on a venue after a loss.
Both are bounded by :data:`MAX_AMOUNT` so that every downstream product and sum stays finite.

A position may carry an ``entry_price`` (futures and perpetuals: USD per unit of the underlying;
options: premium per unit of the underlying in the settlement asset): the account's equity then
includes the unrealized P&L since entry (:mod:`solvent.accounts.equity`). Without it the position
is taken as marked at the current mark, its P&L already settled into the collateral.

Positions held at another venue name it (``"venue"``; ``None``: held here), and collateral held
elsewhere is listed under ``"external"`` (:mod:`solvent.portfolio.external`; docs/formats.md 13):
both are margined as one portfolio with the rest (docs/cross-venue.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from solvent.errors import SolventInputError, warn
from solvent.files import read_json
from solvent.portfolio.external import ExternalHolding, location_name, parse_external
from solvent.validation import number_in_range, positive_number


class SubAccountMode(StrEnum):
    """How a sub-account relates to its parent (docs/formats.md 2)."""

    CROSS = "cross"
    ISOLATED = "isolated"


@dataclass(frozen=True, slots=True)
class Position:
    """A signed quantity of one instrument (> 0 long, < 0 short), in units of the underlying,
    and its optional entry price (see the module docstring; ``None``: marked at the mark), held
    at ``venue`` (``None``: here)."""

    instrument: str
    quantity: float
    entry_price: float | None = None
    venue: str | None = None


@dataclass(frozen=True, slots=True)
class Portfolio:
    """One account: collateral balances per asset, positions, and collateral held elsewhere."""

    account: str
    collateral: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    positions: tuple[Position, ...] = ()
    parent: str | None = None
    mode: SubAccountMode | None = None
    external: tuple[ExternalHolding, ...] = ()


_PORTFOLIO_FIELDS = {"account", "collateral", "positions", "parent", "mode", "external"}
_POSITION_FIELDS = frozenset({"instrument", "quantity"})
_POSITION_OPTIONAL = frozenset({"entry_price", "venue"})

MAX_ENTRY_PRICE = 1e12
"""Highest accepted ``entry_price`` (the highest accepted index price, USD)."""

MAX_AMOUNT = 1e15
"""Largest absolute quantity of a position and largest collateral amount, in units of the asset
(docs/formats.md, "Validation rules"): 1e15 units at the highest accepted index price (1e12 USD)
is 1e27 USD, far inside the float range even squared."""


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
    if account.startswith("@"):
        raise SolventInputError(
            f"{field}.account",
            f"{account!r}: ids starting with '@' are the venue's own accounts (@venue, "
            "@insurance, ...), never a user's",
        )
    for key, empty in (("collateral", "no collateral"), ("positions", "no positions")):
        if key not in raw:
            warn(f"{field}.{key}", f"missing: taken as {empty} (write {key!r} explicitly)")
    collateral_raw = raw.get("collateral", {})
    if not isinstance(collateral_raw, dict):
        raise SolventInputError(f"{field}.collateral", "must be an object of asset -> amount")
    collateral = {
        str(a): number_in_range(v, f"{field}.collateral.{a}", -MAX_AMOUNT, MAX_AMOUNT)
        for a, v in collateral_raw.items()
    }
    positions_raw = raw.get("positions", [])
    if not isinstance(positions_raw, list):
        raise SolventInputError(f"{field}.positions", "must be a list")
    positions: list[Position] = []
    for i, p in enumerate(positions_raw):
        pf = f"{field}.positions[{i}]"
        if not isinstance(p, dict) or not _POSITION_FIELDS <= set(p) <= (
            _POSITION_FIELDS | _POSITION_OPTIONAL
        ):
            raise SolventInputError(pf, 'must be {"instrument": name, "quantity": number}')
        if not isinstance(p["instrument"], str) or not p["instrument"]:
            raise SolventInputError(f"{pf}.instrument", "must be a non-empty string")
        quantity = number_in_range(p["quantity"], f"{pf}.quantity", -MAX_AMOUNT, MAX_AMOUNT)
        entry_price = (
            parse_entry_price(p["entry_price"], f"{pf}.entry_price") if "entry_price" in p else None
        )
        venue = location_name(p["venue"], f"{pf}.venue") if "venue" in p else None
        positions.append(Position(p["instrument"], quantity, entry_price, venue))
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
    external = parse_external(raw.get("external"), f"{field}.external")
    return Portfolio(
        account, MappingProxyType(collateral), tuple(positions), parent, mode, external
    )


def parse_entry_price(value: object, field: str) -> float:
    """A position's ``entry_price``: a finite number in ``(0, MAX_ENTRY_PRICE]``."""
    price = positive_number(value, field)
    if price > MAX_ENTRY_PRICE:
        raise SolventInputError(field, f"must be at most {MAX_ENTRY_PRICE:g}, got {price!r}")
    return price


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
        _check_parents(portfolios)
        return portfolios, True
    return [parse_portfolio(raw)], False


def _check_parents(portfolios: list[Portfolio]) -> None:
    """Every parent is another account of the book, and following parents always ends at an
    account without one (no account is its own parent, directly or through others)."""
    parent_of = {p.account: p.parent for p in portfolios}
    for i, p in enumerate(portfolios):
        if p.parent is None:
            continue
        field = f"accounts[{i}].parent"
        if p.parent == p.account:
            raise SolventInputError(field, f"{p.account!r} cannot be its own parent")
        if p.parent not in parent_of:
            raise SolventInputError(field, f"unknown parent {p.parent!r}")
        chain = [p.account]
        node: str | None = p.parent
        while node is not None:
            if node in chain:
                cycle = " -> ".join([*chain[chain.index(node) :], node])
                raise SolventInputError(field, f"sub-accounts form a cycle: {cycle}")
            chain.append(node)
            node = parent_of[node]


def load_book(path: str | Path) -> list[Portfolio]:
    """The portfolios of a portfolio or book JSON file (one portfolio is a one-account book)."""
    return load_portfolio_or_book(path)[0]


def load_portfolio_or_book(path: str | Path) -> tuple[list[Portfolio], bool]:
    """Read a portfolio or book JSON file (docs/formats.md 2)."""
    return parse_portfolio_or_book(read_json(path, "portfolio"))
