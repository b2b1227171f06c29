"""Validated ``fhs-es`` parameter sets (``solvent/margin/params/fhs-es*.toml``).

Every field is documented in the TOML file and in docs/methodology/fhs-es.md. Unknown fields and
out-of-range values raise :class:`~solvent.errors.SolventInputError` naming ``params.<field>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from solvent.errors import SolventInputError
from solvent.margin.params import OURS, ParamsSchema, Table, flag, integer, number, table, text
from solvent.margin.protocol import ParamsId

MODEL_NAME = "fhs-es"


@dataclass(frozen=True, slots=True)
class Overlays:
    """Anti-procyclicality overlays (EMIR RTS 153/2013 art. 28); see docs/methodology/fhs-es.md.

    ``buffer``: (a) add ``buffer_rate`` x margin, released linearly as the vol ratio (today's EWMA
    vol / long-run vol, largest over the book's underlyings) goes from ``buffer_release_start``
    to ``buffer_release_full``. ``stressed_weight`` > 0: (b) margin at least
    ``(1 - w) ES + w ES_stressed``. ``floor``: (c) margin at least the ES revolatilized with the
    long-run (``floor_years``) vol.
    """

    buffer: bool = False
    buffer_rate: float = 0.25
    buffer_release_start: float = 1.0
    buffer_release_full: float = 2.0
    stressed_weight: float = 0.0
    stressed_window_days: int = 250
    floor: bool = False
    floor_years: float = 10.0

    @property
    def any(self) -> bool:
        """True when at least one overlay is on."""
        return self.buffer or self.stressed_weight > 0 or self.floor


@dataclass(frozen=True, slots=True)
class FhsParams:
    """A validated fhs-es parameter set (units: days, decimals; see the TOML comments)."""

    name: str
    version: str
    history: str
    vol_history: str
    ewma_lambda: float
    confidence: float
    mpor_days: int
    lookback_days: int
    seed_days: int
    min_scenarios: int
    vol_beta: float
    max_vol_move: float
    mm_fraction: float
    liquidity_enabled: bool
    liquidity_factor: float
    unfilled_slippage: float
    overlays: Overlays
    params_id: ParamsId

    @property
    def label(self) -> str:
        """``name@version``, as reported in results."""
        return f"{self.name}@{self.version}"

    def with_overlays(self, overlays: Overlays) -> FhsParams:
        """The same set with other overlays (the backtest compares them)."""
        return replace(self, overlays=overlays)


def _overlays_check(values: Mapping[str, Any], path: str) -> None:
    if values["buffer_release_full"] <= values["buffer_release_start"]:
        raise SolventInputError(f"{path}.buffer_release_full", "must be above buffer_release_start")


_LIQUIDITY = Table(
    {
        "enabled": flag(default=False),
        "factor": number(0.0, 100.0, unit="multiple of the close-out cost"),
        "unfilled_slippage": number(0.0, 1.0, unit="fraction of mid"),
    },
    source=OURS,
)
_OVERLAYS = Table(
    {
        "buffer": flag(default=False),
        "buffer_rate": number(0.0, 5.0, unit="fraction of margin"),
        "buffer_release_start": number(0.0, 100.0, unit="vol ratio"),
        "buffer_release_full": number(0.0, 100.0, unit="vol ratio"),
        "stressed_weight": number(0.0, 1.0, unit="weight"),
        "stressed_window_days": integer(2, 10_000, unit="days"),
        "floor": flag(default=False),
        "floor_years": number(0.1, 100.0, unit="years"),
    },
    check=_overlays_check,
    source="ours (EMIR RTS 153/2013 art. 28)",
)
FIELDS = Table(
    {
        "history": text(default="embedded", doc='"embedded" or a price-history path'),
        "vol_history": text(default="", doc="optional implied-vol history path"),
        "ewma_lambda": number(0.5, 0.9999, unit="decay per day"),
        "confidence": number(0.5, 0.9999, unit="ES level"),
        "mpor_days": integer(1, 60, unit="days"),
        "lookback_days": integer(0, 100_000, unit="days (0 = all)"),
        "seed_days": integer(1, 1000, unit="days"),
        "min_scenarios": integer(1, 100_000, unit="scenarios"),
        "vol_beta": number(-20.0, 20.0, unit="relative vol change per log return"),
        "max_vol_move": number(0.0, 20.0, unit="relative vol move"),
        "mm_fraction": number(0.01, 1.0, unit="MM / IM"),
        "liquidity": table(_LIQUIDITY, optional=True),
        "overlays": table(_OVERLAYS, optional=True),
    },
    source=OURS,
)


def _build(v: Mapping[str, Any], pid: ParamsId) -> FhsParams:
    liq = v["liquidity"]
    return FhsParams(
        name=pid.name,
        version=pid.version,
        history=v["history"] or "embedded",
        vol_history=v["vol_history"],
        ewma_lambda=v["ewma_lambda"],
        confidence=v["confidence"],
        mpor_days=v["mpor_days"],
        lookback_days=v["lookback_days"],
        seed_days=v["seed_days"],
        min_scenarios=v["min_scenarios"],
        vol_beta=v["vol_beta"],
        max_vol_move=v["max_vol_move"],
        mm_fraction=v["mm_fraction"],
        liquidity_enabled=liq["enabled"],
        liquidity_factor=liq["factor"],
        unfilled_slippage=liq["unfilled_slippage"],
        overlays=Overlays(**v["overlays"]),
        params_id=pid,
    )


SCHEMA = ParamsSchema(MODEL_NAME, ("fhs-es", "fhs-es-99", "fhs-es-apc"), FIELDS, _build)
"""Declaration, built-in sets and loader of fhs-es parameters."""


def parse_params(raw: Mapping[str, Any]) -> FhsParams:
    """Validate a complete fhs-es parameter dict."""
    return SCHEMA.from_mapping(raw)


def load_params(params: str | None = None) -> FhsParams:
    """The fhs-es set: built-in name (``fhs-es``, ``fhs-es-99``, ``fhs-es-apc``), an override
    file merged over ``fhs-es``, or the default."""
    return SCHEMA.load(params)
