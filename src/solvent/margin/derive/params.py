"""Parameter sets of Derive's v2 margin managers (PMRM_2, PMRM v1, Standard Manager), as data.

Every numeric field carries its upstream name (Derive v2-core struct member, e.g. ``volRangeUp``)
and the range the upstream setter accepts (or, where the source is silent, the range the upstream
test fixtures explore; see docs/methodology/derive.md). Parameter sets are TOML files in
``solvent/margin/params/derive-*.toml``, declared and loaded with :mod:`solvent.margin.params`:
one schema per manager (:data:`PMRM2`, :data:`PMRM1`, :data:`SRM`), each loading a built-in set by
name or a file merged over its base set (``base_set``, else the manager's default set). An unknown
field, a wrong type or an out-of-range value raises :class:`solvent.errors.SolventInputError`
naming the field.

All percentages and factors are decimals (0.015 = 1.5 %); prices in USD; ``dte_floor_days`` in days.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from solvent.errors import SolventInputError
from solvent.margin.derive._fields import param
from solvent.margin.params import (
    ParamsSchema,
    Table,
    as_number,
    based_on,
    custom,
    dataclass_table,
    flag,
    frozen_tables,
    number,
    partial,
    table,
    tables,
)
from solvent.margin.protocol import ParamsId

T = TypeVar("T")

UPSTREAM = "Derive v2-core"


class VolShock(enum.Enum):
    """Vol leg of a scenario: shocked up / down / unchanged, or one of the two skew shocks."""

    UP = "Up"
    NONE = "None"
    DOWN = "Down"
    LINEAR = "Linear"
    ABS = "Abs"

    @property
    def is_skew(self) -> bool:
        return self in (VolShock.LINEAR, VolShock.ABS)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One PMRM scenario: spot multiplier ``spot_shock`` (1.18 = +18 %), vol leg, dampening.

    The scenario P&L (USD) is multiplied by ``dampening`` (tail scenarios use < 1).
    """

    spot_shock: float
    vol_shock: VolShock
    dampening: float = 1.0

    @property
    def label(self) -> str:
        if self.vol_shock.is_skew:
            base = f"skew {self.vol_shock.value.lower()}"
            if self.spot_shock != 1.0:
                base += f" spot {self.spot_shock - 1.0:+.1%}"
        else:
            base = f"spot {self.spot_shock - 1.0:+.1%} vol {self.vol_shock.value.lower()}"
        if self.dampening != 1.0:
            base += f" x{self.dampening:.6g}"
        return base


def parse_scenarios(
    raw: object, path: str, *, max_count: int, allow_skew: bool, allow_skew_spot_move: bool = False
) -> tuple[Scenario, ...]:
    """Scenarios from ``[[spot_shock, "Up"|"None"|"Down"|"Linear"|"Abs", dampening], ...]``.

    The dampening may be omitted (1.0). Upstream rules: at most ``max_count`` scenarios, spot shock
    > 0, dampening >= 0, at most one Linear and one Abs scenario, both with spot shock 1.
    """
    if not isinstance(raw, list | tuple) or not raw:
        raise SolventInputError(
            path, "must be a non-empty list of [spot_shock, vol_shock, dampening]"
        )
    if len(raw) > max_count:
        raise SolventInputError(path, f"at most {max_count} scenarios, got {len(raw)}")
    out: list[Scenario] = []
    for i, item in enumerate(raw):
        p = f"{path}[{i}]"
        if not isinstance(item, list | tuple) or len(item) not in (2, 3):
            raise SolventInputError(p, "must be [spot_shock, vol_shock] or [..., dampening]")
        spot = as_number(item[0], f"{p}.spot_shock")
        if not spot > 0.0 or spot != spot or spot == float("inf"):
            raise SolventInputError(f"{p}.spot_shock", f"must be > 0, got {spot!r}")
        try:
            vol = VolShock(str(item[1]).capitalize() if str(item[1]).lower() != "none" else "None")
        except ValueError:
            raise SolventInputError(
                f"{p}.vol_shock", f"must be one of Up, None, Down, Linear, Abs; got {item[1]!r}"
            ) from None
        damp = as_number(item[2], f"{p}.dampening") if len(item) == 3 else 1.0
        if not 0.0 <= damp < float("inf"):
            raise SolventInputError(f"{p}.dampening", f"must be >= 0, got {damp!r}")
        if vol.is_skew:
            if not allow_skew:
                raise SolventInputError(f"{p}.vol_shock", "skew scenarios are not supported here")
            if spot != 1.0 and not allow_skew_spot_move:
                raise SolventInputError(f"{p}.spot_shock", "a skew scenario must have spot_shock 1")
        out.append(Scenario(spot, vol, damp))
    for kind in (VolShock.LINEAR, VolShock.ABS):
        if sum(1 for s in out if s.vol_shock is kind) > 1:
            raise SolventInputError(path, f"at most one {kind.value} skew scenario")
    return tuple(out)


