"""Estimate a crypto calibration of SIMM from daily closes, and write it as a calibration file.

The crypto assets are carried in SIMM's Commodity risk class (same formulas: delta, vega,
curvature, concentration, intra-/inter-bucket correlations), with five buckets of our own:

    1 BTC, 2 ETH, 3 majors (BNB, SOL, XRP), 4 alts (ADA, DOGE, TRX, BCH), 5 stablecoins

Method (SIMM-style, per MPOR h = 10 or 1 days), from the daily USDT closes in ``--prices``:

* returns: overlapping h-day log returns r = ln(P_{t+h} / P_t) over each asset's whole history
  (which contains the 2020-03, 2021-05 and 2022 stress periods);
* delta risk weight of an asset: the 99th percentile of |exp(r) - 1| in percent (the CRIF amount
  is USD per 1 % move); a bucket's weight is the largest of its members', rounded up to 0.1;
* vega risk weight (no implied-vol history is shipped, so realized vol is the proxy): the 99th
  percentile of |ln(RV_{t+h} / RV_t)| with RV the 60-day realized volatility (a 60-day window
  because implied vol moves more smoothly than a short realized vol); bucket = max of members;
  historical volatility ratio 1;
* intra-bucket correlation: mean pairwise correlation of the members' h-day returns on common days
  (single-asset buckets: 0.99, different qualifiers of one asset such as wrapped tokens);
* inter-bucket correlation: correlation of the buckets' equal-weighted h-day index returns;
* concentration thresholds (10-day only, as in SIMM): a delta threshold of 10 % of the smallest
  member's median daily USD volume over its last 365 days, per 1 % move (x 0.01), in USD millions;
  the vega threshold equals the delta threshold.
* stablecoins (no price series shipped): policy values, not estimates: risk weight 3 (10-day) and
  1.5 (1-day), the largest estimated vega weight, intra-bucket correlation 0.5, zero
  correlation to the other buckets, the majors' concentration threshold.

Every other number (interest rates, credit, equity, FX, psi) is the ISDA v2.6 calibration.
Re-run: ``python -m solvent.margin.simm.calibrate_crypto [--prices DIR]``.
"""

from __future__ import annotations

import argparse
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from solvent.arrays import FloatArray

VERSION = "2.6-crypto"
BUCKETS: dict[str, tuple[str, ...]] = {
    "1": ("BTC",),
    "2": ("ETH",),
    "3": ("BNB", "SOL", "XRP"),
    "4": ("ADA", "DOGE", "TRX", "BCH"),
    "5": ("USDT", "USDC", "DAI"),
}
STABLE_BUCKET = "5"
STABLE_RW = {10: 3.0, 1: 1.5}
STABLE_INTRA = 0.5
SINGLE_ASSET_INTRA = 0.99
THRESHOLD_VOLUME_SHARE = 0.10
RV_WINDOW = 60


def _read_closes(path: Path) -> tuple[npt.NDArray[np.str_], FloatArray, FloatArray]:
    """Dates (ISO), closes and USDT volumes of one CryptoDataDownload file, oldest first."""
    lines = path.read_text().splitlines()
    header = lines[1].split(",")
    i_date, i_close, i_vol = (
        header.index("Date"),
        header.index("Close"),
        header.index("Volume USDT"),
    )
    rows = [ln.split(",") for ln in lines[2:] if ln.strip()]
    dates = np.array([r[i_date][:10] for r in rows])
    close = np.array([float(r[i_close]) for r in rows])
    vol = np.array([float(r[i_vol]) for r in rows])
    order = np.argsort(dates)
    return dates[order], close[order], vol[order]


def _returns(close: FloatArray, h: int) -> FloatArray:
    logp = np.log(close)
    return logp[h:] - logp[:-h]


def _quantile_move(r: FloatArray) -> float:
    return float(np.quantile(np.abs(np.expm1(r)), 0.99))


def _vega_weight(close: FloatArray, h: int) -> float:
    d = np.diff(np.log(close))
    windows = np.lib.stride_tricks.sliding_window_view(d, RV_WINDOW)
    rv = windows.std(axis=1, ddof=1)
    return float(np.quantile(np.abs(np.log(rv[h:] / rv[:-h])), 0.99))


def _round_up(x: float, step: float = 0.1) -> float:
    return round(math.ceil(x / step - 1e-9) * step, 10)


