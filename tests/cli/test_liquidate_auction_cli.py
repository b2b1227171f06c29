"""``solvent liquidate --policy auction`` (docs/formats.md 10): Derive's Dutch auction through
the CLI, the documented shape and conservation."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from solvent.cli.main import app

from .test_liquidate_cli import BOOK, MARKET


def test_auction_policy_end_to_end(tmp_path: Path) -> None:
    market, book = tmp_path / "market.json", tmp_path / "book.json"
    market.write_text(json.dumps(MARKET))
    book.write_text(json.dumps(BOOK))
    result = CliRunner().invoke(
        app, ["liquidate", str(book), "--market", str(market), "--policy", "auction"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [a["account"] for a in doc["accounts"]] == ["ok", "lev", "short"]
    ok, lev, short = doc["accounts"]
    assert ok["action"] == "none" and short["action"] == "none"
    assert lev["action"] == "partial"
    # one bid: a fraction of the only position, sold below the mark (the bidder's discount)
    (step,) = lev["steps"]
    assert -10.0 < step["quantity"] < 0.0
    assert step["price"] < 100_000.0 and step["slippage_usd"] > 0
    assert step["fee_usd"] == 0.0
    assert step["equity_after_usd"] >= step["maintenance_margin_after_usd"] * 1.1 - 1e-6
    assert all(v == 0 for v in doc["conservation"].values())
