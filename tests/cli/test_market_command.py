"""``solvent market from-deribit``: a Deribit chain CSV to market JSON, refusing bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.market.snapshot import parse_market

EMBEDDED = Path(__file__).resolve().parents[2] / "src" / "solvent" / "data" / "deribit"
CHAIN = EMBEDDED / "deribit_options_snapshot_20260105T153329Z.csv"
PERPS = EMBEDDED / "perpetual_futures_prices_20260105T153329Z.csv"


def test_stdout_market_parses_and_keeps_the_chain() -> None:
    result = CliRunner().invoke(
        app, ["market", "from-deribit", str(CHAIN), "--perpetuals", str(PERPS)]
    )
    assert result.exit_code == 0, result.output
    raw = json.loads(result.stdout)
    assert raw["as_of"] == "2026-01-05T15:33:29.748387Z"  # the chain's first timestamp, UTC
    market = parse_market(raw)
    assert market.quote("BTC-PERPETUAL").mark_price == 93691.0
    assert sum(q.instrument.is_option for q in market.quotes.values()) == 1288


def test_combined_perpetuals_file_is_filtered_to_the_chain(tmp_path: Path) -> None:
    header, *rows = PERPS.read_text().splitlines()
    other = rows[0].replace("20260105T153329Z", "20251230T173115Z").replace(",93691.0,", ",1.0,")
    combined = tmp_path / "perps.csv"
    combined.write_text("\n".join([header, other, *rows]) + "\n")
    result = CliRunner().invoke(
        app, ["market", "from-deribit", str(CHAIN), "--perpetuals", str(combined)]
    )
    assert result.exit_code == 0, result.output
    perp = [i for i in json.loads(result.stdout)["instruments"] if i["name"] == "BTC-PERPETUAL"]
    assert perp[0]["mark_price"] == 93691.0


def test_bad_inputs_end_in_one_line(tmp_path: Path) -> None:
    bad_column = tmp_path / "bad.csv"
    bad_column.write_text("timestamp,instrument_name\n2026-01-05T00:00:00Z,BTC-PERPETUAL\n")
    cases = [
        ([str(tmp_path)], "a directory"),
        ([str(tmp_path / "missing.csv")], "no such file"),
        ([str(bad_column)], "missing column"),
        ([str(CHAIN), "--out", str(tmp_path / "nodir" / "m.json")], "does not exist"),
        ([str(CHAIN), "--out", str(tmp_path / "m.txt")], "must end in .json"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, ["market", "from-deribit", *args])
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, result.stderr)