def estimate(prices: Path, mpor_days: int) -> dict[str, Any]:
    """The commodity section of the crypto calibration for ``mpor_days`` (see module doc)."""
    series: dict[str, tuple[npt.NDArray[np.str_], FloatArray, FloatArray]] = {}
    for f in sorted(prices.glob("Binance_*USDT_d.csv")):
        series[f.name.split("_")[1].removesuffix("USDT")] = _read_closes(f)
    h = mpor_days
    buckets = list(BUCKETS)
    rw: dict[str, float] = {}
    vega: dict[str, float] = {}
    intra: dict[str, float] = {}
    threshold: dict[str, float] = {}
    index_returns: dict[str, dict[str, float]] = {}
    for b, assets in BUCKETS.items():
        held = [a for a in assets if a in series]
        if not held:
            continue
        rw[b] = _round_up(100.0 * max(_quantile_move(_returns(series[a][1], h)) for a in held))
        vega[b] = _round_up(max(_vega_weight(series[a][1], h) for a in held), 0.01)
        common = sorted(set.intersection(*(set(series[a][0].tolist()) for a in held)))
        mats = []
        for a in held:
            dates, close, _ = series[a]
            sel = np.isin(dates, common)
            mats.append(_returns(close[sel], h))
        m = np.vstack(mats)
        if len(held) > 1:
            c = np.atleast_2d(np.corrcoef(m))
            intra[b] = round(float(c[np.triu_indices(len(held), 1)].mean()), 2)
        else:
            intra[b] = SINGLE_ASSET_INTRA
        idx = m.mean(axis=0)
        index_returns[b] = dict(zip(common[h:], idx.tolist(), strict=True))
        adv = min(float(np.median(series[a][2][-365:])) for a in held)
        threshold[b] = float(f"{THRESHOLD_VOLUME_SHARE * adv * 0.01 / 1e6:.3g}")
    est = [b for b in buckets if b in index_returns]
    common_days = sorted(set.intersection(*(set(index_returns[b]) for b in est)))
    idx_m = np.array([[index_returns[b][d] for d in common_days] for b in est])
    corr = np.atleast_2d(np.corrcoef(idx_m))
    inter = np.eye(len(buckets))
    for i, bi in enumerate(est):
        for j, bj in enumerate(est):
            if i != j:
                inter[buckets.index(bi), buckets.index(bj)] = round(float(corr[i, j]), 2)
    rw[STABLE_BUCKET] = STABLE_RW[mpor_days]
    vega[STABLE_BUCKET] = max(vega.values())
    intra[STABLE_BUCKET] = STABLE_INTRA
    threshold[STABLE_BUCKET] = threshold["3"]
    return {
        "buckets": buckets,
        "delta_risk_weights": {b: rw[b] for b in buckets},
        "vega_risk_weights": {b: vega[b] for b in buckets},
        "intra_bucket_correlation": {b: intra[b] for b in buckets},
        "inter_bucket_correlation": inter.tolist(),
        "delta_thresholds": {b: threshold[b] for b in buckets},
        "vega_thresholds": {b: threshold[b] for b in buckets},
        "historical_volatility_ratio": 1.0,
    }


def build(prices: Path, mpor_days: int) -> dict[str, Any]:
    """The full crypto calibration: ISDA v2.6 with the Commodity class replaced by crypto."""
    base_name = f"simm_v2_6_{mpor_days}d.json"
    base: dict[str, Any] = json.loads(
        resources.files(__package__).joinpath("calibration", base_name).read_text()
    )
    base["version"] = VERSION
    base["source"] = (
        "Solvent crypto calibration: Commodity risk class re-estimated from daily Binance closes "
        f"({prices.name}) by solvent.margin.simm.calibrate_crypto; all other classes ISDA SIMM v2.6"
    )
    base["commodity"] = estimate(prices, mpor_days)
    return base


def main(argv: list[str] | None = None) -> None:
    """Write ``calibration/simm_v2_6-crypto_{10,1}d.json`` next to this module."""
    default = Path(str(resources.files("solvent"))) / "data" / "prices"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--prices", type=Path, default=default)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "calibration")
    args = parser.parse_args(argv)
    for mpor in (10, 1):
        cal = build(args.prices, mpor)
        path = args.out / f"simm_v{VERSION.replace('.', '_')}_{mpor}d.json"
        path.write_text(json.dumps(cal, indent=1) + "\n")
        com = cal["commodity"]
        print(path, com["delta_risk_weights"], com["vega_risk_weights"])


if __name__ == "__main__":
    main()
