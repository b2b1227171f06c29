"""Backtests: the fhs-es closed path equals the model, the acceptance figures, any model runs."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest

from solvent.margin import registry
from solvent.margin.fhs_es.backtest import unit_margins
from solvent.margin.fhs_es.model import margin_book
from solvent.margin.fhs_es.overlays import OVERLAY_VARIANTS
from solvent.margin.fhs_es.params import FhsParams, Overlays, load_params
from solvent.margin.protocol import (
    BacktestCapable,
    BacktestMargins,
    Detail,
    MarketData,
    UnitBacktest,
)
from solvent.margin.registry import get_model
from solvent.margin.result import BookMargin, Composition
from solvent.market.history import embedded_price_history
from solvent.portfolio.book import Book
from solvent.stress.backtest import (
    Side,
    day_snapshot,
    perpetual_name,
    registry_margins,
    run_backtest,
)

HISTORY = embedded_price_history()
DAYS = np.array([400, 1000, 1500, 2300, 3150], dtype=np.intp)


def fhs_es_margins(
    params: FhsParams, history: object, asset: str, side: Side, days: np.ndarray
) -> np.ndarray:
    """fhs-es's closed backtest path on ``asset``'s closes (the model's backtest capability)."""
    assert history is HISTORY
    return unit_margins(params, HISTORY.series(asset).closes, side.sign, days)


def _model_margin(params, asset: str, side: Side, day: int) -> float:  # type: ignore[no-untyped-def]
    series = HISTORY.series(asset)
    snap = day_snapshot(asset, series.dates[day], float(series.closes[day]))
    book = Book.from_arrays(
        ("x",), (perpetual_name(asset),), np.array([0]), np.array([0]), np.array([side.sign])
    )
    return float(margin_book(book, snap, params, history=HISTORY).margin.initial_margin_usd[0])


@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("variant", ["none", "all"])
@pytest.mark.parametrize("horizon", [1, 3])
def test_closed_path_equals_the_model(side: Side, variant: str, horizon: int) -> None:
    params = replace(load_params(), mpor_days=horizon).with_overlays(OVERLAY_VARIANTS[variant])
    fast = fhs_es_margins(params, HISTORY, "ETH", side, DAYS)
    full = [_model_margin(params, "ETH", side, int(d)) for d in DAYS]
    assert fast == pytest.approx(full, rel=1e-9)


def test_closed_path_with_a_lookback() -> None:
    params = replace(load_params(), lookback_days=500)
    fast = fhs_es_margins(params, HISTORY, "BTC", Side.LONG, DAYS[1:3])
    full = [_model_margin(params, "BTC", Side.LONG, int(d)) for d in DAYS[1:3]]
    assert fast == pytest.approx(full, rel=1e-9)


def test_registry_path_of_fhs_es_matches_the_closed_path() -> None:
    days = DAYS[:2]
    via_registry = registry_margins("fhs-es", None, HISTORY, "BTC", Side.SHORT, days)
    assert via_registry == pytest.approx(
        fhs_es_margins(load_params(), HISTORY, "BTC", Side.SHORT, days), rel=1e-9
    )


@pytest.mark.slow
@pytest.mark.parametrize("asset", ["BTC", "ETH"])
@pytest.mark.parametrize("side", list(Side))
def test_default_fhs_es_passes_kupiec_at_99(asset: str, side: Side) -> None:
    """Issue 4 acceptance: whole shipped history, 1 day, 99 %: Kupiec p > 0.05."""
    result = run_backtest("fhs-es", HISTORY, asset, side, 0.99, 1, overlays=False)
    assert result.stats.observations == 2825
    assert result.stats.kupiec_p > 0.05
    assert result.stats.christoffersen_p > 0.05


def test_breaches_and_losses_are_consistent() -> None:
    short = HISTORY.window(None, "2019-09-30")
    result = run_backtest("fhs-es", short, "BTC", Side.LONG, 0.99, 1, overlays=True)
    closes = short.series("BTC").closes
    assert result.loss == pytest.approx(-(closes[366:] - closes[365:-1]))
    assert result.stats.breaches == int(np.sum(result.loss > result.margin))
    assert set(result.overlays) == set(OVERLAY_VARIANTS)
    none = result.overlays["none"]
    every = result.overlays["all"]
    assert every.breaches <= none.breaches  # the overlays only add margin


def test_any_registry_model_runs() -> None:
    short = HISTORY.window("2024-01-01", "2025-03-31")
    result = run_backtest("standard", short, "BTC", Side.SHORT, 0.99, 1, warmup_days=400)
    closes = short.series("BTC").closes
    days = np.arange(400, closes.size - 1)
    # Standard linear perp, 1 coin: IM = (2 % + 1 x 0.005 %) of the notional (METHODOLOGY.md 1)
    assert result.margin == pytest.approx(closes[days] * (0.02 + 0.00005), rel=1e-9)
    assert result.parameters.startswith("standard")
    assert result.overlays == {}


def test_cli_backtest(tmp_path: Path) -> None:
    chart = tmp_path / "c.png"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "solvent.cli.main",
            "backtest",
            "--model",
            "fhs-es",
            "--history",
            str(Path(__file__).resolve().parents[2] / "src/solvent/data/prices"),
            "--asset",
            "ETH",
            "--side",
            "short",
            "--chart",
            str(chart),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    for key in (
        "model",
        "asset",
        "confidence",
        "horizon_days",
        "observations",
        "breaches",
        "breach_rate",
        "kupiec_p",
        "christoffersen_p",
        "max_1d_increase",
        "max_30d_increase",
        "peak_to_trough",
        "chart",
    ):
        assert key in data
    assert data["chart"] == str(chart) and chart.read_bytes()[:4] == b"\x89PNG"
    assert data["side"] == "short" and data["breach_rate"] == data["breaches"] / 2825
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "solvent.cli.main",
            "backtest",
            "--model",
            "fhs-es",
            "--history",
            str(tmp_path / "missing"),
            "--chart",
            str(chart),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "history" in bad.stderr


def test_overlays_variant_helper() -> None:
    assert OVERLAY_VARIANTS["none"] == Overlays()
    assert not OVERLAY_VARIANTS["none"].any and OVERLAY_VARIANTS["all"].any


@dataclass(frozen=True)
class _Capable:
    """A stand-in model with the backtest capability: IM = 5 % of the close (and a variant)."""

    name: str = "five-percent"
    description: str = "test model"
    needs: frozenset[MarketData] = frozenset({MarketData.MARKS})
    seen: list[UnitBacktest] = field(default_factory=list)

    def load_params(self, spec: str | None) -> str:
        return "five@1"

    def prepare(self, market: object, instruments: object, params: str) -> None:
        raise AssertionError("the backtest must use the capability, not the three phases")

    def margin(self, prepared: object, book: Book, *, detail: Detail) -> BookMargin:
        raise AssertionError("the backtest must use the capability, not the three phases")

    def composition(self, params: str) -> Composition:
        return Composition({}, {})

    def backtest(self, params: str, request: UnitBacktest, *, variants: bool) -> BacktestMargins:
        self.seen.append(request)
        margin = 0.05 * request.closes[request.days]
        return BacktestMargins(params, margin, {"double": 2 * margin} if variants else {})


def test_the_backtest_uses_a_model_capability_when_it_has_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _Capable()
    assert isinstance(model, BacktestCapable)
    monkeypatch.setitem(registry._LOADED, model.name, model)  # registered for this test only
    short = HISTORY.window("2024-01-01", "2025-03-31")
    result = run_backtest(model.name, short, "ETH", Side.SHORT, 0.99, 2, warmup_days=400)
    closes = short.series("ETH").closes
    (request,) = model.seen
    assert request.quantity == -1.0 and request.horizon_days == 2
    assert request.days.tolist() == list(range(400, closes.size - 2))
    assert result.margin == pytest.approx(0.05 * closes[400:-2])
    assert result.parameters == "five@1" and set(result.overlays) == {"double"}
    assert result.overlays["double"].breaches <= result.stats.breaches


def test_fhs_es_backtests_through_its_capability() -> None:
    assert isinstance(get_model("fhs-es"), BacktestCapable)
