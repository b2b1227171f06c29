"""Locations: other venues, custodians and chains where an account holds collateral.

A :class:`LocationSet` is a versioned parameter set (``data/locations-<version>.toml``, documented
field by field there and in docs/cross-venue.md): per location a haircut for where the coins sit,
the freshness limit of its attestations, the settlement time of a transfer out of it, the Ed25519
key its attestations are signed with and whether it publishes proofs of liabilities. An operator
lays a TOML file over the built-in set (``--locations FILE``): its locations replace or add to the
built-in ones field by field, which is how keys are registered.

All rates are fractions (0.10 = 10 %); times in seconds, settlement in days.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from solvent.collateral.assets import AssetClass
from solvent.errors import SolventInputError
from solvent.files import read_toml
from solvent.portfolio.external import location_name
from solvent.validation import number_in_range, shown

DEFAULT_LOCATIONS = "2026-11"
MAX_SETTLEMENT_DAYS = 365.0
MAX_AGE_SECONDS = 366 * 86400.0
_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
_LOCATION_FIELDS = frozenset(
    {"kind", "haircut", "max_age_seconds", "settlement_days", "public_key", "proof", "source"}
)


class LocationKind(StrEnum):
    """What a location is."""

    VENUE = "venue"
    CUSTODIAN = "custodian"
    CHAIN = "chain"


@dataclass(frozen=True, slots=True)
class Location:
    """One location's parameters (see the module docstring and the data file)."""

    name: str
    kind: LocationKind
    haircut: float
    max_age_seconds: float
    settlement_days: float
    public_key: str | None
    proof: bool
    source: str


@dataclass(frozen=True, slots=True)
class LocationSet:
    """Every known location, the 99 % one-day move per asset class (``settlement``, fractions)
    and the clock skew tolerated on attestation times (seconds)."""

    name: str
    version: str
    locations: Mapping[str, Location]
    settlement_move: Mapping[AssetClass, float]
    max_clock_skew_seconds: float

    @property
    def label(self) -> str:
        """``name@version``, as results name the parameter set they used."""
        return f"{self.name}@{self.version}"

    def get(self, name: str, field: str) -> Location:
        """The location ``name``; an unknown one raises naming ``field``."""
        try:
            return self.locations[name]
        except KeyError:
            known = ", ".join(sorted(self.locations))
            raise SolventInputError(field, f"unknown location {name!r} (known: {known})") from None

    def settlement_haircut(self, location: Location, asset_class: AssetClass) -> float:
        """Haircut for the T-day move of an asset of ``asset_class`` held at ``location``:
        ``min(1, daily_move x sqrt(T))`` (0 when transfers settle at once)."""
        move = self.settlement_move[asset_class] * math.sqrt(location.settlement_days)
        return min(1.0, move)


