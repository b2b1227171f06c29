"""Imports of positions held elsewhere: ccxt's unified structures and the venues' own exports.

Fixtures in tests/data/venues/ are written in each venue's documented format (ccxt's Position and
Balance structures; Deribit's private/get_positions and get_account_summaries; OKX's
/api/v5/account/positions and /balance; Bybit's /v5/position/list and /v5/account/wallet-balance).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.errors import SolventInputError
from solvent.instruments.names import parse_instrument_name
from solvent.market.snapshot import load_market
from solvent.portfolio.portfolio import parse_portfolio
from solvent.venues.imports import import_ccxt, import_export

DATA = Path(__file__).resolve().parents[1] / "data" / "venues"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture(scope="module")
def market() -> Any:
    return load_market(EXAMPLES / "market.json")


def _positions(portfolio: dict[str, Any]) -> dict[str, float]:
    return {p["instrument"]: p["quantity"] for p in portfolio["positions"]}


def test_ccxt_deribit_maps_usd_contracts_to_coin_at_the_mark() -> None:
    out = import_ccxt(_load("ccxt-deribit.json"), account="desk-1")
    parse_portfolio(out)  # a valid portfolio (docs/formats.md 2)
    assert out["account"] == "desk-1"
    assert out["collateral"] == {"BTC": 2.31}
    qty = _positions(out)
    # 14,000 contracts of 10 USD at the mark 93,691: 140,000 / 93,691 BTC (Deribit's size_currency)
    assert qty["BTC-PERPETUAL"] == pytest.approx(140_000 / 93_691.0, rel=1e-15)
    assert qty["BTC-PERPETUAL"] == pytest.approx(1.494274, abs=1e-6)
    assert qty["BTC-27MAR26"] == pytest.approx(-50_000 / 94_702.02, rel=1e-15)
    assert qty["BTC-30JAN26-100000-C"] == -5.0
    assert "ETH-PERPETUAL" not in qty  # a closed position (0 contracts) is dropped
    assert {p["venue"] for p in out["positions"]} == {"deribit"}


def test_ccxt_okx_linear_inverse_and_options(market: Any) -> None:
    raw = _load("ccxt-okx.json")
    del raw["positions"][1]  # BTC-USDT-SWAP: no USDT-settled instrument in the example market
    out = import_ccxt(raw, market=market)
    assert out["account"] == "okx"
    qty = _positions(out)
    assert qty["BTC-PERPETUAL"] == pytest.approx(-30 * 100 / 93_688.2)
    assert qty["BTC-30JAN26-85000-P"] == pytest.approx(-3.0)
    assert out["collateral"] == {"BTC": 1.3, "USDT": 181242.6}


def test_ccxt_without_market_keeps_linear_names() -> None:
    out = import_ccxt(_load("ccxt-okx.json"))
    qty = _positions(out)
    assert qty["BTC_USDT-PERPETUAL"] == pytest.approx(1.2)  # 120 x 0.01 BTC
    for name in qty:  # every name parses back to the same terms
        parse_instrument_name(name)


def test_ccxt_bybit() -> None:
    out = import_ccxt(_load("ccxt-bybit.json"), account="b")
    qty = _positions(out)
    assert qty == pytest.approx(
        {
            "BTC_USDT-PERPETUAL": -0.75,
            "BTC-PERPETUAL": 25_000 / 93_695.5,
            "BTC_USDC-30JAN26-100000-C": 2.0,
        }
    )
    assert out["collateral"] == {"USDC": 42000.0, "USDT": 16030.0}


def test_with_market_an_instrument_missing_is_an_error_naming_the_symbol(market: Any) -> None:
    with pytest.raises(SolventInputError) as err:
        import_ccxt(_load("ccxt-bybit.json"), market=market)
    assert "BTC/USDT:USDT" in str(err.value)
    assert err.value.field == "positions[0].symbol"


@pytest.mark.parametrize(
    ("symbol", "needle"),
    [
        ("FOO/USD:FOO", "unknown underlying 'FOO'"),
        ("BTC/USDT", "not a ccxt derivatives symbol"),
        ("BTC/USD:ETH", "neither its coin nor a USD stablecoin"),
        ("BTC/USD:BTC-261331", "no such expiry date"),
        ("USDC/USD:USDC", "unknown underlying 'USDC'"),
    ],
)
def test_unmappable_symbols(symbol: str, needle: str) -> None:
    raw = {"exchange": "deribit", "positions": [{"symbol": symbol, "contracts": 1.0,
                                                   "contractSize": 1.0, "side": "long",
                                                   "markPrice": 1.0}]}  # fmt: skip
    with pytest.raises(SolventInputError) as err:
        import_ccxt(raw)
    assert needle in err.value.message and symbol in err.value.message


def test_unknown_venue_is_refused() -> None:
    raw = _load("ccxt-deribit.json") | {"exchange": "mtgox"}
    with pytest.raises(SolventInputError) as err:
        import_ccxt(raw)
    assert err.value.field == "exchange" and "mtgox" in err.value.message


def test_inverse_position_without_a_mark_needs_the_market(market: Any) -> None:
    position = {"symbol": "BTC/USD:BTC", "contracts": 10.0, "contractSize": 10.0, "side": "long"}
    raw = {"exchange": "deribit", "positions": [position]}
    with pytest.raises(SolventInputError, match="no mark price"):
        import_ccxt(raw)
    out = import_ccxt(raw, market=market)  # the market's mark sizes it
    assert _positions(out)["BTC-PERPETUAL"] == pytest.approx(100 / 93_691.0)


def test_deribit_export(market: Any) -> None:
    out = import_export(
        "deribit", _load("deribit-positions.json"), _load("deribit-summary.json"), account="d"
    )
    qty = _positions(out)
    assert qty["BTC-PERPETUAL"] == pytest.approx(140_000 / 93_691.0)
    assert qty["BTC-30JAN26-100000-C"] == -5.0
    assert qty["BTC_USDC-PERPETUAL"] == -0.4  # linear: size in coin
    assert out["collateral"] == {"BTC": 2.31, "USDC": 15230.4}
    with pytest.raises(SolventInputError, match="BTC_USDC-PERPETUAL"):
        import_export("deribit", _load("deribit-positions.json"), market=market)


def test_okx_export_sizes_from_notional() -> None:
    out = import_export("okx", _load("okx-positions.json"), _load("okx-balance.json"))
    qty = _positions(out)
    assert qty["BTC-PERPETUAL"] == pytest.approx(-3000 / 93_688.2)
    assert qty["BTC_USDT-PERPETUAL"] == pytest.approx(112_425.84 / 93_688.2)  # 1.2 BTC
    assert qty["BTC-30JAN26-85000-P"] == pytest.approx(-280_952.1 / 93_650.7)  # 3 BTC
    assert qty["ETH-27MAR26"] == pytest.approx(5000 / 3207.95)
    assert out["collateral"] == {"BTC": 1.3, "USDT": 181242.6}


def test_bybit_exports() -> None:
    linear = import_export("bybit", _load("bybit-positions.json"), _load("bybit-wallet.json"))
    assert _positions(linear) == pytest.approx(
        {"BTC_USDT-PERPETUAL": -0.75, "BTC_USDC-PERPETUAL": 0.2}
    )
    assert linear["collateral"] == {"USDC": 42000.0, "USDT": 16030.0}
    inverse = import_export("bybit", _load("bybit-inverse.json"))
    qty = _positions(inverse)
    assert qty["BTC-PERPETUAL"] == pytest.approx(25_000 / 93_695.5)
    assert qty["BTC-27MAR26"] == pytest.approx(-10_000 / 94_702.02)  # H26: last Friday of March


def test_unknown_export_venue() -> None:
    with pytest.raises(SolventInputError, match="no export reader"):
        import_export("kraken", [])


def test_cli_import_ccxt_prints_a_portfolio(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["import", "ccxt", str(DATA / "ccxt-deribit.json"), "--account", "desk"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["positions"][0]["instrument"] == "BTC-PERPETUAL"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"exchange": "okx", "positions": [{"symbol": "XYZ/USD:XYZ",
                                                                   "contracts": 1}]}))  # fmt: skip
    result = CliRunner().invoke(app, ["import", "ccxt", str(bad)])
    assert result.exit_code == 2
    assert "XYZ/USD:XYZ" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_native_export() -> None:
    result = CliRunner().invoke(
        app,
        ["import", "okx", str(DATA / "okx-positions.json"),
         "--balance", str(DATA / "okx-balance.json"), "--account", "o"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["account"] == "o"


def test_market_instrument_found_by_terms_and_scaled_by_contract_size() -> None:
    """With a market, a contract maps to the market's instrument with the same terms, whatever
    its name, and the quantity counts its contracts (coins / contract_size)."""
    from solvent.market.snapshot import parse_market

    market = parse_market(
        {
            "as_of": "2026-01-05T15:00:00Z",
            "index": {"BTC": 93_000.0},
            "instruments": [
                {"name": "XBT-MAR", "kind": "future", "underlying": "BTC",
                 "settlement": "inverse", "expiry": "2026-03-27T08:00:00Z",
                 "mark_price": 94_000.0, "contract_size": 0.1},
            ],
        }
    )  # fmt: skip
    position = {"symbol": "BTC/USD:BTC-260327", "contracts": 940.0, "contractSize": 10.0,
                "side": "short", "markPrice": 94_000.0}  # fmt: skip
    out = import_ccxt({"exchange": "okx", "positions": [position]}, market=market)
    assert out["positions"] == [
        {"instrument": "XBT-MAR", "quantity": pytest.approx(-1.0), "venue": "okx"}
    ]  # 9,400 USD at 94,000 = 0.1 BTC = 1 contract of 0.1 BTC
