"""Every command, fed malformed files and arguments, ends cleanly: exit 0, 2 (or 1 where
documented) and, on failure, exactly one line on stderr. Never a traceback.

The command tree is walked from the typer app, so a new command or option is fuzzed without
touching this file. Each argument gets values by its name (a market, a portfolio, a CRIF, a price
history, a database URL, a number...) drawn from valid inputs, mutated inputs (a field replaced by
NaN, an infinity, 1e308, a huge integer, a string, a list, deep nesting; a field dropped or added;
a duplicate key) and hostile ones (binary data, a directory, a missing path, an empty file).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from solvent.cli.main import all_commands, app

DOCUMENTED_EXIT_1 = {"account audit", "solvency verify"}  # audit: anything off (formats.md 9);
# verify: the verdict on stdout, exit 1 when the proof is not valid (formats.md 11)
SLOW_WHEN_VALID = {"demo"}  # runs the whole embedded job: fuzzed arguments only
RUNS_UNTIL_STOPPED = {"serve": "solvent.api.server.serve_forever"}
"""Commands that serve until a signal: their arguments are fuzzed, the serving loop is replaced
(tests/api/test_serve.py runs the real server)."""
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "16"))  # per command; more with FUZZ_EXAMPLES

AS_OF = "2026-01-05T08:00:00Z"
MARKET: dict[str, Any] = {
    "as_of": AS_OF,
    "index": {"BTC": 100_000.0, "ETH": 4_000.0, "USDC": 1.0},
    "rates": {"USD": 0.03},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_050.0},
        {"name": "ETH-PERPETUAL", "mark_price": 4_001.0},
        {"name": "BTC_USDC-PERPETUAL", "mark_price": 100_020.0},
        {
            "name": "BTC-27MAR26",
            "kind": "future",
            "underlying": "BTC",
            "settlement": "inverse",
            "expiry": "2026-03-27T08:00:00Z",
            "mark_price": 101_000.0,
        },
        {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
        {"name": "BTC-27MAR26-90000-P", "mark_price": 0.02},
        {"name": "ETH-27MAR26-4000-C", "mark_iv": 0.6, "forward": 4_050.0},
        {"name": "BTC", "kind": "spot", "underlying": "BTC", "settlement": "linear"},
    ],
    "order_books": {
        "BTC": {"bids": [[99_990.0, 2.0], [99_980.0, 5.0]], "asks": [[100_010.0, 1.5]]}
    },
}
PORTFOLIO: dict[str, Any] = {
    "account": "p1",
    "collateral": {"BTC": 1.0, "USDC": 5_000.0},
    "positions": [
        {"instrument": "BTC-27MAR26-110000-C", "quantity": -1.0},
        {"instrument": "BTC-PERPETUAL", "quantity": 0.25},
        {"instrument": "ETH-27MAR26-4000-C", "quantity": 3.0},
    ],
}
BOOK: dict[str, Any] = {
    "accounts": [
        PORTFOLIO,
        {
            "account": "p1-hedge",
            "parent": "p1",
            "mode": "cross",
            "collateral": {},
            "positions": [{"instrument": "BTC-27MAR26", "quantity": -0.5}],
        },
        {"account": "p2", "collateral": {"ETH": 2.0}, "positions": []},
    ]
}
SPAN: dict[str, Any] = {
    "currency": "USD",
    "combined_commodities": [
        {
            "code": "SP",
            "products": [
                {
                    "name": "SP-DEC",
                    "tier": 1,
                    "delta": 1.0,
                    "is_option": False,
                    "risk_array": [0, 0, -3, -3, 3, 3, -6, -6, 6, 6, -10, -10, 10, 10, -7, 7],
                    "short_option_minimum": 0.0,
                }
            ],
            "intra_spreads": [],
            "maintenance_to_initial": 1.0,
        }
    ],
}
SPAN_PORTFOLIO: dict[str, Any] = {
    "account": "s1",
    "collateral": {},
    "positions": [{"instrument": "SP-DEC", "quantity": -2}],
}
PARAMS: dict[str, Any] = {"name": "custom", "version": "1"}
CRIF = (
    "ProductClass,RiskType,Qualifier,Bucket,Label1,Label2,Amount,AmountCurrency,AmountUSD\n"
    "Commodity,Risk_Commodity,BTC,16,,,2500,USD,2500\n"
    "Commodity,Risk_CommodityVol,BTC,16,1m,,4500,USD,4500\n"
    "RatesFX,Risk_IRCurve,USD,1,1y,OIS,1500,USD,1500\n"
    "RatesFX,Risk_FX,EUR,,,,300000,USD,300000\n"
)


def _closes() -> list[tuple[str, float, float]]:
    start = date(2024, 1, 1)
    return [
        (
            (start + timedelta(days=d)).isoformat(),
            60_000 * (1 + 0.03 * ((d * 7) % 5 - 2) + 0.001 * d),
            3_000 * (1 + 0.04 * ((d * 3) % 5 - 2) + 0.001 * d),
        )
        for d in range(160)
    ]


def _history_text() -> str:
    lines = ["date,asset,close"]
    for day, btc, eth in _closes():
        lines += [f"{day},BTC,{btc:.2f}", f"{day},ETH,{eth:.2f}"]
    return "\n".join(lines) + "\n"


def _cdd_text(column: int, symbol: str) -> str:
    lines = ["https://www.CryptoDataDownload.com", "Unix,Date,Symbol,Open,High,Low,Close"]
    for day, *closes in reversed(_closes()):
        c = closes[column]
        lines.append(f"0,{day},{symbol},{c},{c},{c},{c:.2f}")
    return "\n".join(lines) + "\n"


HISTORY = _history_text()
_CHAIN_FILE = (
    Path(__file__).resolve().parents[2]
    / "src/solvent/data/deribit/deribit_options_snapshot_20260105T153329Z.csv"
)
CHAIN = "".join(_CHAIN_FILE.read_text(encoding="utf-8").splitlines(keepends=True)[:6])

ADL_QUEUE = {  # docs/formats.md 10
    "instrument": "BTC-PERPETUAL",
    "positions": [
        {
            "account": account,
            "quantity": quantity,
            "entry_price": 90_000.0,
            "mark_price": 100_050.0,
            "bankruptcy_price": bankruptcy,
            "wallet_balance_usd": 5_000.0,
            "maintenance_margin_usd": 500.0,
            "account_value_usd": 6_000.0,
        }
        for account, quantity, bankruptcy in (("l1", 1.0, 80_000.0), ("s1", -1.0, 120_000.0))
    ],
}

_VENUES = Path(__file__).resolve().parents[1] / "data" / "venues"
VENUE_PORTFOLIO: dict[str, Any] = {
    **PORTFOLIO,
    "positions": [
        {"instrument": "BTC-27MAR26-110000-C", "quantity": -1.0, "venue": "deribit"},
        {"instrument": "BTC-PERPETUAL", "quantity": 0.25, "venue": "okx"},
        {"instrument": "ETH-27MAR26-4000-C", "quantity": 3.0},
    ],
    "external": [
        {
            "location": "ethereum",
            "asset": "USDC",
            "amount": 1000.0,
            "attested_at": AS_OF,
            "attestation": {"signature": "ab" * 64},
        }
    ],
}

JSON_TEMPLATES = {
    "queue": ADL_QUEUE,
    "venue-portfolio": VENUE_PORTFOLIO,
    "ccxt": json.loads((_VENUES / "ccxt-deribit.json").read_text()),
    **{
        f"{venue}-{part}": json.loads((_VENUES / f"{venue}-{name}.json").read_text())
        for venue, part, name in (
            ("deribit", "positions", "positions"),
            ("deribit", "balance", "summary"),
            ("okx", "positions", "positions"),
            ("okx", "balance", "balance"),
            ("bybit", "positions", "positions"),
            ("bybit", "balance", "wallet"),
        )
    },
    "market": MARKET,
    "portfolio": PORTFOLIO,
    "book": BOOK,
    "span": SPAN,
    "span-portfolio": SPAN_PORTFOLIO,
    "params": PARAMS,
}
TEXT_TEMPLATES = {"crif": CRIF, "history": HISTORY, "chain": CHAIN}
FILE_KIND = {  # parameter name -> the kind of file it takes
    "market": "market",
    "portfolio": "portfolio",
    "book": "book",
    "risk_params": "span",
    "crif": "crif",
    "history": "history",
    "chain": "chain",
    "perpetuals": "chain",
    "params": "params",
    "queue": "queue",
    "export": "ccxt",
}

BAD_NUMBERS = [
    float("nan"),
    float("inf"),
    -float("inf"),
    1e308,
    -1e308,
    1e300,
    1e-300,
    10**400,
    -1,
    0,
    "1.5",
    True,
    None,
    [],
    {},
]
NUMBER_TEXTS = [
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e400",
    "-1",
    "0",
    "1",
    "0.5",
    "100",
    "abc",
    "",
    "1e-300",
    "99999999999999999999999999",
    "0.000000000000000000001",
]
WORDS = ["BTC", "ETH", "USDC", "DOGE", "", " ", "x" * 300, "a\nb", "--", "-1", "é", "\x7f"]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def _drop(doc: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return {}
    node = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return doc


@st.composite
def json_text(draw: st.DrawFn, kind: str) -> str:
    """A JSON document of ``kind``: valid, or mutated at one place, or with a duplicate key."""
    doc = copy.deepcopy(JSON_TEMPLATES[kind])
    paths = list(_paths(doc))
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["value", "drop", "extra", "deep", "scale"]))
        try:
            if action == "value":
                doc = _set(doc, path, draw(st.sampled_from(BAD_NUMBERS + WORDS)))
            elif action == "drop":
                doc = _drop(doc, path)
            elif action == "extra":
                doc = _set(doc, (*path, "zz"), 1) if isinstance(_get(doc, path), dict) else doc
            elif action == "deep":
                doc = _set(doc, path, json.loads("[" * 70 + "]" * 70))
            else:
                value = _get(doc, path)
                if isinstance(value, float | int) and not isinstance(value, bool):
                    factor = draw(st.sampled_from([-1, 0, 1e-300, 1e5, 1e100, 1e300]))
                    doc = _set(doc, path, value * factor)
        except (KeyError, IndexError, TypeError):
            continue
        paths = list(_paths(doc))
    text = json.dumps(doc)
    if draw(st.booleans()) and text.startswith("{") and len(text) > 2:
        key = text[1 : text.index(":") + 1]
        text = "{" + key + " 0, " + text[1:]  # the first key twice
    return text


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def csv_text(draw: st.DrawFn, kind: str) -> str:
    """A CSV of ``kind``: valid, or with cells replaced, rows cut or columns dropped."""
    rows = [line.split(",") for line in TEXT_TEMPLATES[kind].splitlines()]
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(rows) - 1))
        if not rows[i]:
            continue
        j = draw(st.integers(0, len(rows[i]) - 1))
        action = draw(st.sampled_from(["cell", "cut", "row", "quote"]))
        if action == "cell":
            rows[i][j] = draw(st.sampled_from(NUMBER_TEXTS + WORDS))
        elif action == "cut":
            rows[i] = rows[i][:j]
        elif action == "row":
            del rows[i]
        else:
            rows[i][j] = '"' + rows[i][j]
        if not rows:
            break
    return "\n".join(",".join(r) for r in rows) + "\n"


class Workspace:
    """Files written for one example, in a fresh folder under the module's temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def file(self, content: bytes | str, suffix: str = ".json") -> str:
        self.count += 1
        path = self.root / f"f{self.count}{suffix}"
        path.write_bytes(
            content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        )
        return str(path)


