"""``solvent span PORTFOLIO --risk-params SPAN.json``: the docs/formats.md 6 output contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from span_helpers import DATA
from typer.testing import CliRunner

from solvent.cli.commands import span as span_command
from solvent.cli.guard import OneLineErrors

# The command alone on its own app, as solvent.cli.main registers it (keeps this test independent
# of the other commands), under the same guard that turns errors into one line on stderr.
app = typer.Typer(cls=OneLineErrors, add_completion=False, pretty_exceptions_enable=False)
span_command.register(app)


@app.callback()
def _root() -> None:
    """Keep ``span`` a sub-command even when it is the only one."""


FORMATS_CC_KEYS = {
    "scan_risk",
    "intra_spread_charge",
    "inter_spread_credit",
    "short_option_minimum",
    "requirement",
}


def _write(tmp_path: Path, positions: list[dict[str, object]]) -> Path:
    path = tmp_path / "portfolio.json"
    path.write_text(json.dumps({"account": "acct-1", "positions": positions}))
    return path


def test_output_shape_and_published_answer(tmp_path: Path) -> None:
    portfolio = _write(
        tmp_path, [{"instrument": "C-DEC", "quantity": 2}, {"instrument": "S-NOV", "quantity": -1}]
    )
    result = CliRunner().invoke(
        app, ["span", str(portfolio), "--risk-params", str(DATA / "cme_corn_soybeans.json")]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["currency"] == "USD"
    assert set(out["combined_commodities"]) == {"C", "S"}
    total = 0.0
    for cc in out["combined_commodities"].values():
        assert set(cc) >= FORMATS_CC_KEYS
        assert all(isinstance(cc[k], float | int) for k in FORMATS_CC_KEYS)
        derived = max(
            cc["scan_risk"] + cc["intra_spread_charge"] - cc["inter_spread_credit"],
            cc["short_option_minimum"],
        )
        assert cc["requirement"] == pytest.approx(derived, abs=1e-8)
        total += cc["requirement"]
    assert out["requirement"] == pytest.approx(total, abs=1e-8)
    assert out["requirement"] == pytest.approx(2700.0)


@pytest.mark.parametrize(
    ("positions", "params_file", "needle"),
    [
        (
            [{"instrument": "W-DEC", "quantity": 1}],
            "cme_corn_soybeans.json",
            "positions[0].instrument",
        ),
        (
            [{"instrument": "C-DEC", "quantity": "1"}],
            "cme_corn_soybeans.json",
            "positions[0].quantity",
        ),
        ([{"instrument": "C-DEC", "quantity": 1}], "missing.json", "no such file"),
    ],
)
def test_errors_go_to_stderr_with_a_non_zero_exit(
    tmp_path: Path, positions: list[dict[str, object]], params_file: str, needle: str
) -> None:
    portfolio = _write(tmp_path, positions)
    result = CliRunner().invoke(
        app, ["span", str(portfolio), "--risk-params", str(DATA / params_file)]
    )
    assert result.exit_code != 0
    assert result.stdout == ""
    assert needle in result.stderr


def test_bad_risk_parameter_file_names_the_path(tmp_path: Path) -> None:
    raw = json.loads((DATA / "cme_corn_soybeans.json").read_text())
    raw["combined_commodities"][1]["products"][0]["risk_array"] = [0.0] * 15
    bad = tmp_path / "SPAN.json"
    bad.write_text(json.dumps(raw))
    portfolio = _write(tmp_path, [{"instrument": "C-DEC", "quantity": 1}])
    result = CliRunner().invoke(app, ["span", str(portfolio), "--risk-params", str(bad)])
    assert result.exit_code != 0
    assert "combined_commodities[1].products[0].risk_array" in result.stderr
