"""The risk-array stage re-prepares only the instruments that changed, to the same result."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import parse_account_book
from solvent.realtime.engine import EngineConfig, RealtimeEngine
from solvent.realtime.events import IndexPrices, MarketEvent
from solvent.realtime.seed import seed_ledger

from .conftest import BOOK

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
ETH_BOOK: dict[str, Any] = {
    "accounts": [
        *BOOK["accounts"],
        {
            "account": "eth-long",
            "collateral": {"ETH": 2.0},
            "positions": [{"instrument": "ETH-PERPETUAL", "quantity": 5.0}],
        },
    ]
}
MOVES = [  # (minute, {asset: index}): both, then ETH alone, then BTC alone, then nothing
    (1, {"BTC": 98_000.0, "ETH": 3_950.0}),
    (2, {"ETH": 3_800.0}),
    (3, {"ETH": 3_700.0}),
    (4, {"BTC": 91_000.0}),
    (5, {"BTC": 91_000.0}),
    (6, {"ETH": 3_300.0, "BTC": 88_000.0}),
]


async def _events() -> Any:
    for seq, (minute, prices) in enumerate(MOVES, start=1):
        event: MarketEvent = IndexPrices(seq, T0 + timedelta(minutes=minute), "path", prices)
        yield event


def _run(
    tmp_path: Path, market: MarketSnapshot, model: str, incremental: bool
) -> tuple[RealtimeEngine, list[dict[str, Any]], list[tuple[int, int]]]:
    accounts, _ = parse_account_book(json.loads(json.dumps(ETH_BOOK)))
    ledger = Ledger.open(f"sqlite:///{tmp_path / f'{model}-{incremental}.db'}")
    seed_ledger(ledger, accounts, market, model)
    engine = RealtimeEngine.from_ledger(
        ledger, market, EngineConfig(model=model, dynamic=False, incremental=incremental)
    )
    figures: list[dict[str, Any]] = []
    recomputed: list[tuple[int, int]] = []

    async def go() -> None:
        async def one(event: MarketEvent) -> Any:
            yield event

        async for event in _events():
            await engine.run(one(event))
            health = engine.health
            assert health is not None
            figures.append(
                {
                    "im": health.initial_margin_usd.copy(),
                    "mm": health.maintenance_margin_usd.copy(),
                    "equity": health.equity_usd.copy(),
                    "state": health.state_code.copy(),
                }
            )
            runtime = engine._runtimes[model]
            recomputed.append((runtime.last_recomputed, runtime.last_instruments))

    asyncio.run(go())
    events = [e.to_json() for e in engine.events_since(0)]
    ledger.close()
    return engine, [*figures, {"events": events}], recomputed


@pytest.mark.parametrize("model", ["deribit-pm", "standard"])
def test_incremental_ticks_equal_full_prepares(
    tmp_path: Path, market: MarketSnapshot, model: str
) -> None:
    _, fast, recomputed = _run(tmp_path, market, model, incremental=True)
    _, full, baseline = _run(tmp_path, market, model, incremental=False)
    assert len(fast) == len(full)
    for a, b in zip(fast[:-1], full[:-1], strict=True):
        for key in a:
            assert np.array_equal(a[key], b[key]), key
    assert fast[-1] == full[-1]  # the same events, word for word
    n = recomputed[0][1]
    assert all(total == n for _, total in [*recomputed, *baseline])
    assert [r for r, _ in baseline] == [n] * len(MOVES)  # full prepares: every instrument
    # Tick 1 moved both underlyings (every row); ticks 2-3 ETH alone (the ETH perpetual only);
    # tick 4 BTC alone (every instrument but the ETH perpetual); tick 5 nothing (no prepare).
    assert [r for r, _ in recomputed[:4]] == [n, 1, 1, n - 1]
    assert recomputed[4] == recomputed[3]
