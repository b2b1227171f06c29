"""Plain and EWMA correlations against scipy, a direct recursion and constructed series."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import pearsonr

from solvent.errors import SolventInputError
from solvent.market.history import PriceHistory, embedded_price_history
from solvent.scenarios.correlation import correlation_report, ewma_correlation, plain_correlation


def test_plain_matches_scipy_pearson() -> None:
    r = np.asarray(embedded_price_history().log_returns(["BTC", "ETH"]).values)
    assert plain_correlation(r)[0, 1] == pytest.approx(pearsonr(r[:, 0], r[:, 1])[0], rel=1e-12)


def test_ewma_matches_the_riskmetrics_recursion() -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0, 0.02, (400, 3))
    lam = 0.94
    # Recursion C_t = lam C_{t-1} + (1 - lam) r_t r_t^T from C = 0, then renormalized by the
    # total weight (1 - lam^n): the same as the closed-form weighted sum.
    c = np.zeros((3, 3))
    for t in range(400):
        c = lam * c + (1 - lam) * np.outer(r[t], r[t])
    c /= 1 - lam**400
    d = np.sqrt(np.diag(c))
    assert ewma_correlation(r, lam) == pytest.approx(c / np.outer(d, d), rel=1e-10)


def test_perfectly_related_series() -> None:
    x = np.random.default_rng(4).normal(0, 0.01, 300)
    r = np.column_stack([x, 2 * x, -x])
    for m in (plain_correlation(r), ewma_correlation(r, 0.97)):
        assert m == pytest.approx(np.array([[1, 1, -1], [1, 1, -1], [-1, -1, 1]]), abs=1e-12)


def test_report_window_and_errors() -> None:
    hist = embedded_price_history()
    rep = correlation_report(hist, ["BTC", "ETH"], 0.97, 100)
    assert rep.observations == 100 and rep.end == "2026-05-20"
    assert rep.plain.shape == (2, 2) and np.allclose(rep.plain, rep.plain.T)
    with pytest.raises(SolventInputError, match="ewma_lambda"):
        correlation_report(hist, ["BTC"], 1.0)
    flat = PriceHistory(
        hist.dates[:10], ("A", "B"), np.column_stack([np.ones(10), np.arange(1.0, 11)])
    )
    with pytest.raises(SolventInputError, match="constant"):
        correlation_report(flat)


def test_cli_prints_the_documented_shape(tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "h.csv"
    rng = np.random.default_rng(5)
    lines = ["date,asset,close"]
    for asset in ("BTC", "ETH"):
        price = 100.0
        for day in range(60):
            price *= float(np.exp(rng.normal(0, 0.02)))
            lines.append(f"{np.datetime64('2024-01-01') + day},{asset},{price}")
    csv.write_text("\n".join(lines))
    out = subprocess.run(
        [sys.executable, "-m", "solvent.cli.main", "correlation", "--history", str(csv)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert set(data) == {
        "assets",
        "start",
        "end",
        "observations",
        "ewma_lambda",
        "window_days",
        "plain",
        "ewma",
        "daily_volatility",
    }
    assert data["assets"] == ["BTC", "ETH"] and data["observations"] == 59