def _check_fields(raw: Mapping[str, Any], allowed: frozenset[str], field: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SolventInputError(f"{field}.{unknown[0]}", "unknown field")


def _location(name: str, spec: Any, base: Location | None, field: str) -> Location:
    if not isinstance(spec, dict):
        raise SolventInputError(field, "must be a table")
    _check_fields(spec, _LOCATION_FIELDS, field)
    merged: dict[str, Any] = {}
    if base is not None:
        merged = {
            "kind": base.kind.value,
            "haircut": base.haircut,
            "max_age_seconds": base.max_age_seconds,
            "settlement_days": base.settlement_days,
            "public_key": base.public_key,
            "proof": base.proof,
            "source": base.source,
        }
    merged.update(spec)
    for required in ("kind", "haircut", "max_age_seconds", "settlement_days", "source"):
        if merged.get(required) is None:
            raise SolventInputError(f"{field}.{required}", "required for a new location")
    try:
        kind = LocationKind(merged["kind"])
    except ValueError:
        raise SolventInputError(
            f"{field}.kind", f"must be venue, custodian or chain, got {shown(merged['kind'])}"
        ) from None
    key = merged.get("public_key")
    if key is not None and (not isinstance(key, str) or not _KEY.match(key)):
        raise SolventInputError(
            f"{field}.public_key", "must be an Ed25519 public key as 64 hex digits"
        )
    proof = merged.get("proof", False)
    if not isinstance(proof, bool):
        raise SolventInputError(f"{field}.proof", "must be true or false")
    source = merged["source"]
    if not isinstance(source, str) or not source.strip():
        raise SolventInputError(f"{field}.source", "must say where the figures come from")
    return Location(
        name=name,
        kind=kind,
        haircut=number_in_range(merged["haircut"], f"{field}.haircut", 0.0, 1.0),
        max_age_seconds=number_in_range(
            merged["max_age_seconds"], f"{field}.max_age_seconds", 0.0, MAX_AGE_SECONDS
        ),
        settlement_days=number_in_range(
            merged["settlement_days"], f"{field}.settlement_days", 0.0, MAX_SETTLEMENT_DAYS
        ),
        public_key=None if key is None else key.lower(),
        proof=proof,
        source=source,
    )


def parse_locations(
    raw: Mapping[str, Any], source: str = "locations", base: LocationSet | None = None
) -> LocationSet:
    """Validate a location set from its TOML mapping; laid over ``base`` when given (its
    locations and fields are kept unless ``raw`` replaces them)."""
    _check_fields(
        raw,
        frozenset({"name", "version", "max_clock_skew_seconds", "settlement", "locations"}),
        source,
    )
    name = raw.get("name", base.name if base else None)
    version = raw.get("version", base.version if base else None)
    if not isinstance(name, str) or not isinstance(version, str):
        raise SolventInputError(f"{source}.version", "name and version must be strings")
    skew_raw = raw.get("max_clock_skew_seconds", base.max_clock_skew_seconds if base else None)
    skew = number_in_range(skew_raw, f"{source}.max_clock_skew_seconds", 0.0, 86400.0)
    moves_raw = raw.get("settlement", {})
    if not isinstance(moves_raw, dict):
        raise SolventInputError(f"{source}.settlement", "must be a table of class -> move")
    _check_fields(moves_raw, frozenset(c.value for c in AssetClass), f"{source}.settlement")
    moves: dict[AssetClass, float] = {}
    for asset_class in AssetClass:
        value = moves_raw.get(asset_class.value)
        if value is None and base is not None:
            moves[asset_class] = base.settlement_move[asset_class]
            continue
        if value is None:
            raise SolventInputError(f"{source}.settlement.{asset_class.value}", "required")
        moves[asset_class] = number_in_range(
            value, f"{source}.settlement.{asset_class.value}", 0.0, 1.0
        )
    specs = raw.get("locations", {})
    if not isinstance(specs, dict):
        raise SolventInputError(f"{source}.locations", "must be a table of locations")
    locations = dict(base.locations) if base else {}
    for loc, spec in specs.items():
        field = f"{source}.locations.{loc}"
        location_name(loc, field)
        locations[loc] = _location(loc, spec, locations.get(loc), field)
    return LocationSet(name, version, MappingProxyType(locations), MappingProxyType(moves), skew)


def load_locations(spec: str | Path | None = None) -> LocationSet:
    """The built-in set (``None``), a built-in version by name, or a TOML file laid over the
    built-in set."""
    if spec is None:
        return default_locations()
    path = Path(spec)
    if path.suffix == ".toml":
        return parse_locations(read_toml(path, "locations"), path.name, default_locations())
    return _builtin(str(spec))


def builtin_versions() -> tuple[str, ...]:
    """Versions of the built-in location sets (``data/locations-<version>.toml``), sorted."""
    data = resources.files("solvent.venues").joinpath("data")
    names = (r.name for r in data.iterdir() if r.is_file())
    return tuple(sorted(n[len("locations-") : -len(".toml")] for n in names if _FILE.match(n)))


_FILE = re.compile(r"^locations-[0-9A-Za-z._-]+\.toml$")


@cache
def _builtin(version: str) -> LocationSet:
    if version not in builtin_versions():
        known = ", ".join(builtin_versions())
        raise SolventInputError(
            "locations",
            f"no built-in location set {shown(version)} (built in: {known}; or a .toml file)",
        )
    resource = resources.files("solvent.venues").joinpath(f"data/locations-{version}.toml")
    return parse_locations(tomllib.loads(resource.read_text("utf-8")), f"locations-{version}")


def default_locations() -> LocationSet:
    """The current built-in location set."""
    return _builtin(DEFAULT_LOCATIONS)
