"""Black-76 against Deribit itself: every option of the shipped chains.

For each option, Deribit publishes its mark IV (``implied_volatility``), the forward it priced on
(``underlying``) and its mark premium in coin (``mark_price``) and Black delta (``delta``). Pricing
with our kernel must reproduce the mark to a median of 1e-5 coin over all options and a 99th
percentile of 3e-4 coin over options with |delta| <= 0.9, and the delta to 0.01 at the 99th
percentile (pooled over the four shipped snapshots; figures per file in
docs/methodology/pricing.md). Time to expiry: ACT/365 in seconds from the snapshot ``timestamp``
to ``expiry_datetime``, which fits Deribit's marks better than the file's ``time_to_maturity``
column (that column is ACT/365.25, about 0.07 % shorter).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from solvent.pricing.black76 import black76_greeks, inverse_price

SNAPSHOTS = (
    "deribit_options_snapshot_20251230T173115Z.csv",
    "deribit_options_snapshot_20260105T153329Z.csv",
    "deribit_options_snapshot_20260115T153452Z.csv",
    "deribit_options_snapshot_20260125T152900Z.csv",
)
SECONDS_PER_YEAR = 365.0 * 86400.0


@dataclass(frozen=True)
class Chain:
    forward: np.ndarray
    strike: np.ndarray
    iv: np.ndarray
    is_call: np.ndarray
    time_act365: np.ndarray
    time_column: np.ndarray
    mark: np.ndarray
    delta: np.ndarray


def read_chain(path: Path) -> Chain:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    def col(name: str) -> np.ndarray:
        return np.array([float(r[name]) for r in rows])

    seconds = [
        (
            datetime.fromisoformat(r["expiry_datetime"]) - datetime.fromisoformat(r["timestamp"])
        ).total_seconds()
        for r in rows
    ]
    return Chain(
        forward=col("underlying"),
        strike=col("strike"),
        iv=col("implied_volatility"),
        is_call=np.array([r["option_type"] == "call" for r in rows]),
        time_act365=np.array(seconds) / SECONDS_PER_YEAR,
        time_column=col("time_to_maturity"),
        mark=col("mark_price"),
        delta=col("delta"),
    )


@pytest.fixture(scope="module")
def chains(shared_dir: Path) -> dict[str, Chain]:
    folder = shared_dir / "data" / "deribit"
    missing = [s for s in SNAPSHOTS if not (folder / s).is_file()]
    if missing:
        pytest.skip(f"Deribit snapshots not found: {missing}")
    return {name: read_chain(folder / name) for name in SNAPSHOTS}


def _errors(chain: Chain, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = black76_greeks(chain.forward, chain.strike, time, chain.iv, chain.is_call)
    coin = inverse_price(g.price, chain.forward)
    return np.abs(coin - chain.mark), np.abs(g.delta - chain.delta)


def figures(chain: Chain, time: np.ndarray) -> dict[str, float]:
    mark_err, delta_err = _errors(chain, time)
    body = np.abs(chain.delta) <= 0.9
    return {
        "n": float(chain.mark.size),
        "median": float(np.median(mark_err)),
        "p99_body": float(np.percentile(mark_err[body], 99)),
        "max": float(mark_err.max()),
        "delta_p99": float(np.percentile(delta_err, 99)),
    }


def _pooled(chains: dict[str, Chain], which: str) -> dict[str, float]:
    marks, deltas, body = [], [], []
    for chain in chains.values():
        m, d = _errors(chain, getattr(chain, which))
        marks.append(m)
        deltas.append(d)
        body.append(np.abs(chain.delta) <= 0.9)
    mark_err, delta_err, in_body = map(np.concatenate, (marks, deltas, body))
    return {
        "n": float(mark_err.size),
        "median": float(np.median(mark_err)),
        "p99_body": float(np.percentile(mark_err[in_body], 99)),
        "max": float(mark_err.max()),
        "delta_p99": float(np.percentile(delta_err, 99)),
    }


def test_marks_and_deltas_match_deribit(chains: dict[str, Chain]) -> None:
    for name, chain in chains.items():
        f = figures(chain, chain.time_act365)
        print(
            f"{name}: n={f['n']:.0f} median {f['median']:.2e} p99(|delta|<=0.9) "
            f"{f['p99_body']:.2e} max {f['max']:.2e} coin; delta p99 {f['delta_p99']:.4f}"
        )
    pooled = _pooled(chains, "time_act365")
    print(f"pooled: {pooled}")
    assert pooled["n"] > 5000
    assert pooled["median"] < 1e-5
    assert pooled["p99_body"] < 3e-4
    assert pooled["delta_p99"] < 0.01
    # No single option is far off: the worst is a fraction of a tick (0.0001 coin is Deribit's
    # option tick for BTC) away when priced off the recorded forward.
    assert pooled["max"] < 1e-3


def test_act365_from_timestamps_fits_better_than_the_time_column(
    chains: dict[str, Chain],
) -> None:
    """The file's time_to_maturity is ACT/365.25 (ratio 365/365.25 to our ACT/365 seconds);
    Deribit's own marks are reproduced better with ACT/365, our convention."""
    for chain in chains.values():
        np.testing.assert_allclose(chain.time_column / chain.time_act365, 365.0 / 365.25, rtol=2e-5)
    act365 = _pooled(chains, "time_act365")
    column = _pooled(chains, "time_column")
    print(f"ACT/365 median {act365['median']:.2e}; time_to_maturity column {column['median']:.2e}")
    assert act365["median"] < 0.5 * column["median"]
