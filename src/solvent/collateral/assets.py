"""Collateral assets: symbol, base-unit decimals and class; exact amount parsing.

Money in the ledger is an integer count of an asset's base unit (10^-decimals of one coin).
Decimal strings from users are parsed with :class:`decimal.Decimal`, never through a float, and an
amount finer than the base unit is refused rather than rounded.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from solvent.errors import SolventInputError
from solvent.files import read_toml

#: Largest magnitude a ledger amount may take (signed 64-bit integer, the BIGINT column).
MAX_UNITS = 2**63 - 1


class AssetClass(Enum):
    """Haircut class of a collateral asset (METHODOLOGY 7)."""

    STABLECOIN = "stablecoin"
    MAJOR = "major"
    MIDCAP = "midcap"
    LONGTAIL = "longtail"


@dataclass(frozen=True, slots=True)
class Asset:
    """A collateral asset. ``decimals``: the ledger counts integers of ``10**-decimals`` coin."""

    symbol: str
    decimals: int
    asset_class: AssetClass

    @property
    def unit(self) -> Decimal:
        """One base unit in coin (e.g. ``Decimal("1E-8")`` for BTC)."""
        return Decimal(1).scaleb(-self.decimals)

    def to_units(self, amount: Decimal, field: str = "amount") -> int:
        """Exact conversion of a coin amount to base units; refuses finer amounts and overflow."""
        if not amount.is_finite():
            raise SolventInputError(field, f"{amount} is not a finite number")
        scaled = amount.scaleb(self.decimals)
        if scaled != scaled.to_integral_value():
            raise SolventInputError(
                field,
                f"{format(amount, 'f')} has more decimals than {self.symbol} allows "
                f"({self.decimals})",
            )
        units = int(scaled)
        if abs(units) > MAX_UNITS:
            raise SolventInputError(field, f"{amount} {self.symbol} is too large for the ledger")
        return units

    def to_decimal(self, units: int) -> Decimal:
        """Base units -> coin amount, exact (``Decimal``)."""
        return Decimal(units).scaleb(-self.decimals)

    def format(self, units: int) -> str:
        """Base units -> plain decimal string, no trailing zeros (``150000000`` -> ``"1.5"``)."""
        return format_decimal(self.to_decimal(units))


def format_decimal(value: Decimal) -> str:
    """A Decimal as a plain string (no exponent), trailing zeros removed: ``"1.5"``, ``"0"``."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_decimal(text: str, field: str) -> Decimal:
    """Parse a decimal string exactly (``"1.5"``, ``"-0.25"``); refuses NaN, inf and garbage."""
    if not isinstance(text, str):
        raise SolventInputError(field, "must be a decimal string")
    stripped = text.strip()
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise SolventInputError(field, f"{text!r} is not a decimal number") from None
    if not value.is_finite() or "e" in stripped.lower():
        raise SolventInputError(field, f"{text!r} is not a plain finite decimal number")
    return value


def parse_amount(asset: Asset, text: str, field: str = "amount") -> int:
    """A strictly positive decimal string -> exact base units of ``asset``."""
    value = parse_decimal(text, field)
    if value <= 0:
        raise SolventInputError(field, f"{text} must be greater than zero")
    return asset.to_units(value, field)


@dataclass(frozen=True, slots=True)
class AssetRegistry:
    """The assets the ledger accepts, from a versioned data file."""

    version: str
    assets: Mapping[str, Asset]

    def get(self, symbol: str, field: str = "asset") -> Asset:
        """The asset named ``symbol``; unknown assets raise :class:`SolventInputError`."""
        try:
            return self.assets[symbol]
        except KeyError:
            known = ", ".join(sorted(self.assets))
            raise SolventInputError(field, f"unknown asset {symbol!r} (known: {known})") from None

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.assets

    def __iter__(self) -> Iterator[Asset]:
        return iter(self.assets.values())


def _parse_registry(raw: Mapping[str, Any], source: str) -> AssetRegistry:
    unknown = set(raw) - {"version", "assets"}
    if unknown:
        raise SolventInputError(f"{source}.{sorted(unknown)[0]}", "unknown field")
    version = raw.get("version")
    if not isinstance(version, str):
        raise SolventInputError(f"{source}.version", "must be a string")
    assets: dict[str, Asset] = {}
    for symbol, spec in dict(raw.get("assets", {})).items():
        field = f"{source}.assets.{symbol}"
        if not isinstance(spec, dict) or set(spec) - {"decimals", "class"}:
            raise SolventInputError(field, "expects exactly the fields decimals and class")
        decimals = spec.get("decimals")
        if not isinstance(decimals, int) or not 0 <= decimals <= 9:
            raise SolventInputError(f"{field}.decimals", "must be an integer in [0, 9]")
        try:
            asset_class = AssetClass(spec.get("class"))
        except ValueError:
            raise SolventInputError(
                f"{field}.class", f"unknown class {spec.get('class')!r}"
            ) from None
        assets[symbol] = Asset(symbol, decimals, asset_class)
    return AssetRegistry(version, assets)


def load_assets(path: Path | None = None) -> AssetRegistry:
    """Load an asset registry from a TOML file (default: the package's ``data/assets.toml``)."""
    if path is None:
        return default_assets()
    return _parse_registry(read_toml(path, "assets"), path.name)


@cache
def default_assets() -> AssetRegistry:
    """The package's built-in asset registry (cached)."""
    text = resources.files("solvent.collateral").joinpath("data/assets.toml").read_text("utf-8")
    return _parse_registry(tomllib.loads(text), "assets.toml")
