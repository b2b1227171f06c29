"""A step of the engine's own liquidation plan that the ledger refuses is an internal
inconsistency (planner and booking disagree), not bad input: ``solvent replay`` says so on one
line and exits 3 (not 2), the steps before it stay booked and the ledger audits clean."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.realtime.conftest import BOOK, MARKET
from typer.testing import CliRunner

import solvent.realtime.replay as replay_module
from solvent.cli.main import app
from solvent.errors import PlanRefusedError
from solvent.ledger import schema
from solvent.ledger.store import Ledger
from solvent.realtime.engine import Breach, LiquidationContext, LiquidationReport
from solvent.realtime.liquidation import WaterfallLiquidator
from solvent.realtime.replay import LiquidatorFactory

POISON_RUN = "poison"


class Disagreeing(WaterfallLiquidator):
    """The waterfall, whose plan also asks 'saver' to pay the insurance fund a billion USDC it
    does not hold (after the real steps): what a planner/booking disagreement looks like."""

    def liquidate(
        self, breaches: Sequence[Breach], context: LiquidationContext
    ) -> LiquidationReport:
        report = super().liquidate(breaches, context)
        if not report.plan:
            return report
        poison = {
            "run_id": POISON_RUN,
            "steps": [
                {
                    "step_id": f"{POISON_RUN}:000000",
                    "seq": 0,
                    "kind": "fee",
                    "account": "saver",
                    "against": "@insurance",
                    "instrument": None,
                    "quantity": None,
                    "price": None,
                    "source": "saver",
                    "destination": "@insurance",
                    "asset": "USDC",
                    "units": 10**15,
                }
            ],
        }
        return dataclasses.replace(report, plan=(*report.plan, poison))


def _disagreeing(policy: str = "partial") -> LiquidatorFactory:
    def make(ledger: Ledger) -> Any:
        return Disagreeing(ledger, policy=policy)

    return make


def test_replay_exits_3_and_leaves_a_consistent_ledger(
    tmp_path: Path, price_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "book.json").write_text(json.dumps(BOOK))
    (tmp_path / "market.json").write_text(json.dumps(MARKET))
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setattr(replay_module, "waterfall_liquidator", _disagreeing)
    result = CliRunner().invoke(
        app,
        [
            "replay",
            str(tmp_path / "book.json"),
            "--market",
            str(tmp_path / "market.json"),
            "--path",
            str(price_path),
            "--db",
            url,
        ],
    )
    assert result.exit_code == PlanRefusedError.exit_code == 3, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("solvent: error: liquidation: the ledger refused a step of run")
    assert "planner and ledger disagree" in lines[0] and "saver" in lines[0]
    ledger = Ledger.open(url)
    try:
        audit = ledger.audit()
        assert audit.ok, audit.problems
        with ledger.engine.connect() as conn:
            runs = set(conn.execute(select(schema.liquidation_steps.c.run_id)).scalars())
        assert runs and POISON_RUN not in runs  # the real steps booked, nothing of the refused one
        assert ledger.balances("saver")["USDC"] == 100_000 * 10**6
    finally:
        ledger.close()
