"""SPAN risk parameter files (``SPAN.json``, docs/formats.md 6): load, validate, index.

A file holds risk arrays supplied by a clearing house (or written by hand): per combined commodity
its products (risk array, composite delta, tier, option flag, short option minimum), its
intra-commodity (tier) spreads and its maintenance-to-initial ratio; and, across combined
commodities, the inter-commodity spreads in priority order.

Units and signs: every amount (risk array values, spread charges, short option minimum, option
prices) is in the file's ``currency`` per 1 long unit of the product. A risk array value is the
*loss* of one long unit in a scenario: positive = loss, negative = gain. ``delta`` is the composite
delta of one long unit in underlying (futures-equivalent) units.

Optional extensions beyond docs/formats.md 6 (all optional, the file stays valid without them):

- ``products[].price``: the option's premium per unit, for the reported net option value;
- ``inter_spreads[].legs[].credit_rate``: a per-leg credit rate overriding the spread's;
- ``inter_spreads[].legs[].side``: ``"A"`` or ``"B"``; legs on side A must hold net deltas of one
  sign and legs on side B the opposite sign. Default: the first leg is side A, the others side B.

Every defect is a :class:`~solvent.errors.SolventInputError` naming the field by its path, e.g.
``combined_commodities[0].products[1].risk_array``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from solvent.errors import SolventInputError
from solvent.files import read_json
from solvent.margin.params import (
    Table,
    flag,
    integer,
    number,
    numbers,
    rows,
    text,
    validate_table,
)
from solvent.margin.span.scenarios import N_SCENARIOS


class LegSide(StrEnum):
    """The side of an inter-commodity spread leg: A legs and B legs hold opposite deltas."""

    A = "A"
    B = "B"


@dataclass(frozen=True, slots=True)
class SpanProduct:
    """One product (a future, an option series): its risk array per 1 long unit, in currency."""

    name: str
    tier: int
    delta: float
    is_option: bool
    risk_array: tuple[float, ...]
    short_option_minimum: float = 0.0
    price: float | None = None


@dataclass(frozen=True, slots=True)
class IntraSpread:
    """A tier spread: 1 delta long in one tier against 1 delta short in the other (either way)."""

    tier_a: int
    tier_b: int
    charge: float


@dataclass(frozen=True, slots=True)
class CombinedCommodity:
    """Products sharing one underlying, margined together (scan, intra spreads, SOM)."""

    code: str
    products: tuple[SpanProduct, ...]
    intra_spreads: tuple[IntraSpread, ...] = ()
    maintenance_to_initial: float = 1.0


@dataclass(frozen=True, slots=True)
class InterLeg:
    """One leg of an inter-commodity spread: ``delta_ratio`` deltas of combined commodity ``cc``."""

    cc: str
    delta_ratio: float
    side: LegSide
    credit_rate: float | None = None


@dataclass(frozen=True, slots=True)
class InterSpread:
    """An inter-commodity spread; lower ``priority`` numbers are formed first."""

    priority: int
    credit_rate: float
    legs: tuple[InterLeg, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ProductTable:
    """The file's products as columns (one row per product, in file order), built once.

    ``risk_arrays`` (P x 16) losses per long unit; ``cc_index`` the row's combined commodity
    (index into ``SpanRiskParameters.combined_commodities``); ``tier_group`` the row's
    (combined commodity, tier) group, an index into ``tier_groups``.
    """

    names: tuple[str, ...]
    index: Mapping[str, int]
    risk_arrays: NDArray[np.float64]
    cc_index: NDArray[np.intp]
    tier: NDArray[np.int64]
    delta: NDArray[np.float64]
    is_option: NDArray[np.bool_]
    short_option_minimum: NDArray[np.float64]
    price: NDArray[np.float64]  # NaN where the file gives no price
    tier_groups: tuple[tuple[int, int], ...]  # (cc index, tier) per group
    tier_group: NDArray[np.intp]


@dataclass(frozen=True, slots=True, eq=False)
class SpanRiskParameters:
    """A validated SPAN risk parameter file."""

    currency: str
    combined_commodities: tuple[CombinedCommodity, ...]
    inter_spreads: tuple[InterSpread, ...]
    table: ProductTable = field(repr=False)

    def cc_position(self, code: str) -> int:
        """Index of the combined commodity ``code`` in :attr:`combined_commodities`."""
        for i, cc in enumerate(self.combined_commodities):
            if cc.code == code:
                return i
        raise KeyError(code)


# --------------------------------------------------------------------------------------------
# declaration (solvent.margin.params): every field's type and range, checked with its path

_WIDE = 10**9
"""Tiers and priorities: any whole number the file uses."""


def _intra_check(values: Mapping[str, Any], path: str) -> None:
    if values["tier_a"] == values["tier_b"]:
        raise SolventInputError(f"{path}.tier_b", "a tier spread needs two different tiers")


def _leg_side(leg: Mapping[str, Any], position: int) -> str:
    """A leg's side: its own, else A for the first leg and B for the others."""
    side = leg.get("side")
    return str(side) if side is not None else ("A" if position == 0 else "B")


