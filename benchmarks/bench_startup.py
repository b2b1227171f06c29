"""Start-up of the ``solvent`` command as a user meets it (no asserts; medians of repeated runs).

Each figure is a whole process, the console script itself, measured in this run next to three
baselines: an empty interpreter, ``import numpy``, and ``import numpy, scipy.special,
scipy.sparse`` (the floor of any command that prices options or builds a sparse book). The gap
between a command and that floor is what Solvent's own imports and work cost.

Run: ``.venv/bin/python -m benchmarks startup``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SOLVENT = Path(sys.executable).parent / "solvent"
REPEATS = 7

SMALL_MARKET = {
    "as_of": "2026-01-05T15:33:29Z",
    "index": {"BTC": 93650.74},
    "rates": {},
    "instruments": [
        {"name": "BTC-PERPETUAL", "kind": "perpetual", "underlying": "BTC",
         "settlement": "inverse", "mark_price": 93691.0},
    ],
}  # fmt: skip
SMALL_PORTFOLIO = {
    "account": "a",
    "collateral": {"BTC": 1.0},
    "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 1000.0}],
}


def _median_seconds(argv: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        market = Path(tmp) / "market.json"
        portfolio = Path(tmp) / "portfolio.json"
        market.write_text(json.dumps(SMALL_MARKET))
        portfolio.write_text(json.dumps(SMALL_PORTFOLIO))
        baselines = {
            "python -c pass": [py, "-c", "pass"],
            "import numpy": [py, "-c", "import numpy"],
            "import numpy, scipy.special, scipy.sparse": [
                py, "-c", "import numpy, scipy.special, scipy.sparse"
            ],
        }  # fmt: skip
        commands = {
            "solvent --help": [str(SOLVENT), "--help"],
            "solvent margin (1 account, 1-instrument market)": [
                str(SOLVENT), "margin", str(portfolio), "--market", str(market)
            ],
            "solvent margin (examples/portfolio.json, 1,306-instrument market)": [
                str(SOLVENT), "margin", str(EXAMPLES / "portfolio.json"),
                "--market", str(EXAMPLES / "market.json"), "--model", "deribit-pm",
            ],
            "solvent price (1,306 instruments)": [
                str(SOLVENT), "price", str(EXAMPLES / "market.json")
            ],
        }  # fmt: skip
        base = {name: _median_seconds(argv) for name, argv in baselines.items()}
        floor = base["import numpy, scipy.special, scipy.sparse"]
        for name, seconds in base.items():
            print(f"{name:<70} {seconds * 1000:7.0f} ms  (baseline)")
        for name, argv in commands.items():
            seconds = _median_seconds(argv)
            print(
                f"{name:<70} {seconds * 1000:7.0f} ms  "
                f"{seconds / floor:4.1f}x the numpy+scipy floor"
            )


if __name__ == "__main__":
    main()
