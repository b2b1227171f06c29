"""Haircut schedules as versioned data: class rates, concentration tiers, liquidity settings.

A schedule is a frozen value loaded from TOML (``data/haircuts-<version>.toml``) and validated: an
unknown field or an out-of-range rate raises :class:`SolventInputError` naming the field. All rates
are fractions of USD value (0.10 = 10 %).
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from solvent.collateral.assets import AssetClass
from solvent.errors import SolventInputError
from solvent.files import read_toml

DEFAULT_SCHEDULE = "2026-02"


@dataclass(frozen=True, slots=True)
class ConcentrationTiers:
    """Marginal tiers on a holding's USD value.

    ``bounds_usd[i]`` is the upper bound of tier ``i`` (increasing, the last tier is open-ended so
    there is one rate more than bounds); the slice of the holding inside tier ``i`` is cut at
    ``rates[i]``. The haircut amount (USD) is therefore piecewise linear in the holding's value.
    """

    bounds_usd: tuple[float, ...]
    rates: tuple[float, ...]

    def haircut_amount_usd(self, value_usd: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """USD haircut of holdings worth ``value_usd`` (>= 0, any shape), summed tier by tier."""
        knots = np.concatenate(([0.0], np.asarray(self.bounds_usd, dtype=np.float64)))
        widths = np.diff(knots)
        cumulative = np.concatenate(([0.0], np.cumsum(widths * np.asarray(self.rates[:-1]))))
        inside = np.interp(value_usd, knots, cumulative)
        beyond = np.maximum(value_usd - knots[-1], 0.0) * self.rates[-1]
        return np.asarray(inside + beyond, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class ClassRule:
    """Haircut rule of one asset class: base rate, the seed range it must sit in, and tiers."""

    haircut: float
    low: float
    high: float
    tiers: ConcentrationTiers


@dataclass(frozen=True, slots=True)
class HaircutSchedule:
    """A versioned haircut schedule (see docs/methodology/collateral.md)."""

    name: str
    version: str
    classes: Mapping[AssetClass, ClassRule]
    asset_haircuts: Mapping[str, float]
    unfilled_haircut: float

    @property
    def label(self) -> str:
        """``name@version``, as results name the parameter set they used."""
        return f"{self.name}@{self.version}"

    def class_haircut(self, symbol: str, asset_class: AssetClass) -> float:
        """Class (or per-asset) base haircut of ``symbol``."""
        return self.asset_haircuts.get(symbol, self.classes[asset_class].haircut)


def _rate(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SolventInputError(field, "must be a number")
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise SolventInputError(field, f"{rate} is outside [0, 1]")
    return rate


def _check_fields(raw: Mapping[str, Any], allowed: set[str], field: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SolventInputError(f"{field}.{unknown[0]}", "unknown field")


def _parse_tiers(raw: Any, field: str) -> ConcentrationTiers:
    if not isinstance(raw, list) or not raw:
        raise SolventInputError(field, "must be a non-empty list of tiers")
    bounds: list[float] = []
    rates: list[float] = []
    for i, tier in enumerate(raw):
        tier_field = f"{field}[{i}]"
        if not isinstance(tier, dict):
            raise SolventInputError(tier_field, "must be a table")
        _check_fields(tier, {"upto_usd", "haircut"}, tier_field)
        rates.append(_rate(tier.get("haircut"), f"{tier_field}.haircut"))
        last = i == len(raw) - 1
        if last and "upto_usd" in tier:
            raise SolventInputError(f"{tier_field}.upto_usd", "the last tier is open-ended")
        if not last:
            bound = tier.get("upto_usd")
            if isinstance(bound, bool) or not isinstance(bound, int | float) or bound <= 0:
                raise SolventInputError(f"{tier_field}.upto_usd", "must be a positive number")
            if bounds and bound <= bounds[-1]:
                raise SolventInputError(f"{tier_field}.upto_usd", "tier bounds must increase")
            bounds.append(float(bound))
    if any(b < a for a, b in itertools.pairwise(rates)):
        raise SolventInputError(field, "tier haircuts must not decrease with size")
    return ConcentrationTiers(tuple(bounds), tuple(rates))


def parse_schedule(raw: Mapping[str, Any], source: str = "schedule") -> HaircutSchedule:
    """Validate a schedule from its TOML/JSON mapping."""
    _check_fields(raw, {"name", "version", "classes", "asset_haircuts", "liquidity"}, source)
    name, version = raw.get("name"), raw.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise SolventInputError(f"{source}.version", "name and version must be strings")
    classes: dict[AssetClass, ClassRule] = {}
    raw_classes = raw.get("classes", {})
    for asset_class in AssetClass:
        field = f"{source}.classes.{asset_class.value}"
        spec = raw_classes.get(asset_class.value)
        if not isinstance(spec, dict):
            raise SolventInputError(field, "missing class")
        _check_fields(spec, {"haircut", "range", "tiers"}, field)
        bounds = spec.get("range")
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise SolventInputError(f"{field}.range", "must be [low, high]")
        low, high = _rate(bounds[0], f"{field}.range"), _rate(bounds[1], f"{field}.range")
        haircut = _rate(spec.get("haircut"), f"{field}.haircut")
        if not low <= haircut <= high:
            raise SolventInputError(f"{field}.haircut", f"{haircut} outside the class range")
        tiers = _parse_tiers(spec.get("tiers"), f"{field}.tiers")
        classes[asset_class] = ClassRule(haircut, low, high, tiers)
    unknown_classes = sorted(set(raw_classes) - {c.value for c in AssetClass})
    if unknown_classes:
        raise SolventInputError(f"{source}.classes.{unknown_classes[0]}", "unknown class")
    asset_haircuts = {
        str(symbol): _rate(rate, f"{source}.asset_haircuts.{symbol}")
        for symbol, rate in dict(raw.get("asset_haircuts", {})).items()
    }
    liquidity = raw.get("liquidity", {})
    _check_fields(liquidity, {"unfilled_haircut"}, f"{source}.liquidity")
    unfilled = _rate(liquidity.get("unfilled_haircut", 1.0), f"{source}.liquidity.unfilled_haircut")
    return HaircutSchedule(name, version, classes, asset_haircuts, unfilled)


def validate_asset_haircuts(schedule: HaircutSchedule, classes: Mapping[str, AssetClass]) -> None:
    """Check that every per-asset rate sits inside its class's seed range."""
    for symbol, rate in schedule.asset_haircuts.items():
        if symbol not in classes:
            raise SolventInputError(f"asset_haircuts.{symbol}", "unknown asset")
        rule = schedule.classes[classes[symbol]]
        if not rule.low <= rate <= rule.high:
            raise SolventInputError(
                f"asset_haircuts.{symbol}", f"{rate} outside the {classes[symbol].value} range"
            )


def load_schedule(name_or_path: str | Path = DEFAULT_SCHEDULE) -> HaircutSchedule:
    """A built-in schedule by version (``"2026-02"``) or a TOML file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return parse_schedule(read_toml(path, "schedule"), path.name)
    return _builtin(str(name_or_path))


@cache
def _builtin(version: str) -> HaircutSchedule:
    resource = resources.files("solvent.collateral").joinpath(f"data/haircuts-{version}.toml")
    if not resource.is_file():
        raise SolventInputError("schedule", f"no built-in haircut schedule {version!r}")
    return parse_schedule(tomllib.loads(resource.read_text("utf-8")), f"haircuts-{version}")


def default_schedule() -> HaircutSchedule:
    """The current built-in schedule."""
    return _builtin(DEFAULT_SCHEDULE)
