"""Dynamic margin requirements: a bounded, rate-limited regime multiplier with a change log.

The multiplier ``m`` scales a model's margin (``IM_dynamic = m x IM``). At each update:

- ``vol_ratio`` = realized EWMA vol / long-run vol (:func:`vol_ratios`);
- vol target ``= 1 + sensitivity x (vol_ratio - 1)``; external target ``= 1 + signal`` for an
  external risk signal ``signal >= 0`` (e.g. exchange inflows scaled to a requested increase:
  0.2 asks for +20 %); a signal can only raise the target: ``target = max(vol, external)``;
- ``target`` is clipped to ``[floor, cap]``; the multiplier moves toward it by at most
  ``max_step`` per update: ``m' = m + clip(target - m, -max_step, max_step)``.

Every change of ``m`` is an immutable :class:`MultiplierEvent` (time from an injected clock,
previous and new value, target, the reason, whether the step was rate-limited). The state is an
immutable value; :func:`update` returns a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.market.history import PriceHistory
from solvent.riskstats.ewma import ewma_sigma, trailing_rms
from solvent.validation import number_in_range

Clock = Callable[[], datetime]


class ChangeReason(StrEnum):
    VOL_REGIME = "vol_regime"
    """Realized vs long-run volatility moved the target."""
    EXTERNAL_SIGNAL = "external_signal"
    """An external risk signal set a higher target than volatility."""


MAX_MULTIPLIER = 100.0
"""Largest floor, cap, step or sensitivity accepted."""


@dataclass(frozen=True, slots=True)
class DynamicParams:
    """Bounds (``floor <= m <= cap``), the step limit per update, and the vol sensitivity."""

    floor: float = 1.0
    cap: float = 3.0
    max_step: float = 0.10
    sensitivity: float = 1.0

    def __post_init__(self) -> None:
        # Finite and bounded (a multiplier of 100 is already absurd): no inf or NaN gets in.
        number_in_range(self.floor, "dynamic.floor", 1e-6, MAX_MULTIPLIER)
        number_in_range(self.cap, "dynamic.cap", 1e-6, MAX_MULTIPLIER)
        number_in_range(self.max_step, "dynamic.max_step", 1e-6, MAX_MULTIPLIER)
        number_in_range(self.sensitivity, "dynamic.sensitivity", 0.0, MAX_MULTIPLIER)
        if not self.floor <= self.cap:
            raise SolventInputError("dynamic.floor", "need 0 < floor <= cap")


@dataclass(frozen=True, slots=True)
class MultiplierEvent:
    """One change of the multiplier and why."""

    time: datetime
    previous: float
    new: float
    target: float
    reason: ChangeReason
    rate_limited: bool
    vol_ratio: float
    signal: float


@dataclass(frozen=True, slots=True)
class DynamicState:
    """The current multiplier and every change so far (oldest first)."""

    multiplier: float
    log: tuple[MultiplierEvent, ...] = ()


def initial_state(params: DynamicParams) -> DynamicState:
    """The neutral state: ``max(1, floor)`` clipped to the cap, no events."""
    return DynamicState(min(max(1.0, params.floor), params.cap))


def update(
    state: DynamicState,
    vol_ratio: float,
    params: DynamicParams,
    clock: Clock,
    signal: float = 0.0,
) -> DynamicState:
    """The state after one update (see the module docstring); logs an event when m changes."""
    if not np.isfinite(vol_ratio) or vol_ratio < 0.0:
        raise SolventInputError("vol_ratio", f"must be finite and >= 0, got {vol_ratio!r}")
    if not np.isfinite(signal) or signal < 0.0:
        raise SolventInputError("signal", f"must be finite and >= 0, got {signal!r}")
    vol_target = 1.0 + params.sensitivity * (vol_ratio - 1.0)
    external = 1.0 + signal
    external_wins = signal > 0.0 and external > vol_target
    reason = ChangeReason.EXTERNAL_SIGNAL if external_wins else ChangeReason.VOL_REGIME
    target = min(max(max(vol_target, external), params.floor), params.cap)
    gap = target - state.multiplier
    step = min(max(gap, -params.max_step), params.max_step)
    new = min(max(state.multiplier + step, params.floor), params.cap)
    if new == state.multiplier:
        return state
    event = MultiplierEvent(
        time=clock(),
        previous=state.multiplier,
        new=new,
        target=target,
        reason=reason,
        rate_limited=abs(gap) > params.max_step,
        vol_ratio=vol_ratio,
        signal=signal,
    )
    return DynamicState(new, (*state.log, event))


def vol_ratios(
    returns: FloatArray, lam: float = 0.97, long_window: int = 365, seed: int = 30
) -> FloatArray:
    """For each day t (after the returns up to t), the EWMA vol forecast over the root mean
    square of the last ``long_window`` returns (all when fewer)."""
    r = np.asarray(returns, dtype=np.float64).reshape(-1)
    sigma = ewma_sigma(r[:, None], lam, seed)[1:, 0]
    out: FloatArray = sigma / np.maximum(trailing_rms(r, long_window), 1e-12)
    return out


def run(
    ratios: FloatArray,
    params: DynamicParams,
    clock: Clock,
    signals: FloatArray | None = None,
) -> tuple[FloatArray, DynamicState]:
    """The multiplier after each update over a series of vol ratios (and signals)."""
    state = initial_state(params)
    sig = np.zeros(len(ratios)) if signals is None else np.asarray(signals, dtype=np.float64)
    path = np.empty(len(ratios))
    for i, ratio in enumerate(np.asarray(ratios, dtype=np.float64)):
        state = update(state, float(ratio), params, clock, float(sig[i]))
        path[i] = state.multiplier
    return path, state


@dataclass(frozen=True, slots=True)
class DynamicReplay:
    """The multiplier over a price history: one value per day (after that day's close) and the
    change log, each event stamped with its day (the replay's clock)."""

    asset: str
    dates: NDArray[np.datetime64]
    multiplier: FloatArray
    vol_ratio: FloatArray
    state: DynamicState


def replay(
    history: PriceHistory,
    asset: str,
    params: DynamicParams,
    signals: Mapping[str, float] | None = None,
    lam: float = 0.97,
    long_window: int = 365,
) -> DynamicReplay:
    """Run the multiplier over ``asset``'s daily closes in ``history``; ``signals`` maps ISO days
    (``2022-11-08``) to external signals applied at that day's update."""
    returns = history.log_returns([asset])
    r = np.asarray(returns.column(asset), dtype=np.float64)
    ratios = vol_ratios(r, lam, long_window)
    days = returns.dates
    index = {str(d): i for i, d in enumerate(days)}
    sig = np.zeros(r.size)
    for day, value in (signals or {}).items():
        if day not in index:
            raise SolventInputError(f"signals.{day}", f"no return of {asset} on that day")
        sig[index[day]] = value
    cursor = {"i": 0}

    def clock() -> datetime:
        day: datetime = days[cursor["i"]].astype("datetime64[s]").item()
        return day.replace(tzinfo=UTC)

    state = initial_state(params)
    path = np.empty(r.size)
    for i in range(r.size):
        cursor["i"] = i
        state = update(state, float(ratios[i]), params, clock, float(sig[i]))
        path[i] = state.multiplier
    return DynamicReplay(asset, days, path, ratios, state)