@st.composite
def file_argument(draw: st.DrawFn, ws: Workspace, kind: str) -> str:
    """A path for a file parameter of ``kind``: mostly well-formed or mutated, sometimes hostile."""
    choice = draw(st.sampled_from(["good", "good", "mutated", "mutated", "mutated", "hostile"]))
    suffix = ".csv" if kind in TEXT_TEMPLATES else ".json"
    if kind == "params":
        suffix = draw(st.sampled_from([".json", ".toml"]))
    if choice == "hostile":
        hostile = draw(
            st.sampled_from(["binary", "dir", "missing", "empty", "latin1", "deep", "bigint"])
        )
        if hostile == "dir":
            return str(ws.root)
        if hostile == "missing":
            return str(ws.root / "missing" / f"x{suffix}")
        content = {
            "binary": bytes(range(256)),
            "empty": b"",
            "latin1": "caf\xe9".encode("latin-1"),
            "deep": b"[" * 100_000 + b"]" * 100_000,
            "bigint": b'{"a": ' + b"9" * 5000 + b"}",
        }[hostile]
        return ws.file(content, suffix)
    if kind == "history" and choice == "good" and draw(st.booleans()):
        return str(ws.root.parent / "history")  # a directory of CSVs is a valid history
    if kind in TEXT_TEMPLATES:
        text = TEXT_TEMPLATES[kind] if choice == "good" else draw(csv_text(kind))
    else:
        text = json.dumps(JSON_TEMPLATES[kind]) if choice == "good" else draw(json_text(kind))
        if kind == "params" and suffix == ".toml":
            text = "name = 'custom'\nversion = '1'\n" if choice == "good" else text
    return ws.file(text, suffix)


