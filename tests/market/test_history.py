"""Price-history loader (docs/formats.md 8) on the shipped CryptoDataDownload files and on bad
files.

External references: the raw CSV files themselves (read here independently with the csv module),
and well-known market history (BTC lost about 40 % on 2020-03-12, its worst day in the data).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from solvent.errors import SolventInputError
from solvent.market.history import (
    EMBEDDED_PRICES_DIR,
    PriceHistory,
    asset_from_symbol,
    embedded_price_history,
    load_price_history,
)

BANNER = "https://www.CryptoDataDownload.com"
HEADER = "Unix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USDT,tradecount"


def raw_rows(name: str) -> list[list[str]]:
    with (EMBEDDED_PRICES_DIR / name).open(newline="") as f:
        return list(csv.reader(f))[2:]


@pytest.fixture(scope="module")
def history() -> PriceHistory:
    return embedded_price_history()


def test_embedded_files_and_assets(history: PriceHistory) -> None:
    files = sorted(EMBEDDED_PRICES_DIR.glob("*.csv"))
    assert len(files) == 9
    assert history.assets == ("ADA", "BCH", "BNB", "BTC", "DOGE", "ETH", "SOL", "TRX", "XRP")
    assert (EMBEDDED_PRICES_DIR / "README.md").read_text().count("CryptoDataDownload.com") >= 1
    for path in files:
        rows = raw_rows(path.name)
        asset = asset_from_symbol(rows[0][2])
        series = history.series(asset)
        assert series.dates.shape[0] == len(rows)  # one close per data row, none lost
        # newest first in the file, ascending in the history
        assert str(series.dates[-1]) == rows[0][1] and str(series.dates[0]) == rows[-1][1]
        assert series.closes[-1] == float(rows[0][6]) and series.closes[0] == float(rows[-1][6])


def test_btc_known_days(history: PriceHistory) -> None:
    btc = history.series("BTC")
    assert btc.dates.shape[0] == 3191
    assert str(btc.dates[0]) == "2017-08-17" and str(btc.dates[-1]) == "2026-05-20"
    close = dict(zip(btc.dates.astype(str), btc.closes, strict=True))
    assert close["2020-03-11"] == 7934.52
    assert close["2020-03-12"] == 4800.0
    assert close["2020-03-12"] < 0.65 * close["2020-03-11"]  # "Black Thursday"
    returns = history.log_returns(["BTC"])
    worst = int(np.argmin(returns.column("BTC")))
    assert str(returns.dates[worst]) == "2020-03-12"
    assert returns.column("BTC")[worst] == pytest.approx(np.log(4800.0 / 7934.52), rel=1e-14)


def test_closes_match_an_independent_read(history: PriceHistory) -> None:
    rows = raw_rows("Binance_ETHUSDT_d.csv")
    column = history.closes[:, history.asset_index("ETH")]
    for row in rows[::97]:
        t = int(np.searchsorted(history.dates, np.datetime64(row[1])))
        assert column[t] == float(row[6])
    # before SOL was listed the matrix holds NaN for it
    sol = history.closes[:, history.asset_index("SOL")]
    first_sol = history.series("SOL").dates[0]
    assert str(first_sol) == "2020-08-11"
    assert np.isnan(sol[history.dates < first_sol]).all()


def test_joint_returns_drop_dates_with_a_missing_asset(history: PriceHistory) -> None:
    joint = history.log_returns(["BTC", "SOL"])
    common, closes = history.common_closes(["BTC", "SOL"])
    assert str(common[0]) == "2020-08-11"
    assert joint.values.shape == (common.shape[0] - 1, 2)
    np.testing.assert_allclose(joint.values, np.diff(np.log(closes), axis=0), rtol=0, atol=0)
    assert not np.isnan(joint.values).any()
    # the shared gaps of 2026 show up as multi-day spans
    spans = dict(zip(joint.start_dates.astype(str), joint.span_days, strict=True))
    assert spans["2026-03-19"] == 4 and spans["2020-08-11"] == 1
    assert set(np.unique(joint.span_days)) == {1, 2, 3, 4}


def test_horizon_returns_are_overlapping_sums(history: PriceHistory) -> None:
    daily = history.log_returns(["BTC", "ETH"])
    ten = history.horizon_returns(10, ["BTC", "ETH"])
    assert ten.values.shape[0] == daily.values.shape[0] - 9
    windows = np.lib.stride_tricks.sliding_window_view(daily.values, 10, axis=0).sum(axis=-1)
    np.testing.assert_allclose(ten.values, windows, rtol=0, atol=1e-12)
    assert (ten.start_dates == daily.start_dates[:-9]).all() and (
        ten.dates == daily.dates[9:]
    ).all()
    with pytest.raises(SolventInputError, match="horizon"):
        history.horizon_returns(0, ["BTC"])


def test_selection_window_and_immutability(history: PriceHistory) -> None:
    march = history.window("2020-03-10", "2020-03-14").select(["ETH", "BTC"])
    assert march.assets == ("ETH", "BTC")
    assert [str(d) for d in march.dates] == [f"2020-03-{d}" for d in range(10, 15)]
    np.testing.assert_array_equal(march.closes[:, 1], [7894.56, 7934.52, 4800.0, 5578.6, 5172.06])
    with pytest.raises(ValueError, match="read-only"):
        history.closes[0, 0] = 1.0
    with pytest.raises(SolventInputError) as info:
        history.series("LUNA")
    assert info.value.field == "asset"
    with pytest.raises(SolventInputError, match="duplicate"):
        history.select(["BTC", "BTC"])
    with pytest.raises(SolventInputError, match="start"):
        history.window("2020-03", None)


def test_long_csv_round_trip(tmp_path: Path, history: PriceHistory) -> None:
    sub = history.window("2022-11-01", "2022-11-30").select(["BTC", "SOL"])
    path = tmp_path / "long.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["date", "asset", "close"])
        for asset in reversed(sub.assets):  # any row order is fine
            col = sub.assets.index(asset)
            for t in range(sub.dates.shape[0]):
                writer.writerow([str(sub.dates[t]), asset.lower(), repr(float(sub.closes[t, col]))])
    loaded = load_price_history(path)
    assert loaded.assets == ("BTC", "SOL")
    np.testing.assert_array_equal(loaded.dates, sub.dates)
    np.testing.assert_array_equal(loaded.closes, sub.closes)


def test_single_cryptodatadownload_file(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text(
        f"{BANNER}\n{HEADER}\n"
        "1583971200000,2020-03-12,BTCUSDT,1,1,1,4800.0,0,0,0\n"
        "1583884800000,2020-03-11 00:00:00,BTCUSDT,1,1,1,7934.52,0,0,0\n"
    )
    loaded = load_price_history(path)
    assert loaded.assets == ("BTC",)
    assert [str(d) for d in loaded.dates] == ["2020-03-11", "2020-03-12"]
    np.testing.assert_array_equal(loaded.closes[:, 0], [7934.52, 4800.0])


def test_symbol_parsing() -> None:
    assert asset_from_symbol("BTCUSDT") == "BTC"
    assert asset_from_symbol("ETH/USDT") == "ETH"
    assert asset_from_symbol("SOLFDUSD") == "SOL"
    assert asset_from_symbol("btcusd") == "BTC"


# ----------------------------------------------------------------------------------- bad files


def cdd_dir(tmp_path: Path, body: str, name: str = "Binance_BTCUSDT_d.csv") -> Path:
    folder = tmp_path / "prices"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(f"{BANNER}\n{HEADER}\n{body}")
    return folder


GOOD = "1,2020-03-12,BTCUSDT,1,1,1,4800.0,0,0,0\n"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            GOOD + "2,2020-03-12,BTCUSDT,1,1,1,4900.0,0,0,0\n",
            "Binance_BTCUSDT_d.csv:line 4.Date",
            "duplicate date",
        ),
        (
            GOOD + "2,2020-03-11,BTCUSDT,1,1,1,-5.0,0,0,0\n",
            "Binance_BTCUSDT_d.csv:line 4.Close",
            "> 0",
        ),
        (
            GOOD + "2,2020-03-11,BTCUSDT,1,1,1,0,0,0,0\n",
            "Binance_BTCUSDT_d.csv:line 4.Close",
            "> 0",
        ),
        (
            GOOD + "2,2020-03-11,BTCUSDT,1,1,1,nan,0,0,0\n",
            "Binance_BTCUSDT_d.csv:line 4.Close",
            "> 0",
        ),
        (
            GOOD + "2,2020-03-11,BTCUSDT,1,1,1,abc,0,0,0\n",
            "Binance_BTCUSDT_d.csv:line 4.Close",
            "unparseable price",
        ),
        (
            GOOD + "2,11/03/2020,BTCUSDT,1,1,1,5.0,0,0,0\n",
            "Binance_BTCUSDT_d.csv:line 4.Date",
            "unparseable date",
        ),
        (
            GOOD + "2,2020-02-30,BTCUSDT,1,1,1,5.0,0,0,0\n",
            "Binance_BTCUSDT_d.csv:line 4.Date",
            "invalid date",
        ),
        (
            GOOD + "2,2020-03-11,ETHUSDT,1,1,1,5.0,0,0,0\n",
            "Binance_BTCUSDT_d.csv:line 4.Symbol",
            "in a file of BTC",
        ),
        (GOOD + "2,2020-03-11,BTCUSDT,1\n", "Binance_BTCUSDT_d.csv:line 4", "expected 10 fields"),
        ("", "Binance_BTCUSDT_d.csv", "no data rows"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, body: str, field: str, message: str) -> None:
    folder = cdd_dir(tmp_path, body)
    with pytest.raises(SolventInputError, match=message) as info:
        load_price_history(folder)
    assert info.value.field == field
    assert str(folder / "Binance_BTCUSDT_d.csv") in info.value.message


def test_missing_close_column(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "x.csv").write_text(f"{BANNER}\nUnix,Date,Symbol,Open\n1,2020-03-12,BTCUSDT,1\n")
    with pytest.raises(SolventInputError, match="no header"):
        load_price_history(folder)
    (folder / "x.csv").write_text("Unix,Date,Close\n1,2020-03-12,1\n")
    with pytest.raises(SolventInputError, match=r"missing column\(s\) \['symbol'\]") as info:
        load_price_history(folder)
    assert info.value.field == "x.csv:line 1"


def test_two_files_for_one_asset(tmp_path: Path) -> None:
    cdd_dir(tmp_path, GOOD, "a.csv")
    folder = cdd_dir(tmp_path, GOOD, "b.csv")
    with pytest.raises(SolventInputError, match="already loaded") as info:
        load_price_history(folder)
    assert info.value.field == "b.csv"


def test_long_csv_duplicates_and_missing_paths(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("date,asset,close\n2020-03-11,BTC,1\n2020-03-11,ETH,2\n2020-03-11,BTC,3\n")
    with pytest.raises(SolventInputError, match="duplicate date 2020-03-11 for BTC") as info:
        load_price_history(path)
    assert info.value.field == "long.csv:line 4.date"
    with pytest.raises(SolventInputError, match="no such file"):
        load_price_history(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SolventInputError, match=r"no \.csv files"):
        load_price_history(tmp_path / "empty")


def test_price_history_constructor_checks_invariants() -> None:
    dates = np.array(["2020-01-02", "2020-01-01"], dtype="datetime64[D]")
    with pytest.raises(SolventInputError, match="sorted"):
        PriceHistory(dates, ("BTC",), np.ones((2, 1)))
    with pytest.raises(SolventInputError, match="shape"):
        PriceHistory(dates[::-1], ("BTC",), np.ones((2, 2)))
    with pytest.raises(SolventInputError, match="finite and > 0"):
        PriceHistory(dates[::-1], ("BTC",), np.array([[1.0], [-1.0]]))
