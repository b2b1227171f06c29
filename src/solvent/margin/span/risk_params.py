"""SPAN risk parameter files (``SPAN.json``, FORMATS.md 6): load, validate, index.

A file holds risk arrays supplied by a clearing house (or written by hand): per combined commodity
its products (risk array, composite delta, tier, option flag, short option minimum), its
intra-commodity (tier) spreads and its maintenance-to-initial ratio; and, across combined
commodities, the inter-commodity spreads in priority order.

Units and signs: every amount (risk array values, spread charges, short option minimum, option
prices) is in the file's ``currency`` per 1 long unit of the product. A risk array value is the
*loss* of one long unit in a scenario: positive = loss, negative = gain. ``delta`` is the composite
delta of one long unit in underlying (futures-equivalent) units.

Optional extensions beyond FORMATS.md 6 (all optional, the file stays valid without them):

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
# validation helpers


def _require_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SolventInputError(path, "expected a JSON object")
    return value


def _require_list(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise SolventInputError(path, "expected a JSON array")
    return value


def _check_fields(
    obj: Mapping[str, Any], path: str, required: set[str], optional: set[str]
) -> None:
    for key in obj:
        if key not in required and key not in optional:
            allowed = ", ".join(sorted(required | optional))
            raise SolventInputError(_join(path, key), f"unknown field (allowed: {allowed})")
    for key in sorted(required):
        if key not in obj:
            raise SolventInputError(_join(path, key), "missing required field")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SolventInputError(path, f"expected a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise SolventInputError(path, f"must be a finite number, got {value!r}")
    return x


def _non_negative(value: Any, path: str) -> float:
    x = _number(value, path)
    if x < 0.0:
        raise SolventInputError(path, f"must be >= 0, got {x}")
    return x


def _integer(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SolventInputError(path, f"expected an integer, got {value!r}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise SolventInputError(path, f"expected an integer, got {value!r}")
    return int(value)


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise SolventInputError(path, f"expected a non-empty string, got {value!r}")
    return value


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SolventInputError(path, f"expected true or false, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# parsing


def _parse_product(raw: Any, path: str) -> SpanProduct:
    obj = _require_mapping(raw, path)
    _check_fields(
        obj,
        path,
        {"name", "delta", "risk_array"},
        {"tier", "is_option", "short_option_minimum", "price"},
    )
    name = _string(obj["name"], _join(path, "name"))
    ra_path = _join(path, "risk_array")
    values = _require_list(obj["risk_array"], ra_path)
    if len(values) != N_SCENARIOS:
        raise SolventInputError(
            ra_path, f"must hold exactly {N_SCENARIOS} values, got {len(values)}"
        )
    risk_array = tuple(_number(v, f"{ra_path}[{i}]") for i, v in enumerate(values))
    price = obj.get("price")
    return SpanProduct(
        name=name,
        tier=_integer(obj.get("tier", 1), _join(path, "tier")),
        delta=_number(obj["delta"], _join(path, "delta")),
        is_option=_boolean(obj.get("is_option", False), _join(path, "is_option")),
        risk_array=risk_array,
        short_option_minimum=_non_negative(
            obj.get("short_option_minimum", 0.0), _join(path, "short_option_minimum")
        ),
        price=None if price is None else _number(price, _join(path, "price")),
    )


def _parse_intra(raw: Any, path: str) -> IntraSpread:
    obj = _require_mapping(raw, path)
    _check_fields(obj, path, {"tier_a", "tier_b", "charge"}, set())
    tier_a = _integer(obj["tier_a"], _join(path, "tier_a"))
    tier_b = _integer(obj["tier_b"], _join(path, "tier_b"))
    if tier_a == tier_b:
        raise SolventInputError(_join(path, "tier_b"), "a tier spread needs two different tiers")
    return IntraSpread(tier_a, tier_b, _non_negative(obj["charge"], _join(path, "charge")))


def _parse_cc(raw: Any, path: str) -> CombinedCommodity:
    obj = _require_mapping(raw, path)
    _check_fields(obj, path, {"code", "products"}, {"intra_spreads", "maintenance_to_initial"})
    code = _string(obj["code"], _join(path, "code"))
    products_path = _join(path, "products")
    products = tuple(
        _parse_product(p, f"{products_path}[{i}]")
        for i, p in enumerate(_require_list(obj["products"], products_path))
    )
    intra_path = _join(path, "intra_spreads")
    intra = tuple(
        _parse_intra(s, f"{intra_path}[{i}]")
        for i, s in enumerate(_require_list(obj.get("intra_spreads", []), intra_path))
    )
    m2i_path = _join(path, "maintenance_to_initial")
    m2i = _number(obj.get("maintenance_to_initial", 1.0), m2i_path)
    if m2i < 1.0:
        raise SolventInputError(
            m2i_path, f"must be >= 1 (initial = maintenance x this ratio), got {m2i}"
        )
    return CombinedCommodity(code, products, intra, m2i)


def _parse_leg(raw: Any, path: str, position: int, codes: set[str]) -> InterLeg:
    obj = _require_mapping(raw, path)
    _check_fields(obj, path, {"cc", "delta_ratio"}, {"side", "credit_rate"})
    cc = _string(obj["cc"], _join(path, "cc"))
    if cc not in codes:
        raise SolventInputError(_join(path, "cc"), f"unknown combined commodity {cc!r}")
    ratio = _number(obj["delta_ratio"], _join(path, "delta_ratio"))
    if ratio <= 0.0:
        raise SolventInputError(_join(path, "delta_ratio"), f"must be > 0, got {ratio}")
    default_side = LegSide.A if position == 0 else LegSide.B
    side_raw = obj.get("side", default_side.value)
    if side_raw not in (LegSide.A.value, LegSide.B.value):
        raise SolventInputError(_join(path, "side"), f"must be 'A' or 'B', got {side_raw!r}")
    rate = obj.get("credit_rate")
    return InterLeg(
        cc=cc,
        delta_ratio=ratio,
        side=LegSide(side_raw),
        credit_rate=None if rate is None else _rate(rate, _join(path, "credit_rate")),
    )


def _rate(value: Any, path: str) -> float:
    x = _number(value, path)
    if not 0.0 <= x <= 1.0:
        raise SolventInputError(path, f"must be within [0, 1], got {x}")
    return x


def _parse_inter(raw: Any, path: str, codes: set[str]) -> InterSpread:
    obj = _require_mapping(raw, path)
    _check_fields(obj, path, {"priority", "credit_rate", "legs"}, set())
    legs_path = _join(path, "legs")
    raw_legs = _require_list(obj["legs"], legs_path)
    if len(raw_legs) < 2:
        raise SolventInputError(legs_path, "an inter-commodity spread needs at least two legs")
    legs = tuple(_parse_leg(leg, f"{legs_path}[{i}]", i, codes) for i, leg in enumerate(raw_legs))
    seen: set[str] = set()
    for i, leg in enumerate(legs):
        if leg.cc in seen:
            raise SolventInputError(f"{legs_path}[{i}].cc", f"combined commodity {leg.cc!r} twice")
        seen.add(leg.cc)
    if len({leg.side for leg in legs}) != 2:
        raise SolventInputError(legs_path, "needs at least one leg on side A and one on side B")
    return InterSpread(
        priority=_integer(obj["priority"], _join(path, "priority")),
        credit_rate=_rate(obj["credit_rate"], _join(path, "credit_rate")),
        legs=legs,
    )


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
    obj = _require_mapping(raw, "")
    _check_fields(obj, "", {"currency", "combined_commodities"}, {"inter_spreads"})
    currency = _string(obj["currency"], "currency")
    raw_ccs = _require_list(obj["combined_commodities"], "combined_commodities")
    ccs = tuple(_parse_cc(c, f"combined_commodities[{i}]") for i, c in enumerate(raw_ccs))
    codes: set[str] = set()
    for i, cc in enumerate(ccs):
        if cc.code in codes:
            raise SolventInputError(
                f"combined_commodities[{i}].code", f"combined commodity {cc.code!r} twice"
            )
        codes.add(cc.code)
    raw_inter = _require_list(obj.get("inter_spreads", []), "inter_spreads")
    inter = tuple(_parse_inter(s, f"inter_spreads[{i}]", codes) for i, s in enumerate(raw_inter))
    return SpanRiskParameters(currency, ccs, inter, _build_table(ccs))


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
    """Read and validate a ``SPAN.json`` file (FORMATS.md 6)."""
    # NaN / Infinity decode to floats and are rejected per field
    return parse_span_params(read_json(path, "risk_params"))
