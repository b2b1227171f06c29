"""Issue 8, items 9 and 10: every failure of every command is one line on stderr, exit 2."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.errors import warn

MARKET = {
    "as_of": "2026-01-05T08:00:00Z",
    "index": {"BTC": 100_000.0, "USDC": 1.0},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_000.0},
        {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
    ],
}
PORTFOLIO = {
    "account": "p1",
    "collateral": {"BTC": 1.0},
    "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 0.5}],
}


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _one_line_error(*args: str) -> str:
    code, out, err = _run(*args)
    assert code == 2 and out == "", (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("solvent: error: "), err
    return lines[0]


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    market = tmp_path / "market.json"
    market.write_text(json.dumps(MARKET))
    pf = tmp_path / "pf.json"
    pf.write_text(json.dumps(PORTFOLIO))
    return market, pf


def test_usage_errors_are_one_line_not_a_box(files: tuple[Path, Path]) -> None:
    _, pf = files
    line = _one_line_error("margin", str(pf))
    assert line == "solvent: error: margin: Missing option '--market'."
    assert "No such option" in _one_line_error("price", "--nope")
    assert "Invalid value for '--horizon-days'" in _one_line_error(
        "backtest", "--model", "standard", "--history", "x", "--horizon-days", "abc"
    )


def test_deposit_of_a_negative_amount_is_a_clean_message(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    assert _run("account", "create", "a", "--db", db)[0] == 0
    assert "must be greater than zero" in _one_line_error(
        "account", "deposit", "a", "BTC", "-1", "--db", db
    )
    assert "must be greater than zero" in _one_line_error(
        "account", "withdraw", "a", "BTC", "-1", "--market", "m.json", "--db", db
    ) or "market" in _one_line_error(
        "account", "withdraw", "a", "BTC", "-1", "--market", "m.json", "--db", db
    )


def test_a_fee_that_breaks_the_margin_is_blamed(tmp_path: Path, files: tuple[Path, Path]) -> None:
    market, _ = files
    db = f"sqlite:///{tmp_path / 'l.db'}"
    for args in (["create", "a"], ["deposit", "a", "BTC", "1"]):
        assert _run("account", *args, "--db", db)[0] == 0
    line = _one_line_error(
        "account", "trade", "a", "BTC-PERPETUAL", "0.1", "100000",
        "--market", str(market), "--fee", "100", "--db", db, "--now", "2026-01-05T08:00:00Z",
    )  # fmt: skip
    assert line.startswith("solvent: error: fee: "), line  # not "quantity"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/missing/x.db",
        "sqlite:///{tmp}/not-a-db.db",
        "sqlite:///{tmp}",
        "postgresql+psycopg://user:secret@127.0.0.1:1/none",
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path, url: str) -> None:
    (tmp_path / "not-a-db.db").write_text("hello, not a database")
    line = _one_line_error("account", "audit", "--db", url.format(tmp=tmp_path))
    assert "db: cannot open the ledger database" in line and "secret" not in line


def test_directories_binary_and_deep_files_as_inputs(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    market, pf = files
    assert "is a directory" in _one_line_error("margin", str(tmp_path), "--market", str(market))
    binary = tmp_path / "b.json"
    binary.write_bytes(bytes(range(256)))
    assert "binary file" in _one_line_error("price", str(binary))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested deeper" in _one_line_error("margin", str(pf), "--market", str(deep))
    assert "is a directory" in _one_line_error("simm", str(tmp_path))


def test_params_directory_is_not_a_missing_file(files: tuple[Path, Path], tmp_path: Path) -> None:
    market, pf = files
    line = _one_line_error("margin", str(pf), "--market", str(market), "--params", str(tmp_path))
    assert "is a directory" in line and "no such file" not in line


def test_dynamic_refuses_non_finite_settings(tmp_path: Path) -> None:
    history = tmp_path / "h.csv"
    history.write_text("date,asset,close\n2024-01-01,BTC,1\n2024-01-02,BTC,2\n")
    assert "dynamic.sensitivity" in _one_line_error(
        "dynamic", "--history", str(history), "--sensitivity", "nan"
    )
    assert "dynamic.cap" in _one_line_error("dynamic", "--history", str(history), "--cap", "inf")


def test_crif_amounts_that_would_overflow_are_refused(tmp_path: Path) -> None:
    crif = tmp_path / "c.csv"
    crif.write_text(
        "ProductClass,RiskType,Qualifier,Bucket,Label1,Label2,Amount,AmountCurrency,AmountUSD\n"
        "Commodity,Risk_Commodity,BTC,16,,,1e300,USD,1e300\n"
    )
    assert "AmountUSD" in _one_line_error("simm", str(crif))


def test_huge_quantities_and_collateral_are_refused(files: tuple[Path, Path]) -> None:
    market, pf = files
    for key, value in (("quantity", 1e100), ("collateral", 1e308)):
        raw = json.loads(pf.read_text())
        if key == "quantity":
            raw["positions"][0]["quantity"] = value
        else:
            raw["collateral"]["BTC"] = value
        pf.write_text(json.dumps(raw))
        assert (
            f"portfolio.{'positions[0].quantity' if key == 'quantity' else 'collateral.BTC'}"
            in (_one_line_error("margin", str(pf), "--market", str(market)))
        )


def test_backtest_chart_needs_an_existing_folder_and_png(tmp_path: Path) -> None:
    history = tmp_path / "h.csv"
    history.write_text("date,asset,close\n2024-01-01,BTC,1\n")
    base = ["backtest", "--model", "standard", "--history", str(history), "--chart"]
    assert "must end in .png" in _one_line_error(*base, str(tmp_path / "c.txt"))
    assert "does not exist" in _one_line_error(*base, str(tmp_path / "new" / "c.png"))
    assert not (tmp_path / "new").exists()


def test_timestamps_use_z(files: tuple[Path, Path]) -> None:
    market, pf = files
    code, out, _ = _run("stress", str(pf), "--market", str(market), "--scenario", "crash-40-vol-x2")
    assert code == 0 and json.loads(out)["as_of"] == "2026-01-05T08:00:00Z"
    code, out, _ = _run("price", str(market))
    assert code == 0 and json.loads(out)["as_of"] == "2026-01-05T08:00:00Z"


def test_no_numpy_repr_in_messages(files: tuple[Path, Path]) -> None:
    market, _ = files
    raw = json.loads(market.read_text())
    raw["instruments"].append({"name": "BTC-27MAR26-50000-C", "mark_price": 1e-9})
    market.write_text(json.dumps(raw))
    line = _one_line_error("price", str(market))
    assert "np." not in line and "no volatility reproduces this premium (1e-09)" in line


def test_warnings_are_one_line_after_the_output(files: tuple[Path, Path]) -> None:
    market, pf = files
    pf.write_text(json.dumps({"account": "p1", "collateral": {"BTC": 1.0}}))
    code, out, err = _run("margin", str(pf), "--market", str(market))
    assert code == 0 and json.loads(out)["account"] == "p1"
    assert err == (
        "solvent: warning: portfolio.positions: missing: taken as no positions "
        "(write 'positions' explicitly)\n"
    )


def test_warn_is_a_user_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("f", "m")
    assert str(caught[0].message) == "f: m"


def test_help_texts_cite_files_that_exist() -> None:
    root = Path(__file__).resolve().parents[2]
    texts = [CliRunner().invoke(app, ["--help"]).stdout]
    from solvent.cli.main import all_commands

    def walk(command: object) -> None:
        texts.append(str(getattr(command, "help", "") or ""))
        for param in getattr(command, "params", []):
            texts.append(str(getattr(param, "help", "") or ""))
        for sub in (getattr(command, "commands", None) or {}).values():
            walk(sub)

    for command in all_commands().values():
        walk(command)
    import re

    cited = {m for t in texts for m in re.findall(r"[\w./-]+\.md\b", t)}
    assert cited, "the help texts cite docs/formats.md"
    for name in cited:
        assert (root / name).is_file(), f"help cites {name}, which is not in the project"