VALID = {  # a sensible value for each parameter name, so that one fault reaches deep code
    "model": ["standard", "deribit-pm", "derive-pm", "derive-srm", "span", "fhs-es", "simm"],
    "mode": ["cross", "isolated"],
    "side": ["long", "short"],
    "account_id": ["a1", "a2"],
    "parent": ["a1"],
    "instrument": ["BTC-PERPETUAL", "BTC-27MAR26-110000-C", "BTC_USDC-PERPETUAL", "BTC-27MAR26"],
    "asset": ["BTC", "USDC", "ETH"],
    "assets": ["BTC,ETH", "BTC"],
    "scenario": ["2022-11-ftx", "crash-40-vol-x2", "usdc-depeg-0.9"],
    "signal": ["2024-06-01=0.5", "2024-09-01=0.2"],
    "simm_version": ["2.6", "2.6-crypto"],
    "mpor_days": ["10", "1"],
    "currency": ["USD"],
    "amount": ["0.5", "1", "100", "0.000001"],
    "quantity": ["0.1", "-0.1", "2", "-5"],
    "price": ["100050", "100000", "99000"],
    "fee": ["0.001", "0"],
    "confidence": ["0.99", "0.95"],
    "horizon_days": ["1", "2"],
    "warmup_days": ["30", "60"],
    "ewma_lambda": ["0.97", "0.9"],
    "window_days": ["30", "100"],
    "floor": ["1"],
    "cap": ["3", "2"],
    "max_step": ["0.1", "0.5"],
    "sensitivity": ["1", "2"],
    "ranking": ["bitmex", "binance", "hyperliquid"],
    "fill": ["-0.5", "1", "-2"],
    "locations": ["2026-11"],
}


