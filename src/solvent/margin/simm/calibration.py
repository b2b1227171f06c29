"""SIMM calibrations: versioned JSON data files, loaded and validated into frozen dataclasses.

A calibration holds every number of one ISDA SIMM version at one margin period of risk (MPOR):
risk weights, concentration thresholds, intra- and inter-bucket correlations, the risk-class
correlation matrix (psi), historical volatility ratios (HVR) and the curvature parameters.

Units follow the CRIF: interest-rate and credit delta risk weights apply to amounts per basis point,
equity/commodity/FX risk weights to amounts per 1 % relative move, vega risk weights to vega times
implied volatility (IR, credit) or to USD per 1 vol point times sigma (equity, commodity, FX).
Concentration thresholds are stored in USD millions (per CRIF unit) and returned in USD.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtri

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.files import loads_json, read_text

CALIBRATION_DIR = "calibration"
SUPPORTED_VERSIONS: tuple[str, ...] = ("2.6", "2.6-crypto")
SUPPORTED_MPOR_DAYS: tuple[int, ...] = (10, 1)
RISK_CLASSES: tuple[str, ...] = (
    "InterestRate",
    "CreditQualifying",
    "CreditNonQualifying",
    "Equity",
    "Commodity",
    "FX",
)
MILLION = 1.0e6


@dataclass(frozen=True)
class BucketedClass:
    """Equity, commodity or credit: qualifiers grouped into numbered buckets (plus Residual).

    ``delta_rw``/``vega_rw`` are per bucket; ``delta_threshold``/``vega_threshold`` in USD;
    ``intra`` is the correlation between different qualifiers of a bucket; ``inter`` the bucket x
    bucket matrix (gamma) over the non-residual buckets, in the order of ``buckets``.
    """

    buckets: tuple[str, ...]
    delta_rw: FloatArray
    vega_rw: FloatArray
    delta_threshold: FloatArray
    vega_threshold: FloatArray
    intra: FloatArray
    inter: FloatArray
    hvr: float
    same_qualifier_corr: float = 1.0
    curvature_excluded: frozenset[str] = frozenset()  # buckets with no curvature (equity 12)

    @property
    def residual(self) -> int | None:
        """Index of the Residual bucket, or None when the class has none (commodity)."""
        return self.buckets.index("Residual") if "Residual" in self.buckets else None


@dataclass(frozen=True)
class InterestRateClass:
    """Interest rates: one bucket per currency, risk factors by tenor (Label1) and sub-curve."""

    tenors: tuple[str, ...]
    sub_curves: tuple[str, ...]
    tenor_corr: FloatArray
    sub_curve_corr: float
    inflation_corr: float
    xccy_corr: float
    inflation_vol_corr: float
    inter_currency_corr: float
    delta_rw: dict[str, FloatArray]  # vol group "1"/"2"/"3" -> RW per tenor
    inflation_rw: float
    xccy_rw: float
    vega_rw: float
    inflation_vol_rw: float
    hvr: float
    vol_groups: dict[str, str]  # currency -> vol group
    default_vol_group: str
    conc_categories: dict[str, str]  # currency -> concentration category
    default_conc_category: str
    delta_thresholds: dict[str, float]  # category -> USD
    vega_thresholds: dict[str, float]

    def vol_group(self, ccy: str) -> str:
        return self.vol_groups.get(ccy, self.default_vol_group)

    def delta_threshold(self, ccy: str) -> float:
        return self.delta_thresholds[self.conc_categories.get(ccy, self.default_conc_category)]

    def vega_threshold(self, ccy: str) -> float:
        return self.vega_thresholds[self.conc_categories.get(ccy, self.default_conc_category)]


@dataclass(frozen=True)
class FxClass:
    """FX: one risk factor per currency (delta) or currency pair (vega), a single bucket."""

    high_vol: frozenset[str]
    delta_rw: FloatArray  # [group(calc ccy)][group(ccy)], 0 regular, 1 high vol
    corr_regular: FloatArray  # used when the calculation currency is regular-vol
    corr_high: FloatArray
    vega_rw: float
    vega_corr: float
    hvr: float
    conc_categories: dict[str, str]
    default_conc_category: str
    delta_thresholds: dict[str, float]
    vega_thresholds: dict[str, float]  # key: sorted pair of categories, e.g. "12"

    def group(self, ccy: str) -> int:
        return 1 if ccy in self.high_vol else 0

    def category(self, ccy: str) -> str:
        return self.conc_categories.get(ccy, self.default_conc_category)


@dataclass(frozen=True)
class CreditExtra:
    """Credit-only numbers: residual correlation, base correlation, non-qualifying inter corr."""

    residual_corr: float
    base_corr_rw: float
    base_corr_corr: float


@dataclass(frozen=True)
class SimmCalibration:
    """One SIMM version at one MPOR; every number the aggregation uses."""

    version: str
    mpor_days: int
    source: str
    concentration_enabled: bool
    curvature_reference_days: float
    interest_rate: InterestRateClass
    credit_qualifying: BucketedClass
    credit_non_qualifying: BucketedClass
    credit_q_extra: CreditExtra
    credit_nq_extra: CreditExtra
    credit_tenors: tuple[str, ...]
    equity: BucketedClass
    commodity: BucketedClass
    fx: FxClass
    psi: FloatArray  # risk-class correlation in the order of RISK_CLASSES

    @property
    def sigma_multiplier(self) -> float:
        """sqrt(365 / (1.4 x MPOR)) / Phi^-1(0.99): turns a delta RW into a vega-side vol."""
        return float(np.sqrt(365.0 / (1.4 * self.mpor_days)) / ndtri(0.99))

    @property
    def curvature_lambda_base(self) -> float:
        """Phi^-1(0.995)^2 - 1 (= 5.634897), the lambda of the curvature margin at theta = 0."""
        return float(ndtri(0.995) ** 2 - 1.0)

    def tenor_days(self, tenor: str) -> float:
        """Calendar days of a SIMM vertex label (2w = 14, 1m = 365/12, 1y = 365)."""
        unit, n = tenor[-1], float(tenor[:-1])
        return {"w": 7.0 * n, "m": n * 365.0 / 12.0, "y": n * 365.0}[unit]

    def curvature_scale(self, tenor: str) -> float:
        """SF(t) = 0.5 x min(1, 1.4 x MPOR days / t days) (14 days for the 10-day MPOR)."""
        return 0.5 * min(1.0, self.curvature_reference_days / self.tenor_days(tenor))


# --- loading -------------------------------------------------------------------------------


def _get(d: dict[str, Any], key: str, path: str) -> Any:
    if key not in d:
        raise SolventInputError(f"{path}.{key}", "missing field")
    return d[key]


def _num(d: dict[str, Any], key: str, path: str, lo: float = -1.0, hi: float = 1e9) -> float:
    v = _get(d, key, path)
    if isinstance(v, bool) or not isinstance(v, int | float) or not (lo <= float(v) <= hi):
        raise SolventInputError(f"{path}.{key}", f"expected a number in [{lo}, {hi}], got {v!r}")
    return float(v)


def _matrix(d: dict[str, Any], key: str, path: str, n: int) -> FloatArray:
    m = np.asarray(_get(d, key, path), dtype=np.float64)
    if m.shape != (n, n) or not np.allclose(m, m.T) or np.any(np.abs(m) > 1.0):
        raise SolventInputError(f"{path}.{key}", f"expected a symmetric {n}x{n} correlation matrix")
    return m


def _per_bucket(d: dict[str, Any], key: str, path: str, buckets: tuple[str, ...]) -> FloatArray:
    table = _get(d, key, path)
    if not isinstance(table, dict) or set(table) != set(buckets):
        raise SolventInputError(f"{path}.{key}", f"expected one value per bucket {buckets}")
    vals = np.array([float(table[b]) for b in buckets])
    if np.any(vals < 0) or not np.all(np.isfinite(vals)):
        raise SolventInputError(f"{path}.{key}", "values must be finite and non-negative")
    return vals


def _check_fields(d: dict[str, Any], allowed: set[str], path: str) -> None:
    unknown = set(d) - allowed
    if unknown:
        raise SolventInputError(f"{path}.{sorted(unknown)[0]}", "unknown field")


def _invert(groups: dict[str, list[str]]) -> dict[str, str]:
    return {ccy: g for g, ccys in groups.items() for ccy in ccys}


def _bucketed(d: dict[str, Any], path: str, hvr_key: bool, vega_flat: bool) -> BucketedClass:
    buckets = tuple(str(b) for b in _get(d, "buckets", path))
    non_res = [b for b in buckets if b != "Residual"]
    if "inter_bucket_correlation" in d:
        inter = _matrix(d, "inter_bucket_correlation", path, len(non_res))
    else:
        c = _num(d, "inter_bucket_correlation_value", path)
        inter = np.full((len(non_res), len(non_res)), c)
        np.fill_diagonal(inter, 1.0)
    if "intra_bucket_correlation" in d:
        intra = _per_bucket(d, "intra_bucket_correlation", path, buckets)
    else:
        diff = _num(d, "different_qualifier_correlation", path)
        res = _num(d, "residual_correlation", path)
        intra = np.array([res if b == "Residual" else diff for b in buckets])
    if vega_flat and "vega_risk_weights" not in d:
        vega_rw = np.full(len(buckets), _num(d, "vega_risk_weight", path, 0.0))
    else:
        vega_rw = _per_bucket(d, "vega_risk_weights", path, buckets)
    if "vega_thresholds" in d:
        vega_t = _per_bucket(d, "vega_thresholds", path, buckets) * MILLION
    else:
        vega_t = np.full(len(buckets), _num(d, "vega_threshold", path, 0.0) * MILLION)
    return BucketedClass(
        buckets=buckets,
        delta_rw=_per_bucket(d, "delta_risk_weights", path, buckets),
        vega_rw=vega_rw,
        delta_threshold=_per_bucket(d, "delta_thresholds", path, buckets) * MILLION,
        vega_threshold=vega_t,
        intra=intra,
        inter=inter,
        hvr=_num(d, "historical_volatility_ratio", path, 0.0, 10.0) if hvr_key else 1.0,
        same_qualifier_corr=(
            _num(d, "same_qualifier_correlation", path)
            if "same_qualifier_correlation" in d
            else 1.0
        ),
        curvature_excluded=frozenset(str(b) for b in d.get("curvature_excluded_buckets", ())),
    )


_BUCKETED = {
    "buckets",
    "delta_risk_weights",
    "delta_thresholds",
    "vega_thresholds",
    "vega_threshold",
    "vega_risk_weight",
    "vega_risk_weights",
    "intra_bucket_correlation",
    "inter_bucket_correlation",
    "inter_bucket_correlation_value",
    "historical_volatility_ratio",
    "same_qualifier_correlation",
    "different_qualifier_correlation",
    "residual_correlation",
    "curvature_excluded_buckets",
    "tenors",
    "base_corr_risk_weight",
    "base_corr_correlation",
}
_SECTION_FIELDS: dict[str, set[str]] = {
    "interest_rate": {
        "tenors",
        "sub_curves",
        "tenor_correlation",
        "sub_curve_correlation",
        "inflation_correlation",
        "xccy_basis_correlation",
        "inflation_vol_correlation",
        "inter_currency_correlation",
        "currency_vol_groups",
        "default_vol_group",
        "concentration_categories",
        "default_concentration_category",
        "delta_thresholds",
        "vega_thresholds",
        "delta_risk_weights",
        "inflation_risk_weight",
        "xccy_basis_risk_weight",
        "vega_risk_weight",
        "inflation_vol_risk_weight",
        "historical_volatility_ratio",
    },
    "fx": {
        "high_vol_currencies",
        "correlation_regular_vol_calc_ccy",
        "correlation_high_vol_calc_ccy",
        "vega_correlation",
        "concentration_categories",
        "default_concentration_category",
        "delta_thresholds",
        "vega_thresholds",
        "delta_risk_weights",
        "vega_risk_weight",
        "historical_volatility_ratio",
    },
    "credit_qualifying": _BUCKETED,
    "credit_non_qualifying": _BUCKETED,
    "equity": _BUCKETED,
    "commodity": _BUCKETED,
}


def calibration_from_dict(raw: dict[str, Any], name: str = "calibration") -> SimmCalibration:
    """Validate a calibration mapping (as in the shipped JSON) into a :class:`SimmCalibration`."""
    top = {
        "model",
        "version",
        "mpor_days",
        "source",
        "units",
        "concentration_enabled",
        "curvature_reference_days",
        "curvature_quantile",
        "sigma_quantile",
        "interest_rate",
        "credit_qualifying",
        "credit_non_qualifying",
        "equity",
        "commodity",
        "fx",
        "risk_classes",
        "risk_class_correlation",
    }
    _check_fields(raw, top, name)
    for section, fields in _SECTION_FIELDS.items():
        _check_fields(_get(raw, section, name), fields, f"{name}.{section}")
    mpor = int(_num(raw, "mpor_days", name, 1, 10))
    if mpor not in SUPPORTED_MPOR_DAYS:
        raise SolventInputError(f"{name}.mpor_days", f"must be one of {SUPPORTED_MPOR_DAYS}")
    if tuple(_get(raw, "risk_classes", name)) != RISK_CLASSES:
        raise SolventInputError(f"{name}.risk_classes", f"expected {RISK_CLASSES}")

    p = f"{name}.interest_rate"
    ir = _get(raw, "interest_rate", name)
    tenors = tuple(str(t) for t in _get(ir, "tenors", p))
    rw = _get(ir, "delta_risk_weights", p)
    delta_rw = {g: np.asarray(v, dtype=np.float64) for g, v in rw.items()}
    if any(v.shape != (len(tenors),) for v in delta_rw.values()):
        raise SolventInputError(f"{p}.delta_risk_weights", "expected one weight per tenor")
    interest_rate = InterestRateClass(
        tenors=tenors,
        sub_curves=tuple(str(s) for s in _get(ir, "sub_curves", p)),
        tenor_corr=_matrix(ir, "tenor_correlation", p, len(tenors)),
        sub_curve_corr=_num(ir, "sub_curve_correlation", p),
        inflation_corr=_num(ir, "inflation_correlation", p),
        xccy_corr=_num(ir, "xccy_basis_correlation", p),
        inflation_vol_corr=_num(ir, "inflation_vol_correlation", p),
        inter_currency_corr=_num(ir, "inter_currency_correlation", p),
        delta_rw=delta_rw,
        inflation_rw=_num(ir, "inflation_risk_weight", p, 0.0),
        xccy_rw=_num(ir, "xccy_basis_risk_weight", p, 0.0),
        vega_rw=_num(ir, "vega_risk_weight", p, 0.0),
        inflation_vol_rw=_num(ir, "inflation_vol_risk_weight", p, 0.0),
        hvr=_num(ir, "historical_volatility_ratio", p, 0.0, 10.0),
        vol_groups=_invert(_get(ir, "currency_vol_groups", p)),
        default_vol_group=str(_get(ir, "default_vol_group", p)),
        conc_categories=_invert(_get(ir, "concentration_categories", p)),
        default_conc_category=str(_get(ir, "default_concentration_category", p)),
        delta_thresholds={k: float(v) * MILLION for k, v in ir["delta_thresholds"].items()},
        vega_thresholds={k: float(v) * MILLION for k, v in ir["vega_thresholds"].items()},
    )

    p = f"{name}.fx"
    fx = _get(raw, "fx", name)
    fx_class = FxClass(
        high_vol=frozenset(_get(fx, "high_vol_currencies", p)),
        delta_rw=np.asarray(_get(fx, "delta_risk_weights", p), dtype=np.float64).reshape(2, 2),
        corr_regular=_matrix(fx, "correlation_regular_vol_calc_ccy", p, 2),
        corr_high=_matrix(fx, "correlation_high_vol_calc_ccy", p, 2),
        vega_rw=_num(fx, "vega_risk_weight", p, 0.0),
        vega_corr=_num(fx, "vega_correlation", p),
        hvr=_num(fx, "historical_volatility_ratio", p, 0.0, 10.0),
        conc_categories=_invert(_get(fx, "concentration_categories", p)),
        default_conc_category=str(_get(fx, "default_concentration_category", p)),
        delta_thresholds={k: float(v) * MILLION for k, v in fx["delta_thresholds"].items()},
        vega_thresholds={k: float(v) * MILLION for k, v in fx["vega_thresholds"].items()},
    )

    cq = _get(raw, "credit_qualifying", name)
    cnq = _get(raw, "credit_non_qualifying", name)
    p_cq, p_cnq = f"{name}.credit_qualifying", f"{name}.credit_non_qualifying"
    psi = _matrix(raw, "risk_class_correlation", name, len(RISK_CLASSES))
    return SimmCalibration(
        version=str(_get(raw, "version", name)),
        mpor_days=mpor,
        source=str(_get(raw, "source", name)),
        concentration_enabled=bool(_get(raw, "concentration_enabled", name)),
        curvature_reference_days=_num(raw, "curvature_reference_days", name, 0.0, 365.0),
        interest_rate=interest_rate,
        credit_qualifying=_bucketed(cq, p_cq, hvr_key=False, vega_flat=True),
        credit_non_qualifying=_bucketed(cnq, p_cnq, hvr_key=False, vega_flat=True),
        credit_q_extra=CreditExtra(
            residual_corr=_num(cq, "residual_correlation", p_cq),
            base_corr_rw=_num(cq, "base_corr_risk_weight", p_cq, 0.0),
            base_corr_corr=_num(cq, "base_corr_correlation", p_cq),
        ),
        credit_nq_extra=CreditExtra(
            residual_corr=_num(cnq, "residual_correlation", p_cnq),
            base_corr_rw=0.0,
            base_corr_corr=0.0,
        ),
        credit_tenors=tuple(str(t) for t in _get(cq, "tenors", p_cq)),
        equity=_bucketed(_get(raw, "equity", name), f"{name}.equity", True, vega_flat=False),
        commodity=_bucketed(_get(raw, "commodity", name), f"{name}.commodity", True, True),
        fx=fx_class,
        psi=psi,
    )


def load_calibration(
    version: str = "2.6", mpor_days: int = 10, path: Path | None = None
) -> SimmCalibration:
    """Load the shipped calibration for ``version`` and ``mpor_days`` (or the JSON at ``path``).

    A shipped calibration is read and validated once per process and then shared (it is
    frozen); a file at ``path`` is read on every call."""
    if path is not None:
        return _parse_calibration(read_text(path, "calibration"), str(path))
    if version not in SUPPORTED_VERSIONS:
        raise SolventInputError(
            "simm_version",
            f"unsupported SIMM version {version!r} (supported: "
            + ", ".join(SUPPORTED_VERSIONS)
            + ")",
        )
    if mpor_days not in SUPPORTED_MPOR_DAYS:
        raise SolventInputError("mpor_days", f"unsupported MPOR {mpor_days} (use 10 or 1)")
    return _shipped(version, int(mpor_days))


@functools.cache
def _shipped(version: str, mpor_days: int) -> SimmCalibration:
    fname = f"simm_v{version.replace('.', '_')}_{mpor_days}d.json"
    text = resources.files(__package__).joinpath(CALIBRATION_DIR, fname).read_text()
    return _parse_calibration(text, fname)


def _parse_calibration(text: str, name: str) -> SimmCalibration:
    raw = loads_json(text, "calibration", name)
    if not isinstance(raw, dict):
        raise SolventInputError(name, "expected a JSON object")
    return calibration_from_dict(raw, name)
