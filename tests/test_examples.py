"""Every command of examples/README.md runs, and the example market is what the converter makes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EMBEDDED = ROOT / "src" / "solvent" / "data" / "deribit"
MODELS = ["standard", "deribit-pm", "derive-pm", "derive-srm", "span", "fhs-es", "simm"]


def _run(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_market_is_the_converted_embedded_chain(tmp_path: Path) -> None:
    out = tmp_path / "market.json"
    result = CliRunner().invoke(
        app,
        [
            "market",
            "from-deribit",
            str(EMBEDDED / "deribit_options_snapshot_20260105T153329Z.csv"),
            "--perpetuals",
            str(EMBEDDED / "perpetual_futures_prices_20260105T153329Z.csv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == json.loads((EXAMPLES / "market.json").read_text())


@pytest.mark.parametrize("model", MODELS)
def test_book_under_every_model(model: str) -> None:
    out = _run(
        "margin", str(EXAMPLES / "book.json"), "--market", str(EXAMPLES / "market.json"),
        "--model", model,
    )  # fmt: skip
    accounts = {a["account"]: a for a in out["accounts"]}  # type: ignore[attr-defined]
    assert list(accounts) == ["mm-1", "mm-1-hedge", "mm-1-vault", "trader-7", "saver"]
    assert accounts["mm-1-hedge"]["margin_group"] == "mm-1"
    assert accounts["saver"]["initial_margin_usd"] == 0.0
    assert accounts["trader-7"]["initial_margin_usd"] > 0.0


def test_portfolio_explain() -> None:
    out = _run(
        "margin", str(EXAMPLES / "portfolio.json"), "--market", str(EXAMPLES / "market.json"),
        "--model", "deribit-pm", "--explain",
    )  # fmt: skip
    assert out["account"] == "desk-1"
    assert all(pool["contributions"] for pool in out["pools"])  # type: ignore[attr-defined]


def test_simm_and_span() -> None:
    simm = _run("simm", str(EXAMPLES / "crif.csv"), "--mpor-days", "10")
    assert set(simm["product_classes"]) == {"RatesFX", "Commodity"}  # type: ignore[arg-type]
    span = _run(
        "span", str(EXAMPLES / "span-portfolio.json"), "--risk-params", str(EXAMPLES / "span.json")
    )
    assert span["requirement"] == 6620.0  # McMillan's printed covered-write requirement


@pytest.mark.slow
def test_ledger_script() -> None:
    solvent = shutil.which("solvent", path=str(Path(sys.executable).parent))
    assert solvent is not None
    env = {k: v for k, v in os.environ.items() if k != "SOLVENT_DB"}
    proc = subprocess.run(
        [str(EXAMPLES / "ledger.sh"), solvent], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    audit = json.loads(proc.stdout.strip().splitlines()[-1])
    assert audit["ok"] is True
