"""Margin backtests: roll through a price history, margin one unit of an asset each day, compare
with the realized loss over the horizon (docs/formats.md 4, ``solvent backtest``).

Day ``T`` (an observation of the asset's closes ``P``, ascending): the margin is computed with
only the closes up to ``T`` (the snapshot is as of ``T + 1 day 00:00 UTC``, when the close of
``T`` is final), for a position of ``q = +1`` (long) or ``-1`` (short) coin of the asset held as a
linear perpetual ``<ASSET>_USDC-PERPETUAL`` marked at ``P_T`` (index ``P_T``). The realized loss
is ``-q (P_{T+h} - P_T)`` USD (h observations later); a breach is a realized loss strictly above
the initial margin. Observations run from ``T = warmup_days`` to the last ``T`` with a ``T + h``.

Every model of the registry can be backtested: by default one snapshot and one pass through the
model's three phases per day. A model that implements the optional
:class:`~solvent.margin.protocol.BacktestCapable` capability (fhs-es: a closed form for a single
delta-1 position) answers the whole series at once instead, and may add named variants of itself
(fhs-es: its anti-procyclicality overlays), reported under ``overlays``. This module knows no
model by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.executors import Executor, shard_bounds
from solvent.margin.protocol import (
    BacktestCapable,
    BacktestMargins,
    Detail,
    MarginModel,
    PricedMarket,
    UnitBacktest,
)
from solvent.margin.registry import get_model, resolve_alias
from solvent.market.history import PriceHistory
from solvent.market.snapshot import MarketSnapshot, build_snapshot
from solvent.portfolio.book import Book
from solvent.stress.statistics import (
    Procyclicality,
    christoffersen_independence,
    kupiec_pof,
    procyclicality,
)

DEFAULT_WARMUP_DAYS = 365


class Side(StrEnum):
    """The backtested position: one unit long or one unit short."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> float:
        return 1.0 if self is Side.LONG else -1.0


@dataclass(frozen=True, slots=True)
class BacktestStats:
    """Coverage and procyclicality of one margin series (see :mod:`.statistics`)."""

    observations: int
    breaches: int
    breach_rate: float
    kupiec_lr: float
    kupiec_p: float
    christoffersen_lr: float
    christoffersen_p: float
    procyclicality: Procyclicality

    def to_json(self) -> dict[str, object]:
        return {
            "observations": self.observations,
            "breaches": self.breaches,
            "breach_rate": self.breach_rate,
            "kupiec_p": self.kupiec_p,
            "christoffersen_p": self.christoffersen_p,
            "max_1d_increase": self.procyclicality.max_1d_increase,
            "max_30d_increase": self.procyclicality.max_30d_increase,
            "peak_to_trough": self.procyclicality.peak_to_trough,
            "kupiec_lr": self.kupiec_lr,
            "christoffersen_lr": self.christoffersen_lr,
        }


def evaluate(margin: FloatArray, loss: FloatArray, confidence: float) -> BacktestStats:
    """Breaches (``loss > margin``), Kupiec at ``1 - confidence``, Christoffersen and the
    procyclicality of the margin series."""
    breaches = np.asarray(loss) > np.asarray(margin)
    n, x = int(breaches.size), int(breaches.sum())
    pof = kupiec_pof(n, x, 1.0 - confidence)
    ind = christoffersen_independence(breaches)
    return BacktestStats(
        n, x, x / n, pof.lr, pof.p_value, ind.lr, ind.p_value, procyclicality(margin)
    )


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """A backtest's series (``dates`` of margin days, ``margin`` and ``loss`` in USD), its
    statistics, and the statistics of each of the model's variants (name -> stats; fhs-es's
    overlays, empty for a model without variants)."""

    model: str
    parameters: str
    asset: str
    side: Side
    confidence: float
    horizon_days: int
    dates: NDArray[np.datetime64]
    margin: FloatArray
    loss: FloatArray
    stats: BacktestStats
    overlays: Mapping[str, BacktestStats] = field(default_factory=dict)

    @property
    def breaches(self) -> NDArray[np.bool_]:
        out: NDArray[np.bool_] = self.loss > self.margin
        return out

    def to_json(self, chart: str | None) -> dict[str, object]:
        """docs/formats.md 4 ``solvent backtest`` output, plus optional fields."""
        out: dict[str, object] = {
            "model": self.model,
            "asset": self.asset,
            "confidence": self.confidence,
            "horizon_days": self.horizon_days,
        }
        out |= self.stats.to_json()
        out |= {
            "chart": chart,
            "side": str(self.side),
            "parameters": self.parameters,
            "start": str(self.dates[0]),
            "end": str(self.dates[-1]),
            "expected_breaches": self.stats.observations * (1.0 - self.confidence),
        }
        if self.overlays:
            out["overlays"] = {k: v.to_json() for k, v in self.overlays.items()}
        return out


def _closes(history: PriceHistory, asset: str) -> tuple[NDArray[np.datetime64], FloatArray]:
    series = history.series(asset)
    return series.dates, series.closes