# --------------------------------------------------------------------------------------------
# PMRM_2
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VolShockParams:
    """PMRMLib_2.VolShockParameters: vol multipliers per expiry (see the methodology doc)."""

    vol_range_up: float = param("volRangeUp", 0.0, 10.0)
    vol_range_down: float = param("volRangeDown", 0.0, 10.0)
    short_term_power: float = param("shortTermPower", 0.0, 10.0)
    long_term_power: float = param("longTermPower", 0.0, 10.0)
    dte_floor_days: float = param("dteFloorDays", 0.0, 400.0, unit="days")
    min_vol_up_shock: float = param("minVolUpShock", 0.0, 20.0)


@dataclass(frozen=True, slots=True)
class MarginParams2:
    """PMRMLib_2.MarginParameters: loss factors and static discounts."""

    im_factor: float = param("imFactor", 0.5, 10.0)
    mm_factor: float = param("mmFactor", 0.1, 10.0)
    short_rate_mult_scale: float = param("shortRateMultScale", 0.0, 10.0)
    long_rate_mult_scale: float = param("longRateMultScale", 0.0, 10.0)
    short_rate_add_scale: float = param("shortRateAddScale", 0.0, 10.0)
    long_rate_add_scale: float = param("longRateAddScale", 0.0, 10.0)
    short_base_static_discount: float = param("shortBaseStaticDiscount", 0.0, 4.0)
    long_base_static_discount: float = param("longBaseStaticDiscount", 0.0, 4.0)


@dataclass(frozen=True, slots=True)
class BasisParams:
    """BasisContingencyParameters: forward up/down moves and the time-scaled factor."""

    scenario_spot_up: float = param("scenarioSpotUp", 1.0, 3.0, lo_open=True)
    scenario_spot_down: float = param("scenarioSpotDown", 0.0, 1.0, lo_open=True, hi_open=True)
    basis_cont_add_factor: float = param("basisContAddFactor", 0.0, 20.0)
    basis_cont_mult_factor: float = param("basisContMultFactor", 0.0, 20.0)


@dataclass(frozen=True, slots=True)
class OtherParams2:
    """PMRMLib_2.OtherContingencyParameters: de-peg, confidence, perp and naked-short charges.

    The IM percentages are add-ons on top of the MM ones.
    """

    peg_loss_threshold: float = param("pegLossThreshold", 0.0, 100.0)
    peg_loss_factor: float = param("pegLossFactor", 0.0, 10.0)
    conf_threshold: float = param("confThreshold", 0.0, 1.0)
    conf_margin: float = param("confMargin", 0.0, 20.0)
    mm_perp_percent: float = param("MMPerpPercent", 0.0, 3.0)
    im_perp_percent: float = param("IMPerpPercent", 0.0, 3.0)
    mm_option_percent: float = param("MMOptionPercent", 0.0, 2.0)
    im_option_percent: float = param("IMOptionPercent", 0.0, 2.0)