def _value(draw: st.DrawFn, ws: Workspace, command: str, name: str, faulty: bool) -> str:
    kind = FILE_KIND.get(name)
    if command == "span" and name == "portfolio":
        kind = "span-portfolio"
    if command == "cross-venue" and name == "portfolio":
        kind = "venue-portfolio"
    if command.startswith("import ") and name in ("positions", "balance"):
        kind = f"{command.split()[1]}-{name}"
    if kind is not None and not faulty:
        if kind == "history" and draw(st.booleans()):
            return str(ws.root.parent / "history")  # a directory of CSVs is a valid history
        return ws.file(
            TEXT_TEMPLATES[kind] if kind in TEXT_TEMPLATES else json.dumps(JSON_TEMPLATES[kind]),
            ".csv" if kind in TEXT_TEMPLATES else ".json",
        )
    if not faulty and name == "db":
        return f"sqlite:///{ws.root.parent / 'ledger.db'}"
    if not faulty and name in ("out", "chart"):
        return str(ws.root / ("out.json" if name == "out" else "out.png"))
    if not faulty and name in VALID:
        return draw(st.sampled_from(VALID[name]))
    if kind is not None and draw(st.integers(0, 9)) > 0:
        return draw(file_argument(ws, kind))
    if name == "db":
        return draw(
            st.sampled_from(
                [
                    f"sqlite:///{ws.root.parent / 'ledger.db'}",
                    f"sqlite:///{ws.root / 'missing' / 'x.db'}",
                    f"sqlite:///{ws.file(b'not a database at all', '.db')}",
                    f"sqlite:///{ws.root}",
                    "postgresql+psycopg://u:p@127.0.0.1:1/none?connect_timeout=1",
                    "mysql://nowhere/x",
                    "not a url",
                ]
            )
        )
    if name in ("out", "chart"):
        return draw(
            st.sampled_from(
                [
                    str(ws.root / "out.png"),
                    str(ws.root / "out.txt"),
                    str(ws.root / "missing" / "out.png"),
                    str(ws.root),
                    str(ws.root / "out.json"),
                ]
            )
        )
    choices = {
        "model": ["standard", "deribit-pm", "derive-pm", "derive-srm", "span", "fhs-es", "simm"],
        "mode": ["cross", "isolated"],
        "side": ["long", "short"],
        "account_id": ["a1", "a2", "p1"],
        "parent": ["a1", "zz"],
        "instrument": ["BTC-PERPETUAL", "BTC-27MAR26-110000-C", "BTC_USDC-PERPETUAL", "NOPE"],
        "asset": ["BTC", "USDC", "ETH"],
        "assets": ["BTC,ETH", "BTC", "ETH,DOGE"],
        "scenario": ["ftx-2022", "crash", "nope"],
        "signal": ["2025-02-01=0.5", "2025-02-01=nan", "x=1", "2025-02-01=inf"],
        "simm_version": ["2.6", "2.6-crypto", "9"],
        "currency": ["USD", "EUR"],
        "amount": ["0.5", "1", "100", "-1", "1e9", "0.000000001", "1e100"],
        "quantity": ["0.1", "-0.1", "1e12", "0"],
        "price": ["100000", "1", "1e300"],
        "fee": ["0.001", "100", "-1"],
    }.get(name, [])
    pool = choices + NUMBER_TEXTS + WORDS
    return (
        draw(st.sampled_from(choices))
        if choices and draw(st.booleans())
        else draw(st.sampled_from(pool))
    )


