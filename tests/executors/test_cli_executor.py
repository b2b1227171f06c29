"""``--executor ray`` on the commands: the same stdout as the in-process run (every model is
compared at the engine level in test_executor_parity.py; here a few through the CLI);
joining a running cluster with ``--ray-address``; starting (and stopping) a private one; refusals
as one line on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app

pytestmark = pytest.mark.xdist_group("ray")

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "src" / "solvent" / "data" / "prices"
SOLVENT = str(Path(sys.executable).with_name("solvent"))
MARKET: dict[str, Any] = {
    "as_of": "2026-01-05T08:00:00Z",
    "index": {"BTC": 100_000.0, "ETH": 4_000.0, "USDC": 1.0},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_050.0},
        {"name": "ETH-PERPETUAL", "mark_price": 4_001.0},
        {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
        {"name": "BTC-27MAR26-90000-P", "mark_iv": 0.55},
        {"name": "ETH-27MAR26-4000-C", "mark_iv": 0.6, "forward": 4_050.0},
    ],
}


def _book() -> dict[str, Any]:
    names = [i["name"] for i in MARKET["instruments"]]
    accounts: list[dict[str, Any]] = []
    for i in range(9):
        rec: dict[str, Any] = {
            "account": f"a{i}",
            "collateral": {"BTC": 0.5 + i / 10, "USDC": 10_000.0},
            "positions": [
                {"instrument": names[(i + k) % len(names)], "quantity": (-1.0) ** k * (k + 1)}
                for k in range(i % 4)
            ],
        }
        if i % 4 == 1:
            rec["parent"] = f"a{i - 1}"
        accounts.append(rec)
    return {"accounts": accounts}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("executor-cli")
    (folder / "market.json").write_text(json.dumps(MARKET))
    (folder / "book.json").write_text(json.dumps(_book()))
    return folder / "book.json", folder / "market.json"


def _run(*argv: str) -> str:
    result = CliRunner().invoke(app, list(argv))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("name", ["standard", "deribit-pm", "fhs-es"])
def test_margin_with_ray_prints_the_local_output(
    name: str, files: tuple[Path, Path], ray_executor: Any
) -> None:
    book, market = (str(p) for p in files)
    args = ("margin", book, "--market", market, "--model", name, "--explain")
    local = _run(*args)
    if name == "standard":
        assert _run(*args, "--executor", "local") == local
    assert _run(*args, "--executor", "ray") == local


def test_stress_and_backtest_with_ray_print_the_local_output(
    files: tuple[Path, Path], ray_executor: Any, tmp_path: Path
) -> None:
    book, market = (str(p) for p in files)
    stress = ("stress", book, "--market", market)
    assert _run(*stress, "--executor", "ray") == _run(*stress)
    chart = str(tmp_path / "c.png")
    # the day-by-day path in shards of days (fhs-es's closed form: test_executor_parity.py)
    backtest = ("backtest", "--model", "standard", "--history", str(PRICES), "--chart", chart)
    backtest += ("--warmup-days", "3100")
    assert _run(*backtest, "--executor", "ray") == _run(*backtest)


def test_liquidate_with_ray_prints_the_local_output(
    files: tuple[Path, Path], ray_executor: Any, tmp_path: Path
) -> None:
    _, market = files
    book = _book()
    book["accounts"].append(
        {
            "account": "lev",
            "collateral": {"BTC": 0.02},
            "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 3.0, "entry_price": 120000}],
        }
    )
    path = tmp_path / "liq-book.json"
    path.write_text(json.dumps(book))
    for model in ("standard", "deribit-pm"):
        args = ("liquidate", str(path), "--market", str(market), "--model", model)
        local = _run(*args)
        assert json.loads(local)["accounts"][-1]["action"] != "none"
        assert _run(*args, "--executor", "ray") == local


def test_replay_with_ray_prints_the_local_summary(
    files: tuple[Path, Path], ray_executor: Any, tmp_path: Path
) -> None:
    book, market = (str(p) for p in files)
    path = tmp_path / "path.csv"
    path.write_text(
        "time,BTC,ETH\n2026-01-05T08:01:00Z,93000,3170\n2026-01-05T08:02:00Z,70000,2500\n"
        "2026-01-05T08:03:00Z,85000,3050\n"
    )
    outputs = []
    for extra in ((), ("--executor", "ray")):
        db = f"sqlite:///{tmp_path / f'replay-{len(outputs)}.db'}"
        args = ("replay", book, "--market", market, "--path", str(path), "--model", "deribit-pm")
        summary = json.loads(_run(*args, "--db", db, *extra))
        summary.pop("latency_ms")  # wall-clock figures
        summary.pop("db")
        outputs.append(summary)
    assert outputs[0]["steps"] == 3
    assert outputs[1] == outputs[0]


def test_ray_address_joins_a_running_cluster(files: tuple[Path, Path], ray_executor: Any) -> None:
    import ray

    address = ray.get_runtime_context().gcs_address
    book, market = (str(p) for p in files)
    args = ("margin", book, "--market", market, "--model", "deribit-pm")
    done = subprocess.run(
        [SOLVENT, *args, "--executor", "ray", "--ray-address", address],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == _run(*args)


@pytest.mark.slow
def test_without_an_address_a_private_ray_starts_and_stops(files: tuple[Path, Path]) -> None:
    book, market = (str(p) for p in files)
    args = ("margin", book, "--market", market, "--model", "standard")
    done = subprocess.run(
        [SOLVENT, *args, "--executor", "ray"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == _run(*args)


def test_an_address_without_ray_is_refused_on_one_line(files: tuple[Path, Path]) -> None:
    book, market = (str(p) for p in files)
    result = CliRunner().invoke(
        app, ["margin", book, "--market", market, "--ray-address", "127.0.0.1:6379"]
    )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "solvent: error: ray-address: only with --executor ray"
    ]
    result = CliRunner().invoke(app, ["margin", book, "--market", market, "--executor", "spark"])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_a_bad_or_unreachable_address_fails_fast_on_one_line(
    files: tuple[Path, Path], ray_executor: Any
) -> None:
    book, market = (str(p) for p in files)
    args = ["margin", book, "--market", market, "--executor", "ray", "--ray-address"]
    result = CliRunner().invoke(app, [*args, "not an address"])
    assert result.exit_code == 2
    assert result.stderr.startswith("solvent: error: ray-address: expected auto, HOST:PORT")
    result = CliRunner().invoke(app, [*args, "127.0.0.1:1"])  # nothing listens on port 1
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("solvent: error: ray-address: cannot reach 127.0.0.1:1")