@dataclass(frozen=True, slots=True)
class SkewParams:
    """PMRMLib_2.SkewShockParameters: the Linear and Abs skew (smile) shocks."""

    linear_base_cap: float = param("linearBaseCap", 0.0, 10.0)
    abs_base_cap: float = param("absBaseCap", 0.0, 10.0)
    linear_c_base: float = param("linearCBase", -10.0, 10.0)
    abs_c_base: float = param("absCBase", -10.0, 10.0)
    min_k_star: float = param("minKStar", 0.0, 10.0)
    width_scale: float = param("widthScale", 0.0, 10.0)
    vol_param_static: float = param("volParamStatic", 0.0, 10.0)
    vol_param_scale: float = param("volParamScale", -20.0, 20.0)


@dataclass(frozen=True, slots=True)
class CollateralSpec:
    """A collateral enabled in a PMRM_2 manager: MM haircut, IM add-on haircut, risk-cancelling.

    A risk-cancelling collateral (the manager's own base asset, or a wrapper of it) moves with the
    spot in every scenario; the others only count at their haircut value.
    """

    mm_haircut: float
    im_haircut: float
    risk_cancelling: bool


@dataclass(frozen=True, slots=True)
class PMRM2Params:
    """A complete PMRM_2 parameter set (one manager = one underlying)."""

    name: str
    version: str
    vol_shock: VolShockParams
    margin: MarginParams2
    basis: BasisParams
    other: OtherParams2
    skew: SkewParams
    scenarios: tuple[Scenario, ...]
    params_id: ParamsId
    collaterals: Mapping[str, CollateralSpec] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name@version``, as reported in results."""
        return f"{self.name}@{self.version}"


# --------------------------------------------------------------------------------------------
# PMRM v1
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OtherParams1:
    """PMRMLib.OtherContingencyParameters (v1): de-peg, confidence, static contingencies."""

    peg_loss_threshold: float = param("pegLossThreshold", 0.0, 100.0)
    peg_loss_factor: float = param("pegLossFactor", 0.0, 10.0)
    conf_threshold: float = param("confThreshold", 0.0, 1.0)
    conf_margin: float = param("confMargin", 0.0, 20.0)
    base_percent: float = param("basePercent", 0.0, 3.0)
    perp_percent: float = param("perpPercent", 0.0, 3.0)
    option_percent: float = param("optionPercent", 0.0, 2.0)


@dataclass(frozen=True, slots=True)
class MarginParams1:
    """PMRMLib.MarginParameters (v1): one IM factor and one (long-side) static discount."""

    im_factor: float = param("imFactor", 0.5, 10.0)
    base_static_discount: float = param("baseStaticDiscount", 0.0, 4.0)
    rate_mult_scale: float = param("rateMultScale", 0.0, 10.0)
    rate_add_scale: float = param("rateAddScale", 0.0, 10.0)


@dataclass(frozen=True, slots=True)
class VolParams1:
    """PMRMLib.VolShockParameters (v1): as PMRM_2 without the up-shock vol floor."""

    vol_range_up: float = param("volRangeUp", 0.0, 10.0)
    vol_range_down: float = param("volRangeDown", 0.0, 10.0)
    short_term_power: float = param("shortTermPower", 0.0, 10.0)
    long_term_power: float = param("longTermPower", 0.0, 10.0)
    dte_floor_days: float = param("dteFloorDays", 0.0, 400.0, unit="days")


@dataclass(frozen=True, slots=True)
class PMRM1Params:
    """A complete PMRM (v1) parameter set."""

    name: str
    version: str
    basis: BasisParams
    other: OtherParams1
    margin: MarginParams1
    vol: VolParams1
    scenarios: tuple[Scenario, ...]
    params_id: ParamsId

    @property
    def label(self) -> str:
        """``name@version``, as reported in results."""
        return f"{self.name}@{self.version}"


# --------------------------------------------------------------------------------------------
# Standard Manager
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SRMPerpParams:
    """StandardManager perp margin requirements (fractions of perp notional)."""

    mm_perp_req: float = param("mmPerpReq", 0.0, 1.0)
    im_perp_req: float = param("imPerpReq", 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class SRMOptionParams:
    """StandardManager.OptionMarginParams."""

    max_spot_req: float = param("maxSpotReq", 0.0, 1.2)
    min_spot_req: float = param("minSpotReq", 0.0, 1.2)
    mm_call_spot_req: float = param("mmCallSpotReq", 0.0, 1.0)
    mm_put_spot_req: float = param("mmPutSpotReq", 0.0, 1.0)
    mm_put_mtm_req: float = param("MMPutMtMReq", 0.0, 1.0)
    unpaired_im_scale: float = param("unpairedIMScale", 0.0, 3.0)
    unpaired_mm_scale: float = param("unpairedMMScale", 0.0, 3.0)
    mm_offset_scale: float = param("mmOffsetScale", 1.0, 3.0)


@dataclass(frozen=True, slots=True)
class SRMOracleParams:
    """StandardManager.OracleContingencyParams: confidence thresholds and the charge factor."""

    perp_threshold: float = param("perpThreshold", 0.0, 1.0)
    option_threshold: float = param("optionThreshold", 0.0, 1.0)
    base_threshold: float = param("baseThreshold", 0.0, 1.0)
    oc_factor: float = param("OCFactor", 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class SRMDepegParams:
    """StandardManager.DepegParams (IM only)."""

    threshold: float = param("threshold", 0.0, 1.0)
    depeg_factor: float = param("depegFactor", 0.0, 5.0)


@dataclass(frozen=True, slots=True)
class SRMBaseParams:
    """Base-asset collateral: margin credit factor and IM scale."""

    margin_factor: float = param("marginFactor", 0.0, 1.0)
    im_scale: float = param("IMScale", 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class SRMMarketParams:
    """Per-market perp, option and base parameters (the defaults unless the market overrides)."""

    perp: SRMPerpParams
    option: SRMOptionParams
    base: SRMBaseParams


@dataclass(frozen=True, slots=True)
class SRMParams:
    """A complete Standard Manager parameter set; ``markets`` holds per-underlying overrides."""

    name: str
    version: str
    perp: SRMPerpParams
    option: SRMOptionParams
    oracle_contingency: SRMOracleParams
    depeg: SRMDepegParams
    base: SRMBaseParams
    params_id: ParamsId
    markets: Mapping[str, SRMMarketParams] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name@version``, as reported in results."""
        return f"{self.name}@{self.version}"

    def for_market(self, market: str) -> SRMMarketParams:
        """The perp/option/base parameters that apply to ``market`` (case-insensitive)."""
        found = self.markets.get(market.upper())
        if found is not None:
            return found
        return SRMMarketParams(self.perp, self.option, self.base)


