"""The replay's totals of a tick's liquidation outcome (solvent.realtime.liquidation)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from solvent.liquidation.outcome import LiquidationStep, StepKind
from solvent.realtime.liquidation import _totals


def _step(kind: StepKind, quantity: float, price: float, mark: float) -> LiquidationStep:
    slippage = (price - mark) * quantity  # a cost to the account when positive
    return LiquidationStep(
        account="a",
        kind=kind,
        instrument="BTC-PERPETUAL",
        quantity=quantity,
        price=price,
        mark_price=mark,
        slippage_usd=slippage,
        fee_usd=5.0,
        maintenance_margin_after_usd=0.0,
        equity_after_usd=0.0,
        relief_usd=0.0,
        cost_usd=slippage + 5.0,
        reason="",
    )


def test_slippage_counts_the_market_fills_only() -> None:
    """A slice sold 1 below the mark costs 1 USD of slippage; the bankruptcy close bought back 400
    above the mark is the deficit the waterfall covers, not a 400 USD price improvement."""
    slice_ = _step(StepKind.SLICE, -1.0, 99_999.0, 100_000.0)
    bankruptcy = _step(StepKind.BANKRUPTCY, -1.0, 100_400.0, 100_000.0)
    assert bankruptcy.slippage_usd == -400.0
    unit = SimpleNamespace(
        steps=[slice_, bankruptcy],
        deficit_usd=400.0,
        insurance_covered_usd=400.0,
        adl_covered_usd=0.0,
    )
    outcome = SimpleNamespace(liquidated=[unit], adl=[], socialized_loss_usd=0.0)
    priced = SimpleNamespace(
        table=SimpleNamespace(contract_size=np.array([1.0]), is_option=np.array([False])),
        settlement_usd=np.array([1.0]),
    )
    totals = _totals(outcome, ["BTC-PERPETUAL"], priced)  # type: ignore[arg-type]
    assert totals["slippage_usd"] == pytest.approx(1.0)
    assert totals["fees_usd"] == pytest.approx(10.0)
    assert totals["volume_usd"] == pytest.approx(99_999.0 + 100_400.0)
    assert totals["deficit_usd"] == pytest.approx(400.0)
