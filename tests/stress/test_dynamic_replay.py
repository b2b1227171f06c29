"""The dynamic multiplier replayed over the shipped history, and its command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import solvent
from solvent.cli.main import app
from solvent.market.history import embedded_price_history
from solvent.stress.dynamic import ChangeReason, DynamicParams, replay


def test_replay_is_bounded_rate_limited_and_logged() -> None:
    params = DynamicParams(floor=1.0, cap=2.0, max_step=0.05)
    result = replay(embedded_price_history(), "BTC", params, {"2022-11-08": 0.8})
    m = result.multiplier
    assert np.all((m >= 1.0) & (m <= 2.0))
    assert np.max(np.abs(np.diff(m))) <= 0.05 + 1e-12
    # one event per change, stamped with the replayed day, oldest first
    changes = int(np.sum(np.diff(np.concatenate([[1.0], m])) != 0.0))
    assert len(result.state.log) == changes
    times = [e.time for e in result.state.log]
    assert times == sorted(times)
    # March 2020: realized vol far above its long-run level raises the multiplier
    march = (result.dates >= np.datetime64("2020-03-12")) & (
        result.dates <= np.datetime64("2020-03-31")
    )
    assert m[march].max() > 1.3
    # the signal day is the only external event, and it raises the multiplier
    external = [e for e in result.state.log if e.reason is ChangeReason.EXTERNAL_SIGNAL]
    assert [e.time.date().isoformat() for e in external] == ["2022-11-08"]
    assert external[0].new > external[0].previous


PRICES = str(Path(solvent.__file__).parent / "data" / "prices")


def test_dynamic_command() -> None:
    res = CliRunner().invoke(app, ["dynamic", "--history", PRICES, "--asset", "ETH", "--cap", "2"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["asset"] == "ETH" and 1.0 <= out["max_multiplier"] <= 2.0
    bad = CliRunner().invoke(app, ["dynamic", "--history", PRICES, "--signal", "x"])
    assert bad.exit_code != 0
