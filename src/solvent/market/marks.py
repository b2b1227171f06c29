"""Mark prices of delta-1 instruments (dated futures and perpetuals): index + smoothed basis.

Units and signs (all prices in USD per 1 unit of the underlying):

- ``basis = fair - index`` where ``fair`` is the venue's fair price or order-book mid of the
  instrument and ``index`` the oracle index at the same time; ``basis > 0`` is a premium
  (contango, longs pay funding on a perpetual), ``basis < 0`` a discount.
- ``basis_ema`` is a time-aware exponential moving average of the basis (USD). For an observation
  ``dt`` seconds after the previous one, ``alpha = 1 - exp(-dt * ln 2 / half_life_s)`` and
  ``ema <- ema + alpha * (basis - ema)``: after one half-life the old value keeps half its weight,
  whatever the spacing of the updates. The first observation initialises the EMA to that basis;
  a NaN ``fair`` is "no observation" and leaves the EMA (and its timestamp) unchanged.
- ``mark = clip(index + basis_ema, index * (1 - band), index * (1 + band))``, with the band a
  fraction of the index per instrument kind (default +-0.5 % for perpetuals, +-10 % for futures).
  Only the published mark is clamped; the EMA itself is not, so the clamp does not bias it.

Two interfaces over the same arithmetic: pure array functions (:func:`ema_update`,
:func:`clamp_marks`, :func:`ema_path`) that work on a whole set of instruments at once, and the
immutable :class:`MarkState`, which holds the per-instrument EMA and returns a new state on each
observation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError, StaleDataError
from solvent.market.oracle import Timestamp, epoch_seconds

_LN2 = math.log(2.0)


class MarkKind(StrEnum):
    """Delta-1 instruments marked as index + basis (values match docs/formats.md ``kind``)."""

    FUTURE = "future"
    PERPETUAL = "perpetual"


@dataclass(frozen=True, kw_only=True)
class MarkConfig:
    """Mark-price parameters (frozen, validated).

    Attributes:
        half_life_s: half-life of the basis EMA in seconds (> 0).
        perpetual_band: maximum |mark / index - 1| for perpetuals (0.005 = 0.5 %).
        future_band: maximum |mark / index - 1| for dated futures (0.10 = 10 %).
    """

    half_life_s: float = 30.0
    perpetual_band: float = 0.005
    future_band: float = 0.10

    def __post_init__(self) -> None:
        _check_scalar("marks.half_life_s", self.half_life_s, positive=True)
        for name in ("perpetual_band", "future_band"):
            value = getattr(self, name)
            _check_scalar(f"marks.{name}", value, positive=False)
            if value >= 1.0:
                raise SolventInputError(f"marks.{name}", f"must be < 1, got {value!r}")

    def band(self, kind: MarkKind | str) -> float:
        """The clamp band (fraction of the index) of an instrument kind."""
        try:
            parsed = MarkKind(kind)
        except ValueError:
            raise SolventInputError(
                "kind", f"not a delta-1 kind with a basis mark: {kind!r}"
            ) from None
        return self.perpetual_band if parsed is MarkKind.PERPETUAL else self.future_band

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> MarkConfig:
        """Build from a parsed TOML/JSON table; unknown keys raise naming ``marks.<key>``."""
        known = {f.name for f in fields(cls)}
        for key in mapping:
            if key not in known:
                raise SolventInputError(f"marks.{key}", f"unknown field; known: {sorted(known)}")
        return cls(**dict(mapping))


# ------------------------------------------------------------------------------ array functions


def ema_alpha(dt_s: ArrayLike, half_life_s: ArrayLike) -> FloatArray:
    """Weight of a new observation after ``dt_s`` seconds: ``1 - exp(-dt ln2 / half_life)``."""
    dt = _finite_array(dt_s, "dt_s")
    half_life = _finite_array(half_life_s, "half_life_s")
    if bool(np.any(dt < 0.0)):
        raise SolventInputError("dt_s", "must be >= 0 (observations in time order)")
    if bool(np.any(half_life <= 0.0)):
        raise SolventInputError("half_life_s", "must be > 0")
    return np.asarray(-np.expm1(-dt * _LN2 / half_life), dtype=np.float64)


def ema_update(
    basis_ema: ArrayLike, basis: ArrayLike, dt_s: ArrayLike, half_life_s: ArrayLike
) -> FloatArray:
    """One EMA step per instrument (broadcasting): ``ema + alpha(dt) * (basis - ema)`` in USD.

    A NaN ``basis_ema`` (no history) takes the observed ``basis``; a NaN ``basis`` (no
    observation) keeps ``basis_ema``. ``dt_s`` (>= 0) is only used where both are present.
    """
    ema = _array(basis_ema, "basis_ema")
    obs = _array(basis, "basis")
    alpha = ema_alpha(np.where(np.isnan(ema) | np.isnan(obs), 0.0, dt_s), half_life_s)
    stepped = ema + alpha * (obs - ema)
    out = np.where(np.isnan(ema), obs, np.where(np.isnan(obs), ema, stepped))
    return np.asarray(out, dtype=np.float64)


def clamp_marks(index: ArrayLike, basis_ema: ArrayLike, band: ArrayLike) -> FloatArray:
    """``clip(index + basis_ema, index (1 - band), index (1 + band))`` per instrument, in USD.

    ``index`` must be finite and > 0, ``band`` in [0, 1), ``basis_ema`` finite (an instrument
    without a basis cannot be marked: pass 0.0 explicitly to mark it at the index).
    """
    idx = _finite_array(index, "index")
    if bool(np.any(idx <= 0.0)):
        raise SolventInputError("index", "must be > 0")
    ema = _finite_array(basis_ema, "basis_ema")
    width = _finite_array(band, "band")
    if bool(np.any((width < 0.0) | (width >= 1.0))):
        raise SolventInputError("band", "must be in [0, 1)")
    return np.asarray(np.clip(idx + ema, idx * (1.0 - width), idx * (1.0 + width)), np.float64)


def ema_path(times_s: ArrayLike, basis: ArrayLike, half_life_s: float) -> FloatArray:
    """The basis EMA after each observation of a time series (USD).

    ``times_s``: shape (T,), non-decreasing epoch seconds; ``basis``: shape (T,) or (T, n) for n
    instruments observed at the same times (NaN = no observation). Returns the same shape as
    ``basis``; rows before an instrument's first observation are NaN. The recursion runs over
    time; each step is vectorized over instruments.
    """
    times = _finite_array(times_s, "times_s")
    values = _array(basis, "basis")
    if times.ndim != 1 or values.shape[:1] != times.shape or values.ndim not in (1, 2):
        raise SolventInputError("basis", "shape must be (T,) or (T, n) with times_s of shape (T,)")
    if bool(np.any(np.diff(times) < 0.0)):
        raise SolventInputError("times_s", "must be non-decreasing")
    out = np.empty_like(values)
    ema = np.full(values.shape[1:], np.nan)
    last = np.full(values.shape[1:], np.nan)
    for t in range(times.shape[0]):
        dt = np.where(np.isnan(last), 0.0, times[t] - last)
        ema = ema_update(ema, values[t], dt, half_life_s)
        last = np.where(np.isnan(values[t]), last, times[t])
        out[t] = ema
    return out


# ------------------------------------------------------------------------------ immutable state


@dataclass(frozen=True)
class MarkState:
    """Basis EMAs of a fixed set of delta-1 instruments; :meth:`update` returns a new state.

    ``basis_ema`` (USD) and ``observed_at_s`` (epoch seconds of each instrument's last
    observation) are read-only arrays aligned with ``instruments``; NaN until the first one.
    """

    instruments: tuple[str, ...]
    kinds: tuple[MarkKind, ...]
    config: MarkConfig
    basis_ema: FloatArray
    observed_at_s: FloatArray

    def __post_init__(self) -> None:
        n = len(self.instruments)
        if len(set(self.instruments)) != n:
            raise SolventInputError("instruments", "names must be unique")
        if len(self.kinds) != n:
            raise SolventInputError("kinds", f"need {n} kinds, got {len(self.kinds)}")
        kinds = tuple(_kind(k, i) for i, k in enumerate(self.kinds))
        ema = _array(self.basis_ema, "basis_ema").copy()
        when = _array(self.observed_at_s, "observed_at_s").copy()
        if ema.shape != (n,) or when.shape != (n,):
            raise SolventInputError("basis_ema", f"basis_ema and observed_at_s need shape ({n},)")
        if not bool(np.array_equal(np.isnan(ema), np.isnan(when))):
            raise SolventInputError("observed_at_s", "must be NaN exactly where basis_ema is")
        ema.flags.writeable = False
        when.flags.writeable = False
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "basis_ema", ema)
        object.__setattr__(self, "observed_at_s", when)

    @classmethod
    def initial(
        cls,
        instruments: Sequence[str],
        kinds: Sequence[MarkKind | str],
        config: MarkConfig | None = None,
    ) -> MarkState:
        """A state with no observation yet (every EMA NaN)."""
        n = len(instruments)
        return cls(
            instruments=tuple(instruments),
            kinds=tuple(_kind(k, i) for i, k in enumerate(kinds)),
            config=MarkConfig() if config is None else config,
            basis_ema=np.full(n, np.nan),
            observed_at_s=np.full(n, np.nan),
        )

    @property
    def bands(self) -> FloatArray:
        """Clamp band (fraction of the index) of each instrument, from its kind."""
        return np.array([self.config.band(k) for k in self.kinds], dtype=np.float64)

    def update(self, time: Timestamp, index: ArrayLike, fair: ArrayLike) -> MarkState:
        """Observe ``fair`` prices (USD, NaN = not observed) against ``index`` at ``time``.

        ``index`` is a scalar or one index per instrument (finite, > 0). ``time`` may not be
        earlier than an observed instrument's previous observation.
        """
        now = epoch_seconds(time, "time")
        n = len(self.instruments)
        idx = np.broadcast_to(_finite_array(index, "index"), (n,))
        if bool(np.any(idx <= 0.0)):
            raise SolventInputError("index", "must be > 0")
        prices = _array(fair, "fair")
        if prices.shape != (n,):
            raise SolventInputError("fair", f"need shape ({n},), got {prices.shape}")
        observed = ~np.isnan(prices)
        bad = np.flatnonzero(observed & (prices <= 0.0)).tolist()
        if bad:
            raise SolventInputError(f"fair[{self.instruments[bad[0]]}]", "must be > 0")
        has_history = ~np.isnan(self.observed_at_s)
        dt = np.where(has_history, now - self.observed_at_s, 0.0)
        early = np.flatnonzero(observed & (dt < 0.0)).tolist()
        if early:
            name = self.instruments[early[0]]
            raise SolventInputError(
                "time",
                f"{now} s is before the last observation of {name} at "
                f"{self.observed_at_s[early[0]]} s",
            )
        ema = ema_update(self.basis_ema, prices - idx, np.maximum(dt, 0.0), self.config.half_life_s)
        return MarkState(
            instruments=self.instruments,
            kinds=self.kinds,
            config=self.config,
            basis_ema=ema,
            observed_at_s=np.where(observed, now, self.observed_at_s),
        )

    def marks(self, index: ArrayLike) -> FloatArray:
        """Clamped mark prices (USD) at ``index`` (scalar or per instrument).

        Raises :class:`StaleDataError` naming the first instrument never observed.
        """
        missing = np.flatnonzero(np.isnan(self.basis_ema)).tolist()
        if missing:
            raise StaleDataError(
                f"marks[{self.instruments[missing[0]]}]", "no basis observation yet"
            )
        return clamp_marks(index, self.basis_ema, self.bands)


# ----------------------------------------------------------------------------------- validation


def _kind(kind: MarkKind | str, i: int) -> MarkKind:
    try:
        return MarkKind(kind)
    except ValueError:
        raise SolventInputError(
            f"kinds[{i}]", f"must be one of {[k.value for k in MarkKind]}, got {kind!r}"
        ) from None


def _array(values: ArrayLike, field: str) -> FloatArray:
    """Float array; NaN allowed (missing), infinities rejected."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise SolventInputError(field, "must be numeric") from None
    if bool(np.any(np.isinf(array))):
        raise SolventInputError(field, "must not be infinite")
    return array


def _finite_array(values: ArrayLike, field: str) -> FloatArray:
    array = _array(values, field)
    if bool(np.any(np.isnan(array))):
        raise SolventInputError(field, "must be finite (no NaN)")
    return array


def _check_scalar(field: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SolventInputError(field, f"must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0.0 or (positive and value == 0.0):
        raise SolventInputError(field, f"must be finite and {'> 0' if positive else '>= 0'}")