def _inter_check(values: Mapping[str, Any], path: str) -> None:
    legs = values["legs"]
    seen: set[str] = set()
    for i, leg in enumerate(legs):
        if leg["cc"] in seen:
            raise SolventInputError(
                f"{path}.legs[{i}].cc", f"combined commodity {leg['cc']!r} twice"
            )
        seen.add(leg["cc"])
    if len({_leg_side(leg, i) for i, leg in enumerate(legs)}) != 2:
        raise SolventInputError(
            f"{path}.legs", "needs at least one leg on side A and one on side B"
        )


def _file_check(values: Mapping[str, Any], path: str) -> None:
    codes: set[str] = set()
    for i, cc in enumerate(values["combined_commodities"]):
        if cc["code"] in codes:
            raise SolventInputError(
                f"combined_commodities[{i}].code", f"combined commodity {cc['code']!r} twice"
            )
        codes.add(cc["code"])
    for i, spread in enumerate(values["inter_spreads"]):
        for j, leg in enumerate(spread["legs"]):
            if leg["cc"] not in codes:
                raise SolventInputError(
                    f"inter_spreads[{i}].legs[{j}].cc", f"unknown combined commodity {leg['cc']!r}"
                )


_PRODUCT = Table(
    {
        "name": text(nonempty=True),
        "tier": integer(-_WIDE, _WIDE, default=1),
        "delta": number(unit="underlying units per long unit"),
        "is_option": flag(default=False),
        "risk_array": numbers(
            min_len=N_SCENARIOS, max_len=N_SCENARIOS, unit="currency per long unit, loss > 0"
        ),
        "short_option_minimum": number(0.0, unit="currency per short option", default=0.0),
        "price": number(unit="currency per unit", optional=True),
    }
)
_INTRA = Table(
    {
        "tier_a": integer(-_WIDE, _WIDE),
        "tier_b": integer(-_WIDE, _WIDE),
        "charge": number(0.0, unit="currency per delta spread"),
    },
    check=_intra_check,
)
_COMBINED = Table(
    {
        "code": text(nonempty=True),
        "products": rows(_PRODUCT),
        "intra_spreads": rows(_INTRA, default=True),
        "maintenance_to_initial": number(1.0, unit="initial / maintenance", default=1.0),
    }
)
_LEG = Table(
    {
        "cc": text(nonempty=True),
        "delta_ratio": number(0.0, lo_open=True, unit="deltas per spread"),
        "side": text(choices=tuple(s.value for s in LegSide), optional=True),
        "credit_rate": number(0.0, 1.0, unit="fraction", optional=True),
    }
)
_INTER = Table(
    {
        "priority": integer(-_WIDE, _WIDE),
        "credit_rate": number(0.0, 1.0, unit="fraction"),
        "legs": rows(_LEG, min_len=2),
    },
    check=_inter_check,
)
SPAN_FILE = Table(
    {
        "currency": text(nonempty=True),
        "combined_commodities": rows(_COMBINED),
        "inter_spreads": rows(_INTER, default=True),
    },
    check=_file_check,
    source="the clearing house's SPAN file (docs/formats.md 6)",
)
"""The fields of a ``SPAN.json`` document."""


def _product(v: Mapping[str, Any]) -> SpanProduct:
    return SpanProduct(
        name=v["name"],
        tier=v["tier"],
        delta=v["delta"],
        is_option=v["is_option"],
        risk_array=tuple(v["risk_array"]),
        short_option_minimum=v["short_option_minimum"],
        price=v.get("price"),
    )


