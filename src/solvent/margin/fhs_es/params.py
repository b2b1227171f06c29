"""Validated ``fhs-es`` parameter sets (``solvent/margin/params/fhs-es*.toml``).

Every field is documented in the TOML file and in docs/methodology/fhs-es.md. Unknown fields and
out-of-range values raise :class:`~solvent.errors.SolventInputError` naming ``params.<field>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from solvent.errors import SolventInputError
from solvent.margin.params import check_fields, number_in, resolve_params

MODEL_NAME = "fhs-es"

_TOP = {
    "name",
    "version",
    "history",
    "vol_history",
    "ewma_lambda",
    "confidence",
    "mpor_days",
    "lookback_days",
    "seed_days",
    "min_scenarios",
    "vol_beta",
    "max_vol_move",
    "mm_fraction",
    "liquidity",
    "overlays",
}
_LIQUIDITY = {"enabled", "factor", "unfilled_slippage"}
_OVERLAYS = {
    "buffer",
    "buffer_rate",
    "buffer_release_start",
    "buffer_release_full",
    "stressed_weight",
    "stressed_window_days",
    "floor",
    "floor_years",
}


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

    @property
    def label(self) -> str:
        """``name@version``, as reported in results."""
        return f"{self.name}@{self.version}"

    def with_overlays(self, overlays: Overlays) -> FhsParams:
        """The same set with other overlays (the backtest compares them)."""
        return replace(self, overlays=overlays)


def _flag(table: Mapping[str, Any], key: str, path: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise SolventInputError(f"params.{path}{key}", f"must be true or false, got {value!r}")
    return value


def _integer(table: Mapping[str, Any], key: str, path: str, lo: int, hi: int) -> int:
    value = number_in(table, key, path, lo, hi)
    if value != int(value):
        raise SolventInputError(f"params.{path}{key}", f"must be an integer, got {value!r}")
    return int(value)


def _text(table: Mapping[str, Any], key: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise SolventInputError(f"params.{key}", f"must be a string, got {value!r}")
    return value


def parse_params(raw: Mapping[str, Any]) -> FhsParams:
    """Validate an fhs-es parameter dict."""
    check_fields(raw, _TOP, "")
    liq = raw.get("liquidity", {})
    ovl = raw.get("overlays", {})
    for key, table in (("liquidity", liq), ("overlays", ovl)):
        if not isinstance(table, dict):
            raise SolventInputError(f"params.{key}", "must be a table")
    check_fields(liq, _LIQUIDITY, "liquidity.")
    check_fields(ovl, _OVERLAYS, "overlays.")
    overlays = Overlays(
        buffer=_flag(ovl, "buffer", "overlays."),
        buffer_rate=number_in(ovl, "buffer_rate", "overlays.", 0.0, 5.0),
        buffer_release_start=number_in(ovl, "buffer_release_start", "overlays.", 0.0, 100.0),
        buffer_release_full=number_in(ovl, "buffer_release_full", "overlays.", 0.0, 100.0),
        stressed_weight=number_in(ovl, "stressed_weight", "overlays.", 0.0, 1.0),
        stressed_window_days=_integer(ovl, "stressed_window_days", "overlays.", 2, 10_000),
        floor=_flag(ovl, "floor", "overlays."),
        floor_years=number_in(ovl, "floor_years", "overlays.", 0.1, 100.0),
    )
    if overlays.buffer_release_full <= overlays.buffer_release_start:
        raise SolventInputError(
            "params.overlays.buffer_release_full", "must be above buffer_release_start"
        )
    return FhsParams(
        name=str(raw.get("name", MODEL_NAME)),
        version=str(raw.get("version", "custom")),
        history=_text(raw, "history") or "embedded",
        vol_history=_text(raw, "vol_history"),
        ewma_lambda=number_in(raw, "ewma_lambda", "", 0.5, 0.9999),
        confidence=number_in(raw, "confidence", "", 0.5, 0.9999),
        mpor_days=_integer(raw, "mpor_days", "", 1, 60),
        lookback_days=_integer(raw, "lookback_days", "", 0, 100_000),
        seed_days=_integer(raw, "seed_days", "", 1, 1000),
        min_scenarios=_integer(raw, "min_scenarios", "", 1, 100_000),
        vol_beta=number_in(raw, "vol_beta", "", -20.0, 20.0),
        max_vol_move=number_in(raw, "max_vol_move", "", 0.0, 20.0),
        mm_fraction=number_in(raw, "mm_fraction", "", 0.01, 1.0),
        liquidity_enabled=_flag(liq, "enabled", "liquidity."),
        liquidity_factor=number_in(liq, "factor", "liquidity.", 0.0, 100.0),
        unfilled_slippage=number_in(liq, "unfilled_slippage", "liquidity.", 0.0, 1.0),
        overlays=overlays,
    )


def load_params(params: str | None = None) -> FhsParams:
    """The fhs-es set: built-in name (``fhs-es``, ``fhs-es-99``, ``fhs-es-apc``), an override
    file merged over ``fhs-es``, or the default."""
    return parse_params(resolve_params(MODEL_NAME, params))
