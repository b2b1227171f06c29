"""One account's liquidation price (issue 10's target: under 50 ms), for every registered model.

The account: 10 positions on the embedded Deribit chain of 2026-01-05 (BTC perpetual and future
with entry prices, BTC options long and short, an ETH perpetual) and BTC + USDC collateral, in the
full market snapshot (the whole chain: the search restricts it to the account's instruments).
Baseline, measured in the same run: one margin call of the same account by the engine's own
pipeline (``margin_portfolios``, what ``solvent margin`` runs). Printed: the median of a few runs
of each, and the ratio (how many margin calls one liquidation price costs).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from solvent.engine.margin import margin_portfolios
from solvent.liquidation.price import liquidation_price
from solvent.margin.registry import model_names
from solvent.market.deribit import load_embedded_chain
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.portfolio import Portfolio, Position

TARGET_MS = 50.0
REPEATS = 5


def _median_ms(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()  # warm-up: imports, first-call compilation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def account(market: MarketSnapshot) -> Portfolio:
    """The benchmark account (see the module docstring)."""
    btc = market.index["BTC"]
    options = [
        q.instrument.name
        for q in market.quotes.values()
        if q.instrument.is_option and q.instrument.underlying == "BTC"
    ]
    futures = [
        q.instrument.name
        for q in market.quotes.values()
        if q.instrument.kind.value == "future" and q.instrument.underlying == "BTC"
    ]
    picked = options[:: max(1, len(options) // 7)][:7]
    positions = [
        Position("BTC-PERPETUAL", 2.0, btc * 0.97),
        Position(futures[0], -0.5, market.quote(futures[0]).mark_price * 1.02),
        Position("ETH-PERPETUAL", -3.0, market.index["ETH"] * 1.01),
    ] + [Position(name, (-1.0) ** k * 0.5, None) for k, name in enumerate(picked)]
    return Portfolio("bench", {"BTC": 0.5, "USDC": 20_000.0}, tuple(positions))


def main() -> None:
    market = load_embedded_chain()
    pf = account(market)
    print(
        f"account: {len(pf.positions)} positions, market: {len(market.quotes)} instruments; "
        f"target {TARGET_MS:.0f} ms"
    )
    for model in model_names():
        margin_ms = _median_ms(lambda m=model: margin_portfolios([pf], market, m))  # type: ignore[misc]
        result = liquidation_price(pf, market, model, underlying="BTC")
        price_ms = _median_ms(
            lambda m=model: liquidation_price(pf, market, m, underlying="BTC")  # type: ignore[misc]
        )
        verdict = "met" if price_ms < TARGET_MS else "MISSED"
        print(
            f"{model:11s} liquidation price {price_ms:7.1f} ms ({verdict}); one margin call "
            f"{margin_ms:6.1f} ms; ratio {price_ms / margin_ms:5.1f}x; "
            f"down {result.down and round(result.down)} up {result.up and round(result.up)}"
        )


if __name__ == "__main__":
    main()
