"""Parameter sets of Derive's v2 margin managers (PMRM_2, PMRM v1, Standard Manager), as data.

Every numeric field carries its upstream name (Derive v2-core struct member, e.g. ``volRangeUp``)
and the range the upstream setter accepts (or, where the source is silent, the range the upstream
test fixtures explore; see docs/methodology/derive.md). Parameter sets are TOML files in
``solvent/margin/params/derive-*.toml``; :func:`load_pmrm2_params`, :func:`load_pmrm1_params` and
:func:`load_srm_params` read a built-in set by name or a file, optionally overlaying a partial table
(``--params FILE`` semantics: fields override the model's defaults). An unknown field, a wrong type
or an out-of-range value raises :class:`solvent.errors.SolventInputError` naming the field.

All percentages and factors are decimals (0.015 = 1.5 %); prices in USD; ``dte_floor_days`` in days.
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from solvent.errors import SolventInputError
from solvent.margin.derive._fields import as_float, build_floats, param

PARAMS_DIR = Path(__file__).resolve().parents[1] / "params"

T = TypeVar("T")


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
        spot = as_float(item[0], f"{p}.spot_shock")
        if not spot > 0.0 or spot != spot or spot == float("inf"):
            raise SolventInputError(f"{p}.spot_shock", f"must be > 0, got {spot!r}")
        try:
            vol = VolShock(str(item[1]).capitalize() if str(item[1]).lower() != "none" else "None")
        except ValueError:
            raise SolventInputError(
                f"{p}.vol_shock", f"must be one of Up, None, Down, Linear, Abs; got {item[1]!r}"
            ) from None
        damp = as_float(item[2], f"{p}.dampening") if len(item) == 3 else 1.0
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
    dte_floor_days: float = param("dteFloorDays", 0.0, 400.0)
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


def _parse_collaterals(raw: object, path: str) -> dict[str, CollateralSpec]:
    if not isinstance(raw, Mapping):
        raise SolventInputError(path, "must be a table of collateral name -> spec")
    out: dict[str, CollateralSpec] = {}
    for name, spec in raw.items():
        p = f"{path}.{name}"
        if not isinstance(spec, Mapping):
            raise SolventInputError(p, "must be a table")
        unknown = set(spec) - {"mm_haircut", "im_haircut", "risk_cancelling"}
        if unknown:
            raise SolventInputError(f"{p}.{sorted(unknown)[0]}", "unknown parameter")
        for key in ("mm_haircut", "im_haircut", "risk_cancelling"):
            if key not in spec:
                raise SolventInputError(f"{p}.{key}", "missing parameter")
        mm = as_float(spec["mm_haircut"], f"{p}.mm_haircut")
        im = as_float(spec["im_haircut"], f"{p}.im_haircut")
        rc = spec["risk_cancelling"]
        if not isinstance(rc, bool):
            raise SolventInputError(f"{p}.risk_cancelling", "must be true or false")
        for key, v in (("mm_haircut", mm), ("im_haircut", im)):
            if not 0.0 <= v <= 1.0:
                raise SolventInputError(f"{p}.{key}", f"{v!r} is outside [0, 1]")
        if mm + im > 1.0 + 1e-12:
            raise SolventInputError(p, "mm_haircut + im_haircut must be <= 1")
        out[str(name)] = CollateralSpec(mm, im, rc)
    return out


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
    collaterals: Mapping[str, CollateralSpec] = field(default_factory=dict)


_PMRM2_GROUPS: dict[str, type] = {
    "vol_shock": VolShockParams,
    "margin": MarginParams2,
    "basis": BasisParams,
    "other": OtherParams2,
    "skew": SkewParams,
}


def pmrm2_params_from_mapping(
    table: Mapping[str, Any],
    base: PMRM2Params | None = None,
    *,
    path: str = "params",
    allow_skew_spot_move: bool = False,
) -> PMRM2Params:
    """Build (or overlay onto ``base``) a PMRM_2 parameter set from a TOML/JSON-shaped mapping."""
    allowed = {"name", "version", "description", "scenarios", "collaterals", *_PMRM2_GROUPS}
    for key in table:
        if key not in allowed:
            raise SolventInputError(f"{path}.{key}", "unknown parameter group")
    groups: dict[str, Any] = {}
    for key, cls in _PMRM2_GROUPS.items():
        prior = getattr(base, key) if base is not None else None
        if key in table:
            groups[key] = build_floats(cls, table[key], f"{path}.{key}", prior)
        elif prior is not None:
            groups[key] = prior
        else:
            raise SolventInputError(f"{path}.{key}", "missing parameter group")
    if "scenarios" in table:
        scenarios = parse_scenarios(
            table["scenarios"],
            f"{path}.scenarios",
            max_count=40,
            allow_skew=True,
            allow_skew_spot_move=allow_skew_spot_move,
        )
    elif base is not None:
        scenarios = base.scenarios
    else:
        raise SolventInputError(f"{path}.scenarios", "missing")
    collaterals = dict(base.collaterals) if base is not None else {}
    if "collaterals" in table:
        collaterals.update(_parse_collaterals(table["collaterals"], f"{path}.collaterals"))
    return PMRM2Params(
        name=str(table.get("name", base.name if base else "custom")),
        version=str(table.get("version", base.version if base else "custom")),
        scenarios=scenarios,
        collaterals=collaterals,
        **groups,
    )


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
    dte_floor_days: float = param("dteFloorDays", 0.0, 400.0)


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


_PMRM1_GROUPS: dict[str, type] = {
    "basis": BasisParams,
    "other": OtherParams1,
    "margin": MarginParams1,
    "vol": VolParams1,
}


def pmrm1_params_from_mapping(
    table: Mapping[str, Any], base: PMRM1Params | None = None, *, path: str = "params"
) -> PMRM1Params:
    """Build (or overlay onto ``base``) a PMRM v1 parameter set from a mapping."""
    allowed = {"name", "version", "description", "scenarios", *_PMRM1_GROUPS}
    for key in table:
        if key not in allowed:
            raise SolventInputError(f"{path}.{key}", "unknown parameter group")
    groups: dict[str, Any] = {}
    for key, cls in _PMRM1_GROUPS.items():
        prior = getattr(base, key) if base is not None else None
        if key in table:
            groups[key] = build_floats(cls, table[key], f"{path}.{key}", prior)
        elif prior is not None:
            groups[key] = prior
        else:
            raise SolventInputError(f"{path}.{key}", "missing parameter group")
    if "scenarios" in table:
        scenarios = parse_scenarios(
            table["scenarios"], f"{path}.scenarios", max_count=40, allow_skew=False
        )
        for i, s in enumerate(scenarios):
            if s.dampening != 1.0:
                raise SolventInputError(f"{path}.scenarios[{i}].dampening", "v1 has no dampening")
    elif base is not None:
        scenarios = base.scenarios
    else:
        raise SolventInputError(f"{path}.scenarios", "missing")
    return PMRM1Params(
        name=str(table.get("name", base.name if base else "custom")),
        version=str(table.get("version", base.version if base else "custom")),
        scenarios=scenarios,
        **groups,
    )


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
    markets: Mapping[str, SRMMarketParams] = field(default_factory=dict)

    def for_market(self, market: str) -> SRMMarketParams:
        """The perp/option/base parameters that apply to ``market`` (case-insensitive)."""
        found = self.markets.get(market.upper())
        if found is not None:
            return found
        return SRMMarketParams(self.perp, self.option, self.base)


_SRM_GROUPS: dict[str, type] = {
    "perp": SRMPerpParams,
    "option": SRMOptionParams,
    "oracle_contingency": SRMOracleParams,
    "depeg": SRMDepegParams,
    "base": SRMBaseParams,
}


def srm_params_from_mapping(
    table: Mapping[str, Any], base: SRMParams | None = None, *, path: str = "params"
) -> SRMParams:
    """Build (or overlay onto ``base``) a Standard Manager parameter set from a mapping.

    ``[markets.<UNDERLYING>.perp|option|base]`` tables override the defaults for one market.
    """
    aliases = {"oracleContingency": "oracle_contingency"}
    allowed = {"name", "version", "description", "markets", *_SRM_GROUPS, *aliases}
    for key in table:
        if key not in allowed:
            raise SolventInputError(f"{path}.{key}", "unknown parameter group")
    groups: dict[str, Any] = {}
    for key, cls in _SRM_GROUPS.items():
        prior = getattr(base, key) if base is not None else None
        raw_key = next((k for k, v in aliases.items() if v == key and k in table), key)
        if raw_key in table:
            groups[key] = build_floats(cls, table[raw_key], f"{path}.{key}", prior)
        elif prior is not None:
            groups[key] = prior
        else:
            raise SolventInputError(f"{path}.{key}", "missing parameter group")
    markets: dict[str, SRMMarketParams] = dict(base.markets) if base is not None else {}
    raw_markets = table.get("markets", {})
    if not isinstance(raw_markets, Mapping):
        raise SolventInputError(f"{path}.markets", "must be a table")
    for mname, mtable in raw_markets.items():
        mp = f"{path}.markets.{mname}"
        if not isinstance(mtable, Mapping):
            raise SolventInputError(mp, "must be a table")
        for key in mtable:
            if key not in ("perp", "option", "base"):
                raise SolventInputError(f"{mp}.{key}", "unknown parameter group")
        prior = markets.get(str(mname).upper()) or SRMMarketParams(
            groups["perp"], groups["option"], groups["base"]
        )
        markets[str(mname).upper()] = SRMMarketParams(
            perp=build_floats(SRMPerpParams, mtable.get("perp", {}), f"{mp}.perp", prior.perp),
            option=build_floats(
                SRMOptionParams, mtable.get("option", {}), f"{mp}.option", prior.option
            ),
            base=build_floats(SRMBaseParams, mtable.get("base", {}), f"{mp}.base", prior.base),
        )
    return SRMParams(
        name=str(table.get("name", base.name if base else "custom")),
        version=str(table.get("version", base.version if base else "custom")),
        markets=markets,
        **groups,
    )


# --------------------------------------------------------------------------------------------
# Loading built-in sets and files
# --------------------------------------------------------------------------------------------


def _read_table(source: str | Path, prefix: str) -> tuple[dict[str, Any], str]:
    """Read a built-in set ``<prefix>...`` by name or a TOML/JSON file path."""
    path = Path(source)
    if not path.suffix:
        path = PARAMS_DIR / f"{source}.toml"
        if not path.is_file():
            known = sorted(p.stem for p in PARAMS_DIR.glob(f"{prefix}*.toml"))
            raise SolventInputError("params", f"unknown parameter set {source!r}; known: {known}")
    if not path.is_file():
        raise SolventInputError("params", f"parameter file not found: {path}")
    try:
        if path.suffix == ".json":
            import json

            data = json.loads(path.read_text())
        else:
            data = tomllib.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise SolventInputError("params", f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SolventInputError("params", f"{path} must hold a table")
    return data, str(path)


def load_pmrm2_params(
    source: str | Path = "derive-pm", overrides: Mapping[str, Any] | None = None
) -> PMRM2Params:
    """A PMRM_2 set: built-in name (``derive-pm``, ``derive-pm-mainnet``) or a file.

    A file is overlaid on ``derive-pm`` (or on the built-in set its ``base_set`` key names);
    ``overrides`` is overlaid last. Built-in sets are complete on their own.
    """
    table, _ = _read_table(source, "derive-pm")
    base_name = table.pop("base_set", None)
    base = None
    if base_name is not None:
        base = load_pmrm2_params(str(base_name))
    elif Path(source).suffix:  # a user file overlays the default set
        base = load_pmrm2_params("derive-pm")
    params = pmrm2_params_from_mapping(table, base)
    return pmrm2_params_from_mapping(overrides, params) if overrides else params


def load_pmrm1_params(
    source: str | Path = "derive-pmrm1", overrides: Mapping[str, Any] | None = None
) -> PMRM1Params:
    """A PMRM v1 set: built-in name (``derive-pmrm1``, ``derive-pmrm1-mainnet``) or a file."""
    table, _ = _read_table(source, "derive-pmrm1")
    base_name = table.pop("base_set", None)
    base = None
    if base_name is not None:
        base = load_pmrm1_params(str(base_name))
    elif Path(source).suffix:  # a user file overlays the default set
        base = load_pmrm1_params("derive-pmrm1")
    params = pmrm1_params_from_mapping(table, base)
    return pmrm1_params_from_mapping(overrides, params) if overrides else params


def load_srm_params(
    source: str | Path = "derive-srm", overrides: Mapping[str, Any] | None = None
) -> SRMParams:
    """A Standard Manager set: built-in name (``derive-srm``, ``derive-srm-mainnet``) or a file."""
    table, _ = _read_table(source, "derive-srm")
    base_name = table.pop("base_set", None)
    base = None
    if base_name is not None:
        base = load_srm_params(str(base_name))
    elif Path(source).suffix:  # a user file overlays the default set
        base = load_srm_params("derive-srm")
    params = srm_params_from_mapping(table, base)
    return srm_params_from_mapping(overrides, params) if overrides else params


def replace_group(params: T, **groups: Any) -> T:
    """``dataclasses.replace`` re-exported for callers overriding whole groups."""
    return dataclasses.replace(params, **groups)  # type: ignore[type-var]