# --------------------------------------------------------------------------------------------
# Declarations and loaders (one schema per manager)


def _scenarios(*, v1: bool, allow_skew_spot_move: bool = False) -> Any:
    """The ``scenarios`` field: ``[[spot_shock, vol_shock, dampening], ...]`` (canonical form
    with the dampening written out)."""

    def parse(value: Any, path: str) -> list[list[Any]]:
        out = parse_scenarios(
            value,
            path,
            max_count=40,
            allow_skew=not v1,
            allow_skew_spot_move=allow_skew_spot_move,
        )
        if v1:
            for i, s in enumerate(out):
                if s.dampening != 1.0:
                    raise SolventInputError(f"{path}[{i}].dampening", "v1 has no dampening")
        return [[s.spot_shock, s.vol_shock.value, s.dampening] for s in out]

    rule = "<= 40 rows, no skew, dampening 1" if v1 else "<= 40 rows; one Linear, one Abs"
    return custom(
        parse, allowed=rule, unit="[spot multiplier, vol leg, dampening]", source=UPSTREAM
    )


def _scenario_tuple(rows: list[list[Any]]) -> tuple[Scenario, ...]:
    return tuple(Scenario(float(a), VolShock(b), float(c)) for a, b, c in rows)


def _group(cls: type) -> Any:
    return table(dataclass_table(cls, source=UPSTREAM))


