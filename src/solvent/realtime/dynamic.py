"""Dynamic margin applied live: the volatility-regime multiplier and its anti-procyclicality floor.

The arithmetic is :mod:`solvent.stress.dynamic` (the one ``solvent dynamic`` replays over daily
closes): a target ``1 + sensitivity x (vol_ratio - 1)`` clipped to ``[floor, cap]``, reached by
steps of at most ``max_step``. Here the volatility is the index's own, measured tick by tick:

- every published index move of an asset adds ``r^2 / dt`` (``r`` the log return, ``dt`` the
  feed seconds since the asset's previous price) to a time-aware EWMA (weight of the old value
  ``exp(-dt ln2 / half_life_s)``): the instantaneous variance per second;
- realized vol (annualized) ``= sqrt(variance per second x 365 x 86,400)``; ``vol_ratio`` =
  realized / ``long_run_vol``, the largest over the assets (the most volatile market sets the
  regime);
- the multiplier updates at most once per ``interval_s`` of feed time; the clock of its change log
  is the feed time, so replays are deterministic.

Parameters are per margin model (``dynamic.toml`` beside this module, documented there and in
docs/engine.md); ``applies_to`` says whether the multiplier scales IM only or IM and MM.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources
from typing import Any

from solvent.errors import SolventInputError
from solvent.stress.dynamic import (
    DynamicParams,
    DynamicState,
    MultiplierEvent,
    initial_state,
    update,
)
from solvent.validation import number_in_range

SECONDS_PER_YEAR = 365.0 * 86_400.0


class AppliesTo(StrEnum):
    """Which requirements the multiplier scales."""

    INITIAL = "initial"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class LiveDynamicParams:
    """One model's live multiplier parameters (see ``dynamic.toml``)."""

    model: str
    bounds: DynamicParams
    long_run_vol: float
    half_life_s: float
    interval_s: float
    applies_to: AppliesTo

    @classmethod
    def from_mapping(cls, model: str, raw: Mapping[str, Any]) -> LiveDynamicParams:
        """Validated parameters from a TOML table; unknown keys raise naming the key."""
        known = {
            "floor",
            "cap",
            "max_step",
            "sensitivity",
            "long_run_vol",
            "half_life_s",
            "interval_s",
            "applies_to",
        }
        for key in raw:
            if key not in known:
                raise SolventInputError(f"dynamic.{model}.{key}", "unknown field")
        f = f"dynamic.{model}"
        try:
            applies = AppliesTo(raw.get("applies_to", "initial"))
        except ValueError:
            raise SolventInputError(
                f"{f}.applies_to", f"must be one of {[a.value for a in AppliesTo]}"
            ) from None
        return cls(
            model=model,
            bounds=DynamicParams(
                floor=float(raw.get("floor", 1.0)),
                cap=float(raw.get("cap", 2.0)),
                max_step=float(raw.get("max_step", 0.05)),
                sensitivity=float(raw.get("sensitivity", 0.5)),
            ),
            long_run_vol=number_in_range(
                raw.get("long_run_vol", 0.6), f"{f}.long_run_vol", 1e-4, 10.0
            ),
            half_life_s=number_in_range(
                raw.get("half_life_s", 300.0), f"{f}.half_life_s", 1e-3, 1e9
            ),
            interval_s=number_in_range(raw.get("interval_s", 1.0), f"{f}.interval_s", 0.0, 1e9),
            applies_to=applies,
        )


def load_dynamic_params(model: str) -> LiveDynamicParams:
    """The shipped parameters of ``model`` (its table in ``dynamic.toml``, else ``[default]``)."""
    text = resources.files("solvent.realtime").joinpath("dynamic.toml").read_text("utf-8")
    tables = tomllib.loads(text)
    return LiveDynamicParams.from_mapping(model, tables.get(model, tables["default"]))


@dataclass(frozen=True, slots=True)
class VolEstimate:
    """EWMA variance per second of one asset's index (``None`` before the second price)."""

    price: float
    time_s: float
    variance_per_s: float | None = None

    def annualized(self) -> float | None:
        """Realized vol, annualized decimal."""
        if self.variance_per_s is None:
            return None
        return math.sqrt(self.variance_per_s * SECONDS_PER_YEAR)


def observe(
    estimate: VolEstimate | None, price: float, time_s: float, half_life_s: float
) -> VolEstimate:
    """The estimate after the index of an asset is ``price`` (USD) at ``time_s`` (feed epoch s).
    A price at the same time as the previous one replaces it without a return (no ``dt``)."""
    if estimate is None:
        return VolEstimate(price, time_s)
    dt = time_s - estimate.time_s
    if dt <= 0.0:
        return VolEstimate(price, estimate.time_s, estimate.variance_per_s)
    r = math.log(price / estimate.price)
    sample = r * r / dt
    if estimate.variance_per_s is None:
        return VolEstimate(price, time_s, sample)
    keep = math.exp(-dt * math.log(2.0) / half_life_s)
    return VolEstimate(price, time_s, keep * estimate.variance_per_s + (1.0 - keep) * sample)