def _leaves(prefix: list[str], command: Any) -> Iterator[tuple[str, Any]]:
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from _leaves([*prefix, name], sub)
    else:
        yield " ".join(prefix), command


COMMANDS = dict(
    leaf for name, command in all_commands().items() for leaf in _leaves([name], command)
)


@st.composite
def command_line(draw: st.DrawFn, ws: Workspace, path: str) -> list[str]:
    """Arguments for command ``path``: every required parameter and some optional ones, with
    valid values except for (usually) one or two faulty ones."""
    command = COMMANDS[path]
    params = [
        p
        for p in command.params
        if p.required or p.param_type_name == "argument" or draw(st.integers(0, 2)) == 0
    ]
    faults = draw(st.sampled_from([0, 1, 1, 1, 2]))
    faulty = set(draw(st.permutations(range(len(params))))[:faults]) if params else set()
    argv = path.split()
    for i, param in enumerate(params):
        if i in faulty and draw(st.integers(0, 9)) == 0:
            continue  # a missing argument or option
        if param.param_type_name == "argument":
            argv.append(_value(draw, ws, path, param.name, i in faulty))
        elif getattr(param, "is_flag", False):
            argv.append(param.opts[0])
        else:
            for _ in range(draw(st.integers(1, 2)) if param.multiple else 1):
                argv += [param.opts[0], _value(draw, ws, path, param.name, i in faulty)]
    if path == "account check":
        for _ in range(draw(st.integers(1, 2))):
            bad = draw(st.integers(0, 3)) == 0
            argv += [
                "--order",
                _value(draw, ws, path, "instrument", bad),
                _value(draw, ws, path, "quantity", bad),
            ]
    if draw(st.integers(0, 19)) == 0:
        argv.append(draw(st.sampled_from(["--nope", "extra", "-1", "--help"])))
    if path in SLOW_WHEN_VALID:  # never the whole job: its own tests run it, scaled down
        argv.append("--nope")
    return argv


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz")
    (base / "history").mkdir()
    (base / "history" / "Binance_BTCUSDT_d.csv").write_text(_cdd_text(0, "BTCUSDT"))
    (base / "history" / "Binance_ETHUSDT_d.csv").write_text(_cdd_text(1, "ETHUSDT"))
    db = f"sqlite:///{base / 'ledger.db'}"
    for argv in (
        ["account", "create", "a1", "--db", db],
        ["account", "deposit", "a1", "BTC", "2", "--db", db],
        ["account", "deposit", "a1", "USDC", "100000", "--db", db],
        ["account", "create", "a2", "--parent", "a1", "--mode", "cross", "--db", db],
    ):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0, result.output
    return base