def _make(cls: type[T], values: Mapping[str, Any]) -> T:
    return cls(**values)


def _collateral_check(values: Mapping[str, Any], path: str) -> None:
    if values["mm_haircut"] + values["im_haircut"] > 1.0 + 1e-12:
        raise SolventInputError(path, "mm_haircut + im_haircut must be <= 1")


_COLLATERAL = Table(
    {
        "mm_haircut": number(0.0, 1.0, unit="fraction of value"),
        "im_haircut": number(0.0, 1.0, unit="fraction of value, added to mm_haircut for IM"),
        "risk_cancelling": flag(),
    },
    check=_collateral_check,
    source="Derive v2-core fixtures",
)

PMRM2_FIELDS = Table(
    {
        "vol_shock": _group(VolShockParams),
        "margin": _group(MarginParams2),
        "basis": _group(BasisParams),
        "other": _group(OtherParams2),
        "skew": _group(SkewParams),
        "scenarios": _scenarios(v1=False),
        "collaterals": tables(_COLLATERAL, default=True, doc="enabled collaterals by asset"),
    }
)


def _build_pmrm2(v: Mapping[str, Any], pid: ParamsId) -> PMRM2Params:
    return PMRM2Params(
        name=pid.name,
        version=pid.version,
        vol_shock=_make(VolShockParams, v["vol_shock"]),
        margin=_make(MarginParams2, v["margin"]),
        basis=_make(BasisParams, v["basis"]),
        other=_make(OtherParams2, v["other"]),
        skew=_make(SkewParams, v["skew"]),
        scenarios=_scenario_tuple(v["scenarios"]),
        params_id=pid,
        collaterals=frozen_tables(v["collaterals"], lambda t: CollateralSpec(**t)),
    )


PMRM2: ParamsSchema[PMRM2Params] = ParamsSchema(
    "derive-pm", ("derive-pm", "derive-pm-mainnet"), PMRM2_FIELDS, _build_pmrm2
)
"""PMRM_2 parameter sets (model ``derive-pm``)."""

_PMRM2_FIXTURES: ParamsSchema[PMRM2Params] = ParamsSchema(
    "derive-pm",
    ("derive-pm",),
    PMRM2_FIELDS.replace_fields(scenarios=_scenarios(v1=False, allow_skew_spot_move=True)),
    _build_pmrm2,
)

PMRM1_FIELDS = Table(
    {
        "basis": _group(BasisParams),
        "other": _group(OtherParams1),
        "margin": _group(MarginParams1),
        "vol": _group(VolParams1),
        "scenarios": _scenarios(v1=True),
    }
)


def _build_pmrm1(v: Mapping[str, Any], pid: ParamsId) -> PMRM1Params:
    return PMRM1Params(
        name=pid.name,
        version=pid.version,
        basis=_make(BasisParams, v["basis"]),
        other=_make(OtherParams1, v["other"]),
        margin=_make(MarginParams1, v["margin"]),
        vol=_make(VolParams1, v["vol"]),
        scenarios=_scenario_tuple(v["scenarios"]),
        params_id=pid,
    )


PMRM1: ParamsSchema[PMRM1Params] = ParamsSchema(
    "derive-pm", ("derive-pmrm1", "derive-pmrm1-mainnet"), PMRM1_FIELDS, _build_pmrm1
)
"""PMRM v1 parameter sets (model ``derive-pm`` with a ``derive-pmrm1`` set)."""

_SRM_MARKET = Table(
    {
        "perp": table(partial(dataclass_table(SRMPerpParams, source=UPSTREAM)), optional=True),
        "option": table(partial(dataclass_table(SRMOptionParams, source=UPSTREAM)), optional=True),
        "base": table(partial(dataclass_table(SRMBaseParams, source=UPSTREAM)), optional=True),
    }
)

