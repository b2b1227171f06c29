"""The crypto calibration (``--simm-version 2.6-crypto``): reproducible from the shipped price
history, and its numbers checked against a direct computation from the raw closes."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from solvent.margin.simm import compute_simm, load_calibration, parse_crif
from solvent.margin.simm.calibrate_crypto import build

PRICES = Path(str(resources.files("solvent"))) / "data" / "prices"
CAL_DIR = Path(str(resources.files("solvent.margin.simm"))) / "calibration"
pytestmark = pytest.mark.skipif(not PRICES.is_dir(), reason="embedded price history missing")


def _closes(asset: str) -> tuple[list[str], np.ndarray]:
    with (PRICES / f"Binance_{asset}USDT_d.csv").open() as f:
        next(f)
        rows = sorted((r["Date"][:10], float(r["Close"])) for r in csv.DictReader(f))
    return [d for d, _ in rows], np.array([c for _, c in rows])


@pytest.mark.parametrize("mpor", [10, 1])
def test_shipped_file_is_reproducible(mpor: int) -> None:
    shipped = json.loads((CAL_DIR / f"simm_v2_6-crypto_{mpor}d.json").read_text())
    assert shipped["commodity"] == build(PRICES, mpor)["commodity"]


@pytest.mark.parametrize("mpor", [10, 1])
def test_btc_risk_weight_is_the_99pct_move(mpor: int) -> None:
    _, close = _closes("BTC")
    moves = np.abs(close[mpor:] / close[:-mpor] - 1.0) * 100.0
    q = float(np.quantile(moves, 0.99))
    rw = load_calibration("2.6-crypto", mpor).commodity.delta_rw[0]
    assert q <= rw < q + 0.1 + 1e-9
    # at most 1 % of the historical moves exceed the risk weight (up to one observation)
    assert np.mean(moves > rw) <= 0.01 + 1.0 / moves.size


def test_correlations_and_structure() -> None:
    cal = load_calibration("2.6-crypto", 10)
    com = cal.commodity
    assert com.buckets == ("1", "2", "3", "4", "5")
    assert np.all(np.linalg.eigvalsh(com.inter) > 0)  # a valid correlation matrix
    # majors (bucket 3): mean pairwise correlation of 10-day log returns on common days
    series = {a: dict(zip(*_closes(a), strict=True)) for a in ("BNB", "SOL", "XRP")}
    days = sorted(set.intersection(*(set(s) for s in series.values())))
    rets = [
        np.log(
            np.array([series[a][d] for d in days[10:]])
            / np.array([series[a][d] for d in days[:-10]])
        )
        for a in series
    ]
    c = np.corrcoef(np.vstack(rets))
    assert com.intra[2] == pytest.approx(np.mean(c[np.triu_indices(3, 1)]), abs=0.005 + 1e-12)
    # BTC - ETH correlation is high, stablecoins uncorrelated by policy
    assert com.inter[0, 1] > 0.7 and np.all(com.inter[4, :4] == 0.0)
    # crypto risk weights exceed ISDA's commodity weights; other classes stay ISDA v2.6
    assert com.delta_rw[0] > 30
    assert (cal.equity.delta_rw == load_calibration("2.6", 10).equity.delta_rw).all()


def test_crypto_simm_end_to_end() -> None:
    text = (
        "ProductClass,RiskType,Qualifier,Bucket,Label1,Label2,Amount,AmountCurrency,AmountUSD\n"
        "Commodity,Risk_Commodity,BTC,1,,,10000,USD,10000\n"
    )
    cal = load_calibration("2.6-crypto", 10)
    out = compute_simm(parse_crif(text), cal).to_json()
    assert out["version"] == "2.6-crypto"
    assert out["simm"] == pytest.approx(cal.commodity.delta_rw[0] * 10000, rel=1e-12)
