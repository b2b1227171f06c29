"""``solvent margin --model simm``: ISDA SIMM on the same portfolios as the scenario models,
through the model protocol and over the whole book at once.

Each account's delta and vega are the CRIF lines of :mod:`solvent.margin.simm.book_crif`, margined
with the calibration of the parameter set (``simm-crypto``: 2.6-crypto, 1-day;
``simm-crypto-10d``; or a file) by :mod:`solvent.margin.simm.book` (the SIMM aggregation as array
algebra over accounts x underlyings; equal to one :func:`solvent.margin.simm.model.compute_simm`
per account, :mod:`solvent.margin.simm.reference`).

One USD pool. Components: ``delta``, ``vega``, ``curvature`` of the Commodity risk class that
carries crypto, plus ``other_risk_classes`` (the psi-aggregated remainder; zero for a crypto
book): ``IM = delta + vega + curvature + other_risk_classes``; ``MM = mm_factor * IM``.
``--explain`` gives each position's Euler share of IM
(:mod:`solvent.margin.simm.book`: analytic, adding up to IM on any book, hedged
ones included); ``scenarios`` is empty (SIMM has none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solvent.errors import SolventInputError
from solvent.margin.build import (
    ContributionKind,
    PoolArrays,
    PositionValues,
    build_book_margin,
    has_positions,
)
from solvent.margin.params import OURS, ParamsSchema, Table, as_number, custom, number, text
from solvent.margin.protocol import Detail, MarketData, ParamsId, PricedMarket, require_prepared
from solvent.margin.result import BookMargin, Composition, Explanation
from solvent.margin.simm.book import SimmColumns, simm_book
from solvent.margin.simm.calibration import (
    SUPPORTED_MPOR_DAYS,
    SUPPORTED_VERSIONS,
    SimmCalibration,
    load_calibration,
)
from solvent.portfolio.book import Book

MODEL_NAME = "simm"
DEFAULT_PARAMS = "simm-crypto"


@dataclass(frozen=True, slots=True)
class SimmMarginParams:
    """A validated simm parameter set: which shipped calibration, and the MM fraction."""

    name: str
    version: str
    simm_version: str
    mpor_days: int
    mm_factor: float
    params_id: ParamsId

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def _mpor(value: Any, path: str) -> int:
    """The margin period of risk of a shipped calibration (days)."""
    days = as_number(value, path)
    if not days.is_integer() or int(days) not in SUPPORTED_MPOR_DAYS:
        allowed = " or ".join(str(d) for d in SUPPORTED_MPOR_DAYS)
        raise SolventInputError(path, f"must be {allowed} (a shipped calibration)")
    return int(days)


FIELDS = Table(
    {
        "simm_version": text(choices=SUPPORTED_VERSIONS, source="ISDA SIMM 2.6; ours (-crypto)"),
        "mpor_days": custom(_mpor, allowed="1, 10", unit="days", source="ISDA SIMM (10); ours (1)"),
        "mm_factor": number(0.01, 1.0, unit="MM / IM", source=OURS),
    }
)


def _build(v: Mapping[str, Any], pid: ParamsId) -> SimmMarginParams:
    return SimmMarginParams(
        pid.name, pid.version, v["simm_version"], v["mpor_days"], v["mm_factor"], pid
    )


SCHEMA = ParamsSchema(MODEL_NAME, (DEFAULT_PARAMS, "simm-crypto-10d"), FIELDS, _build)
"""Declaration, built-in sets and loader of simm parameters."""


def parse_params(raw: Mapping[str, Any]) -> SimmMarginParams:
    """Validate a complete simm parameter dict."""
    return SCHEMA.from_mapping(raw)


def load_params(params: str | None = None) -> SimmMarginParams:
    """The simm set: ``simm-crypto`` (default), ``simm-crypto-10d``, or a file over it."""
    return SCHEMA.load(params)


@dataclass(frozen=True, slots=True)
class SimmParams:
    """A loaded set with its calibration."""

    params: SimmMarginParams
    calibration: SimmCalibration
    params_id: ParamsId


@dataclass(frozen=True, slots=True)
class SimmPrepared:
    """SIMM prepared for one market: unit sensitivities and calibration columns."""

    cols: SimmColumns
    params: SimmMarginParams
    params_id: ParamsId
    instruments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SimmModel:
    """The simm model (see the module docstring)."""

    name: str = MODEL_NAME
    description: str = "ISDA SIMM v2.6 (crypto calibration) on the book's delta and vega"
    needs: frozenset[MarketData] = frozenset({MarketData.MARKS, MarketData.VOLATILITY})

    def load_params(self, spec: str | None) -> SimmParams:
        p = load_params(spec)
        calibration = load_calibration(p.simm_version, p.mpor_days)
        return SimmParams(p, calibration, p.params_id)

    def prepare(
        self, market: PricedMarket, instruments: Sequence[str], params: SimmParams
    ) -> SimmPrepared:
        cols = SimmColumns.of(market.subset(instruments), params.calibration)
        return SimmPrepared(cols, params.params, params.params_id, tuple(instruments))

    def margin(self, prepared: SimmPrepared, book: Book, *, detail: Detail) -> BookMargin:
        require_prepared(book, prepared.instruments)
        explain = detail >= Detail.EXPLAIN
        res = simm_book(prepared.cols, book, explain=explain)
        mm_factor = prepared.params.mm_factor
        mm = mm_factor * res.im
        pools = []
        if detail >= Detail.ACCOUNTS:
            pools.append(
                PoolArrays(
                    "USD",
                    res.im,
                    mm,
                    {
                        "delta": res.delta,
                        "vega": res.vega,
                        "curvature": res.curvature,
                        "other_risk_classes": res.other,
                    },
                    held=has_positions(book),
                    contributions=(
                        PositionValues(res.shares, ContributionKind.INITIAL_MARGIN)
                        if res.shares is not None
                        else None
                    ),
                )
            )
        return build_book_margin(
            book,
            model=MODEL_NAME,
            parameters=prepared.params_id.label,
            initial_margin_usd=res.im,
            maintenance_margin_usd=mm,
            pools=pools,
            detail=detail,
        )

    def composition(self, params: SimmParams) -> Composition:
        """``IM = delta + vega + curvature + other_risk_classes``; ``MM = mm_factor * IM``; the
        Euler shares add up to IM."""
        im = {"delta": 1.0, "vega": 1.0, "curvature": 1.0, "other_risk_classes": 1.0}
        return Composition.scaled(im, params.params.mm_factor, Explanation(components=im))


MODEL = SimmModel()