def check_run(argv: list[str], cwd: Path) -> None:
    """Run ``solvent ARGV`` in-process; fail on a traceback or anything but a documented end."""
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        env = {"SOLVENT_DB": f"sqlite:///{cwd / 'ledger.db'}", "COLUMNS": "100"}
        result = CliRunner().invoke(app, argv, env=env)
    finally:
        os.chdir(previous)
    shown = " ".join(repr(a) for a in argv)
    log = os.environ.get("FUZZ_LOG")  # a file collecting every run's exit code and stderr
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            first = " ".join(result.stderr.split())[:150]
            fh.write(f"{result.exit_code}\t{' '.join(argv[:2])}\t{first}\n")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"solvent {shown} raised:\n{trace}")
    allowed = {0, 2} | ({1} if " ".join(argv[:2]) in DOCUMENTED_EXIT_1 else set())
    assert result.exit_code in allowed, f"solvent {shown}: exit {result.exit_code}\n{result.stderr}"
    if result.exit_code == 0:
        # stderr may carry warnings (one line each), a requested progress bar or timings; never
        # a traceback or a Python warning.
        assert "Traceback" not in result.stderr and "Warning:" not in result.stderr, (
            f"solvent {shown}: on success:\n{result.stderr}"
        )
    else:
        lines = result.stderr.splitlines()
        if {"--progress", "--timings"} & set(argv):  # a requested progress bar may come first
            lines = lines[-1:]
        assert len(lines) == 1 and lines[0].startswith("solvent: error: "), (
            f"solvent {shown}: exit {result.exit_code} needs one error line, got:\n{result.stderr}"
        )
        assert result.stdout == "" or result.exit_code == 1, f"solvent {shown}: stdout on error"


def test_every_command_is_fuzzed() -> None:
    assert {"margin", "price", "account deposit", "account audit", "simm"} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_never_tracebacks(path: str, root: Path) -> None:
    counter = iter(range(10**9))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        folder = root / f"{path.replace(' ', '-')}-{next(counter)}"
        folder.mkdir()
        argv = data.draw(command_line(Workspace(folder), path))
        check_run(argv, root)

    with contextlib.ExitStack() as stack:
        if path in RUNS_UNTIL_STOPPED:
            stack.enter_context(mock.patch(RUNS_UNTIL_STOPPED[path]))
        run()