def _combined(v: Mapping[str, Any]) -> CombinedCommodity:
    return CombinedCommodity(
        v["code"],
        tuple(_product(p) for p in v["products"]),
        tuple(IntraSpread(s["tier_a"], s["tier_b"], s["charge"]) for s in v["intra_spreads"]),
        v["maintenance_to_initial"],
    )


def _inter(v: Mapping[str, Any]) -> InterSpread:
    legs = tuple(
        InterLeg(leg["cc"], leg["delta_ratio"], LegSide(_leg_side(leg, i)), leg.get("credit_rate"))
        for i, leg in enumerate(v["legs"])
    )
    return InterSpread(v["priority"], v["credit_rate"], legs)


def _build_table(ccs: tuple[CombinedCommodity, ...]) -> ProductTable:
    names: list[str] = []
    index: dict[str, int] = {}
    arrays: list[tuple[float, ...]] = []
    cc_index: list[int] = []
    tiers: list[int] = []
    deltas: list[float] = []
    options: list[bool] = []
    soms: list[float] = []
    prices: list[float] = []
    groups: dict[tuple[int, int], int] = {}
    group_of: list[int] = []
    for c, cc in enumerate(ccs):
        for p, product in enumerate(cc.products):
            if product.name in index:
                raise SolventInputError(
                    f"combined_commodities[{c}].products[{p}].name",
                    f"product {product.name!r} appears twice in the file",
                )
            index[product.name] = len(names)
            names.append(product.name)
            arrays.append(product.risk_array)
            cc_index.append(c)
            tiers.append(product.tier)
            deltas.append(product.delta)
            options.append(product.is_option)
            soms.append(product.short_option_minimum)
            prices.append(math.nan if product.price is None else product.price)
            group_of.append(groups.setdefault((c, product.tier), len(groups)))
    n = len(names)
    return ProductTable(
        names=tuple(names),
        index=index,
        risk_arrays=np.asarray(arrays, dtype=np.float64).reshape(n, N_SCENARIOS),
        cc_index=np.asarray(cc_index, dtype=np.intp),
        tier=np.asarray(tiers, dtype=np.int64),
        delta=np.asarray(deltas, dtype=np.float64),
        is_option=np.asarray(options, dtype=np.bool_),
        short_option_minimum=np.asarray(soms, dtype=np.float64),
        price=np.asarray(prices, dtype=np.float64),
        tier_groups=tuple(groups),
        tier_group=np.asarray(group_of, dtype=np.intp),
    )


def parse_span_params(raw: Any) -> SpanRiskParameters:
    """Validate a decoded ``SPAN.json`` document and build its product table."""
    values = validate_table(SPAN_FILE, raw, "")
    ccs = tuple(_combined(c) for c in values["combined_commodities"])
    inter = tuple(_inter(s) for s in values["inter_spreads"])
    return SpanRiskParameters(values["currency"], ccs, inter, _build_table(ccs))


def make_span_parameters(
    currency: str,
    combined_commodities: Sequence[CombinedCommodity],
    inter_spreads: Sequence[InterSpread] = (),
) -> SpanRiskParameters:
    """Assemble parameters built in code (e.g. from computed risk arrays), with the file's checks
    on names: unique CC codes and product names, inter-spread legs naming known CCs."""
    ccs = tuple(combined_commodities)
    codes = [cc.code for cc in ccs]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise SolventInputError(f"combined_commodities[{i}].code", f"{code!r} twice")
    for i, spread in enumerate(inter_spreads):
        for j, leg in enumerate(spread.legs):
            if leg.cc not in codes:
                raise SolventInputError(
                    f"inter_spreads[{i}].legs[{j}].cc", f"unknown combined commodity {leg.cc!r}"
                )
    return SpanRiskParameters(currency, ccs, tuple(inter_spreads), _build_table(ccs))


def load_span_params(path: str | Path) -> SpanRiskParameters:
    """Read and validate a ``SPAN.json`` file (docs/formats.md 6)."""
    # NaN / Infinity decode to floats and are rejected per field
    return parse_span_params(read_json(path, "risk_params"))
