"""``solvent simm``: the docs/formats.md 7 output shape and clean errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from solvent.cli.main import app

CRIF = """ProductClass,RiskType,Qualifier,Bucket,Label1,Label2,Amount,AmountCurrency,AmountUSD
RatesFX,Risk_IRCurve,USD,1,5y,OIS,10000,USD,10000
RatesFX,Risk_FX,EUR,,,,1000000,USD,1000000
Equity,Risk_Equity,ABC,1,,,1000000,USD,1000000
Equity,Risk_EquityVol,ABC,1,1y,,100000,USD,100000
"""


def test_output_shape(tmp_path: Path) -> None:
    path = tmp_path / "crif.csv"
    path.write_text(CRIF)
    result = CliRunner().invoke(app, ["simm", str(path), "--mpor-days", "1"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == ["simm", "currency", "version", "mpor_days", "product_classes"]
    assert (out["currency"], out["version"], out["mpor_days"]) == ("USD", "2.6", 1)
    assert list(out["product_classes"]) == ["RatesFX", "Equity"]
    rates = out["product_classes"]["RatesFX"]
    assert list(rates["risk_classes"]) == ["InterestRate", "FX"]
    ir = rates["risk_classes"]["InterestRate"]
    assert list(ir) == ["total", "delta", "vega", "curvature", "base_corr"]
    assert ir["delta"] == 18 * 10000  # 1-day RW for USD 5y
    eq = out["product_classes"]["Equity"]["risk_classes"]["Equity"]
    assert eq["total"] == eq["delta"] + eq["vega"] + eq["curvature"]
    assert out["simm"] == sum(p["total"] for p in out["product_classes"].values())


def test_errors_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "crif.csv"
    path.write_text(CRIF.replace("Risk_FX,", "Risk_Nope,"))
    runner = CliRunner()
    bad = runner.invoke(app, ["simm", str(path)])
    assert bad.exit_code == 2 and "crif.csv[3].RiskType" in bad.output
    path.write_text(CRIF)
    for args in (["--simm-version", "2.5"], ["--currency", "EUR"], ["--mpor-days", "5"]):
        res = runner.invoke(app, ["simm", str(path), *args])
        assert res.exit_code == 2
    assert runner.invoke(app, ["simm", str(tmp_path / "missing.csv")]).exit_code == 2