@dataclass(frozen=True, slots=True)
class Multiplier:
    """A model's multiplier in force and why (for account reports)."""

    value: float
    reason: str
    vol_ratio: float | None
    applies_to: AppliesTo

    @property
    def initial(self) -> float:
        """The factor on initial margin."""
        return self.value

    @property
    def maintenance(self) -> float:
        """The factor on maintenance margin (1 unless ``applies_to`` is ``both``)."""
        return self.value if self.applies_to is AppliesTo.BOTH else 1.0

    def to_json(self) -> dict[str, Any]:
        """``{"value", "applies_to", "vol_ratio", "reason"}``."""
        return {
            "value": self.value,
            "applies_to": self.applies_to.value,
            "vol_ratio": self.vol_ratio,
            "reason": self.reason,
        }


class LiveMultiplier:
    """One model's multiplier over the run (mutable: the engine updates it once per tick)."""

    def __init__(self, params: LiveDynamicParams, *, enabled: bool = True) -> None:
        self.params = params
        self.enabled = enabled
        self.state: DynamicState = initial_state(params.bounds)
        self._estimates: dict[str, VolEstimate] = {}
        self._last_update_s: float | None = None
        self._vol_ratio: float | None = None
        self._last_event: MultiplierEvent | None = None

    def observe(self, prices: Mapping[str, float], time: datetime) -> MultiplierEvent | None:
        """Feed the tick's published index prices (USD) at feed ``time``; returns the change of
        the multiplier when there was one."""
        now = time.timestamp()
        for asset, price in sorted(prices.items()):
            self._estimates[asset] = observe(
                self._estimates.get(asset), price, now, self.params.half_life_s
            )
        if not self.enabled:
            return None
        if self._last_update_s is not None and now - self._last_update_s < self.params.interval_s:
            return None
        vols = [v for e in self._estimates.values() if (v := e.annualized()) is not None]
        if not vols:
            return None
        self._last_update_s = now
        self._vol_ratio = max(vols) / self.params.long_run_vol
        before = self.state
        self.state = update(before, self._vol_ratio, self.params.bounds, lambda: time)
        if self.state is before:
            return None
        self._last_event = self.state.log[-1]
        return self._last_event

    def current(self) -> Multiplier:
        """The multiplier in force and a one-line reason."""
        p = self.params
        m = self.state.multiplier
        if not self.enabled:
            return Multiplier(1.0, "dynamic margin off", None, p.applies_to)
        if self._vol_ratio is None:
            reason = (
                f"no realized volatility yet: neutral multiplier {m:g} (floor {p.bounds.floor:g})"
            )
        else:
            target = 1.0 + p.bounds.sensitivity * (self._vol_ratio - 1.0)
            ratio = f"realized vol {self._vol_ratio:.2f}x long-run {p.long_run_vol:.0%}"
            if m <= p.bounds.floor and target < p.bounds.floor:
                reason = f"{ratio}: anti-procyclicality floor {p.bounds.floor:g} in force"
            elif m >= p.bounds.cap and target > p.bounds.cap:
                reason = f"{ratio}: capped at {p.bounds.cap:g}"
            else:
                limited = (
                    self._last_event is not None
                    and self._last_event.rate_limited
                    and abs(self._last_event.new - m) < 1e-15
                )
                step = f", moving by at most {p.bounds.max_step:g} per update" if limited else ""
                reason = (
                    f"{ratio}: target {min(max(target, p.bounds.floor), p.bounds.cap):.3f}{step}"
                )
        return Multiplier(m, f"vol_regime: {reason}", self._vol_ratio, p.applies_to)

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint (restored by :meth:`restore`)."""
        return {
            "multiplier": self.state.multiplier,
            "last_update_s": self._last_update_s,
            "vol_ratio": self._vol_ratio,
            "estimates": {
                a: [e.price, e.time_s, e.variance_per_s] for a, e in sorted(self._estimates.items())
            },
        }

    def restore(self, raw: Mapping[str, Any]) -> None:
        """Back to a checkpointed state (the change log restarts empty)."""
        self.state = DynamicState(float(raw["multiplier"]))
        self._last_update_s = raw["last_update_s"]
        self._vol_ratio = raw["vol_ratio"]
        self._estimates = {
            a: VolEstimate(float(v[0]), float(v[1]), None if v[2] is None else float(v[2]))
            for a, v in raw["estimates"].items()
        }
