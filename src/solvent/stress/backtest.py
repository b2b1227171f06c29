"""Margin backtests: roll through a price history, margin one unit of an asset each day, compare
with the realized loss over the horizon (FORMATS.md 4, ``solvent backtest``).

Day ``T`` (an observation of the asset's closes ``P``, ascending): the margin is computed with
only the closes up to ``T`` (the snapshot is as of ``T + 1 day 00:00 UTC``, when the close of
``T`` is final), for a position of ``q = +1`` (long) or ``-1`` (short) coin of the asset held as a
linear perpetual ``<ASSET>_USDC-PERPETUAL`` marked at ``P_T`` (index ``P_T``). The realized loss
is ``-q (P_{T+h} - P_T)`` USD (h observations later); a breach is a realized loss strictly above
the initial margin. Observations run from ``T = warmup_days`` to the last ``T`` with a ``T + h``.

Every model of the registry is run the same way (:func:`run_backtest`: one snapshot and one
registry call per day). ``fhs-es`` has a closed path (:func:`fhs_es_margins`): for a single
linear delta-1 position the scenario P&L is ``q P_T expm1(sigma S)`` with ``S`` the filtered
h-day sums, so each day needs only a partition of the sums, no pricing; it equals the model's
own result (tests check a few days) and it gives the overlays' variants cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.margin.fhs_es.filtering import ewma_sigma, window_sums
from solvent.margin.fhs_es.model import combine
from solvent.margin.fhs_es.params import FhsParams, Overlays
from solvent.margin.fhs_es.params import load_params as load_fhs_params
from solvent.margin.fhs_es.tail import tail_count
from solvent.margin.protocol import Detail, PricedMarket, margin_book
from solvent.margin.registry import get_model
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
FHS_MODEL = "fhs-es"


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
    statistics, and for fhs-es the statistics of each overlay variant (name -> stats)."""

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
        """FORMATS.md 4 ``solvent backtest`` output, plus optional fields."""
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
    one snapshot and one registry call per day."""
    margin_model = get_model(model)
    loaded = margin_model.load_params(params)
    dates, closes = _closes(history, asset)
    book = Book.from_arrays(
        ("backtest",),
        (perpetual_name(asset),),
        np.array([0]),
        np.array([0]),
        np.array([side.sign]),
    )
    out = np.empty(days.size)
    for i, t in enumerate(days):
        snap = day_snapshot(asset, dates[t], float(closes[t]))
        priced = PricedMarket.resolve(snap, book.instruments)
        prepared = margin_model.prepare(priced, book.instruments, loaded)
        out[i] = margin_model.margin(prepared, book, detail=Detail.TOTALS).initial_margin_usd[0]
    return out


def fhs_es_margins(
    params: FhsParams, history: PriceHistory, asset: str, side: Side, days: NDArray[np.intp]
) -> FloatArray:
    """fhs-es initial margin (USD) of one unit on each of ``days``, by the closed path (see the
    module docstring); equal to :func:`solvent.margin.fhs_es.model.margin_book` on the day's
    snapshot (no order book, so no liquidity add-on)."""
    _, closes = _closes(history, asset)
    r = np.diff(np.log(closes))[:, None]  # r[i] ends at close i + 1
    h, seed = params.mpor_days, params.seed_days
    sigma = ewma_sigma(r, params.ewma_lambda, seed)[:, 0]
    z = r[:, 0] / sigma[:-1]
    sums = window_sums(z[seed:, None], h)[:, 0]  # sums[j] covers z[seed+j .. seed+j+h-1]
    raw = window_sums(r, h)[:, 0]  # raw[j] covers r[j .. j+h-1]
    sq = np.concatenate([[0.0], np.cumsum(r[:, 0] ** 2)])
    ovl = params.overlays
    w_long = round(ovl.floor_years * 365.0)
    w_s = ovl.stressed_window_days
    win = sq[w_s:] - sq[:-w_s] if r.shape[0] >= w_s else np.zeros(0)
    out = np.empty(days.size)
    es = np.empty(days.size)
    es_floor = np.zeros(days.size)
    es_stress = np.zeros(days.size)
    ratio = np.empty(days.size)
    for i, t in enumerate(days):
        n_ret = int(t)  # returns known at close t: r[0 .. t-1]
        n_sum = n_ret - seed - h + 1
        if n_sum < params.min_scenarios:
            raise SolventInputError(
                "warmup_days", f"day {t}: {n_sum} fhs-es scenarios < min_scenarios"
            )
        lo = max(0, n_sum - params.lookback_days) if params.lookback_days else 0
        s = sums[lo:n_sum]
        k = tail_count(s.size, params.confidence)
        p = float(closes[t])
        worst = _k_worst(s, k, side)
        sig = float(sigma[n_ret])
        es[i] = p * float(np.mean(-side.sign * np.expm1(sig * worst)))
        sig_long = float(np.sqrt((sq[n_ret] - sq[max(0, n_ret - w_long)]) / min(n_ret, w_long)))
        ratio[i] = sig / max(sig_long, 1e-12)
        if ovl.floor:
            es_floor[i] = p * float(np.mean(-side.sign * np.expm1(sig_long * worst)))
        if ovl.stressed_weight > 0:
            if n_ret <= w_s:
                w0, w1 = 0, n_ret
            else:
                w0 = int(np.argmax(win[: n_ret - w_s + 1]))
                w1 = w0 + w_s
            if w1 - w0 < h:
                w0, w1 = 0, n_ret
            block = raw[w0 : w1 - h + 1]
            kb = tail_count(block.size, params.confidence)
            es_stress[i] = p * float(np.mean(-side.sign * np.expm1(_k_worst(block, kb, side))))
    comps = combine(es, es_stress, es_floor, ovl, ratio)
    out = comps["es"] + comps["stressed_period"] + comps["floor"] + comps["buffer"]
    return out


def _k_worst(values: FloatArray, k: int, side: Side) -> FloatArray:
    """The k values giving the largest losses: smallest for a long, largest for a short."""
    if side is Side.LONG:
        return np.partition(values, k - 1)[:k]
    return np.partition(values, values.size - k)[values.size - k :]


OVERLAY_VARIANTS: dict[str, Overlays] = {
    "none": Overlays(),
    "buffer": Overlays(buffer=True),
    "stressed_period": Overlays(stressed_weight=0.25),
    "floor": Overlays(floor=True),
    "all": Overlays(buffer=True, stressed_weight=0.25, floor=True),
}
"""The fhs-es overlay variants reported by the backtest (EMIR art. 28 (a), (b), (c), all)."""


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
) -> BacktestResult:
    """Backtest ``model`` on ``asset`` (see the module docstring). For fhs-es the parameter set's
    ``mpor_days`` is set to ``horizon_days`` and the history is the one given; with
    ``overlays`` the result also has each overlay variant's statistics."""
    dates, closes = _closes(history, asset)
    _check(confidence, horizon_days, warmup_days, closes.size)
    days = np.arange(warmup_days, closes.size - horizon_days, dtype=np.intp)
    loss = -side.sign * (closes[days + horizon_days] - closes[days])
    variants: dict[str, BacktestStats] = {}
    if model == FHS_MODEL:
        base = load_fhs_params(params)
        fhs = replace(base, mpor_days=horizon_days)
        margin = fhs_es_margins(fhs, history, asset, side, days)
        label = fhs.label
        if overlays:
            for name, variant in OVERLAY_VARIANTS.items():
                m = fhs_es_margins(fhs.with_overlays(variant), history, asset, side, days)
                variants[name] = evaluate(m, loss, confidence)
    else:
        margin = registry_margins(model, params, history, asset, side, days)
        snap = day_snapshot(asset, dates[days[0]], float(closes[days[0]]))
        book = Book.from_arrays(
            ("b",), (perpetual_name(asset),), np.array([0]), np.array([0]), np.array([1.0])
        )
        label = margin_book(get_model(model), book, snap, params, detail=Detail.TOTALS).parameters
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