SRM_FIELDS = Table(
    {
        "perp": _group(SRMPerpParams),
        "option": _group(SRMOptionParams),
        "oracle_contingency": table(
            dataclass_table(SRMOracleParams, source=UPSTREAM), alias="oracleContingency"
        ),
        "depeg": _group(SRMDepegParams),
        "base": _group(SRMBaseParams),
        "markets": tables(_SRM_MARKET, default=True, doc="per-market overrides of the defaults"),
    }
)


def _build_srm(v: Mapping[str, Any], pid: ParamsId) -> SRMParams:
    perp = _make(SRMPerpParams, v["perp"])
    option = _make(SRMOptionParams, v["option"])
    base = _make(SRMBaseParams, v["base"])
    markets = {
        str(name).upper(): SRMMarketParams(
            perp=dataclasses.replace(perp, **m["perp"]),
            option=dataclasses.replace(option, **m["option"]),
            base=dataclasses.replace(base, **m["base"]),
        )
        for name, m in v["markets"].items()
    }
    return SRMParams(
        name=pid.name,
        version=pid.version,
        perp=perp,
        option=option,
        oracle_contingency=_make(SRMOracleParams, v["oracle_contingency"]),
        depeg=_make(SRMDepegParams, v["depeg"]),
        base=base,
        params_id=pid,
        markets=MappingProxyType(markets),
    )


SRM: ParamsSchema[SRMParams] = ParamsSchema(
    "derive-srm", ("derive-srm", "derive-srm-mainnet"), SRM_FIELDS, _build_srm
)
"""Standard Manager parameter sets (model ``derive-srm``)."""


def load_pmrm2_params(source: str | Path | None = None) -> PMRM2Params:
    """A PMRM_2 set: built-in name (``derive-pm``, ``derive-pm-mainnet``) or a file merged over
    its ``base_set`` (default ``derive-pm``)."""
    return PMRM2.load(source)


def load_pmrm1_params(source: str | Path | None = None) -> PMRM1Params:
    """A PMRM v1 set: built-in name (``derive-pmrm1``, ``derive-pmrm1-mainnet``) or a file."""
    return PMRM1.load(source)


def load_srm_params(source: str | Path | None = None) -> SRMParams:
    """A Standard Manager set: built-in name (``derive-srm``, ``derive-srm-mainnet``) or a file."""
    return SRM.load(source)


def is_pmrm1(spec: str | Path | None) -> bool:
    """Whether a ``derive-pm`` parameter choice is a PMRM v1 set (a ``derive-pmrm1`` built-in
    set, or a file based on one)."""
    return based_on(spec) in PMRM1.sets


def load_pm_params(spec: str | Path | None = None) -> PMRM2Params | PMRM1Params:
    """The ``derive-pm`` model's set: PMRM_2 (default ``derive-pm``) or, for a set based on
    ``derive-pmrm1``, PMRM v1."""
    return PMRM1.load(spec) if is_pmrm1(spec) else PMRM2.load(spec)


def pmrm2_params_from_mapping(
    table: Mapping[str, Any], *, allow_skew_spot_move: bool = False
) -> PMRM2Params:
    """A complete PMRM_2 set from a TOML/JSON-shaped mapping (upstream names accepted).
    ``allow_skew_spot_move``: accept skew scenarios that also move the spot (fixtures only)."""
    return (_PMRM2_FIXTURES if allow_skew_spot_move else PMRM2).from_mapping(table)


def pmrm1_params_from_mapping(table: Mapping[str, Any]) -> PMRM1Params:
    """A complete PMRM v1 set from a mapping."""
    return PMRM1.from_mapping(table)


def srm_params_from_mapping(table: Mapping[str, Any]) -> SRMParams:
    """A complete Standard Manager set from a mapping; ``[markets.<UNDERLYING>.perp|option|
    base]`` tables override the defaults for one market."""
    return SRM.from_mapping(table)


def replace_group(params: T, **groups: Any) -> T:
    """``dataclasses.replace`` re-exported for callers overriding whole groups."""
    return dataclasses.replace(params, **groups)  # type: ignore[type-var]