def _check(confidence: float, horizon: int, warmup: int, n: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise SolventInputError("confidence", f"must be in (0, 1), got {confidence!r}")
    if horizon < 1:
        raise SolventInputError("horizon_days", f"must be >= 1, got {horizon!r}")
    if warmup < 1:
        raise SolventInputError("warmup_days", f"must be >= 1, got {warmup!r}")
    if n <= warmup + horizon:
        raise SolventInputError(
            "history", f"{n} closes: need more than warmup_days + horizon_days = {warmup + horizon}"
        )


def day_snapshot(asset: str, day: np.datetime64, close: float) -> MarketSnapshot:
    """The market of margin day ``day``: index = the close, a linear perpetual marked at it,
    as of ``day + 1`` at 00:00 UTC."""
    as_of = datetime.fromisoformat(str(day + np.timedelta64(1, "D"))).replace(tzinfo=UTC)
    return build_snapshot(
        as_of,
        {asset: close, "USDC": 1.0},
        {},
        [{"name": perpetual_name(asset), "mark_price": close}],
    )


def perpetual_name(asset: str) -> str:
    """The linear perpetual used to margin one unit of ``asset``."""
    return f"{asset}_USDC-PERPETUAL"


def registry_margins(
    model: str,
    params: str | None,
    history: PriceHistory,
    asset: str,
    side: Side,
    days: NDArray[np.intp],
) -> FloatArray:
    """Initial margin (USD) of one unit on each of ``days`` (indexes into the asset's closes),
    one snapshot and one pass through the model's three phases per day."""
    margin_model = get_model(resolve_alias(model, params))
    dates, closes = _closes(history, asset)
    loaded = margin_model.load_params(params)
    margin, _ = _day_by_day(margin_model, loaded, dates, closes, asset, side, days)
    return margin


def _day_by_day(
    model: MarginModel,
    params: Any,
    dates: NDArray[np.datetime64],
    closes: FloatArray,
    asset: str,
    side: Side,
    days: NDArray[np.intp],
) -> tuple[FloatArray, str]:
    """The generic path: (initial margin of each day, the parameter set's label)."""
    book = Book.from_arrays(
        ("backtest",),
        (perpetual_name(asset),),
        np.array([0]),
        np.array([0]),
        np.array([side.sign]),
    )
    out = np.empty(days.size)
    label = ""
    for i, t in enumerate(days):
        snap = day_snapshot(asset, dates[t], float(closes[t]))
        priced = PricedMarket.resolve(snap, book.instruments)
        prepared = model.prepare(priced, book.instruments, params)
        result = model.margin(prepared, book, detail=Detail.TOTALS)
        out[i] = result.initial_margin_usd[0]
        label = result.parameters
    return out, label


@dataclass(frozen=True, slots=True)
class DayByDay:
    """What every shard of days of the generic path needs (broadcast once)."""

    model: MarginModel
    params: Any
    dates: NDArray[np.datetime64]
    closes: FloatArray
    asset: str
    side: Side


def days_margin(job: DayByDay, days: NDArray[np.intp]) -> tuple[FloatArray, str]:
    """The generic path over some days (the function an executor maps over shards of days)."""
    return _day_by_day(job.model, job.params, job.dates, job.closes, job.asset, job.side, days)


@dataclass(frozen=True, slots=True)
class ClosedForm:
    """A :class:`BacktestCapable` model's whole series as one job."""

    model: BacktestCapable
    params: Any
    variants: bool


def closed_form_margin(job: ClosedForm, request: UnitBacktest) -> BacktestMargins:
    """The capable model's answer to ``request`` (one shard: the series is one computation)."""
    return job.model.backtest(job.params, request, variants=job.variants)


def _margin_series(
    job: DayByDay, days: NDArray[np.intp], executor: Executor | None, shards: int | None
) -> tuple[FloatArray, str]:
    if executor is None:
        return days_margin(job, days)
    bounds = shard_bounds(days.size, shards if shards is not None else executor.workers)
    parts = executor.map(days_margin, executor.share(job), [days[a:b] for a, b in bounds])
    return np.concatenate([m for m, _ in parts]), parts[-1][1]


def run_backtest(
    model: str,
    history: PriceHistory,
    asset: str = "BTC",
    side: Side = Side.LONG,
    confidence: float = 0.99,
    horizon_days: int = 1,
    params: str | None = None,
    warmup_days: int = DEFAULT_WARMUP_DAYS,
    overlays: bool = True,
    *,
    executor: Executor | None = None,
    shards: int | None = None,
) -> BacktestResult:
    """Backtest ``model`` on ``asset`` (see the module docstring). A model with the backtest
    capability receives the closes of ``history`` and ``horizon_days`` (fhs-es uses it as its
    margin period of risk); with ``overlays`` the result also has each of its variants'
    statistics.

    With an ``executor`` the margin series is computed on it: the generic path in ``shards``
    shards of days (default: one per worker; each day is independent), a capable model's closed
    form as one task. The result is the same, bit for bit."""
    dates, closes = _closes(history, asset)
    _check(confidence, horizon_days, warmup_days, closes.size)
    days = np.arange(warmup_days, closes.size - horizon_days, dtype=np.intp)
    loss = -side.sign * (closes[days + horizon_days] - closes[days])
    margin_model = get_model(resolve_alias(model, params))
    loaded = margin_model.load_params(params)
    variants: dict[str, BacktestStats] = {}
    if isinstance(margin_model, BacktestCapable):
        request = UnitBacktest(closes, side.sign, days, horizon_days)
        if executor is None:
            answer = margin_model.backtest(loaded, request, variants=overlays)
        else:
            job = ClosedForm(margin_model, loaded, overlays)
            (answer,) = executor.map(closed_form_margin, executor.share(job), [request])
        margin, label = answer.margin, answer.parameters
        variants = {name: evaluate(m, loss, confidence) for name, m in answer.variants.items()}
    else:
        by_day = DayByDay(margin_model, loaded, dates, closes, asset, side)
        margin, label = _margin_series(by_day, days, executor, shards)
    return BacktestResult(
        model=model,
        parameters=label,
        asset=asset,
        side=side,
        confidence=confidence,
        horizon_days=horizon_days,
        dates=dates[days],
        margin=margin,
        loss=loss,
        stats=evaluate(margin, loss, confidence),
        overlays=variants,
    )
