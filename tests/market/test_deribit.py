"""The Deribit chain loader: every shipped snapshot (and the embedded copy) becomes a snapshot whose
option marks, priced through the whole pipeline, reproduce Deribit's published marks."""

from __future__ import annotations

import csv
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest

from solvent.engine.pricing import price_instruments
from solvent.errors import SolventInputError
from solvent.instruments.terms import InstrumentKind
from solvent.market.deribit import (
    EMBEDDED_SNAPSHOT,
    load_deribit_chain,
    load_embedded_chain,
    read_chain_rows,
    read_perpetual_marks,
)

REPO = Path(__file__).resolve().parents[2]
EMBEDDED_CSV = REPO / "src" / "solvent" / "data" / "deribit" / EMBEDDED_SNAPSHOT
SNAPSHOTS = (
    "deribit_options_snapshot_20251230T173115Z.csv",
    "deribit_options_snapshot_20260105T153329Z.csv",
    "deribit_options_snapshot_20260115T153452Z.csv",
    "deribit_options_snapshot_20260125T152900Z.csv",
)


def _published(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["instrument_name"]: r for r in csv.DictReader(fh)}


def _check_against_deribit(path: Path, market_path: Path | None = None) -> dict[str, float]:
    """Load ``path`` with the loader, price it, and compare with the file's own columns."""
    market = load_deribit_chain(market_path or path)
    rows = _published(path)
    priced = price_instruments(market)
    idx = [i for i, n in enumerate(priced.table.names) if n in rows]
    names = [priced.table.names[i] for i in idx]
    assert len(names) == len(rows)
    mark = np.array([float(rows[n]["mark_price"]) for n in names])
    delta = np.array([float(rows[n]["delta"]) for n in names])
    mark_err = np.abs(priced.mark_price[idx] - mark)
    delta_err = np.abs(priced.delta[idx] - delta)
    body = np.abs(delta) <= 0.9
    # The loader keeps Deribit's IV and forward unchanged.
    np.testing.assert_array_equal(
        priced.mark_iv[idx], [float(rows[n]["implied_volatility"]) for n in names]
    )
    np.testing.assert_array_equal(
        priced.forward[idx], [float(rows[n]["underlying"]) for n in names]
    )
    return {
        "n": float(len(names)),
        "median": float(np.median(mark_err)),
        "p99_body": float(np.percentile(mark_err[body], 99)),
        "delta_p99": float(np.percentile(delta_err, 99)),
        "sum_mark_err": float(mark_err.sum()),
        "sum_body": float(body.sum()),
    }


@pytest.fixture(scope="module")
def shared_chains(shared_dir: Path) -> list[Path]:
    paths = [shared_dir / "data" / "deribit" / s for s in SNAPSHOTS]
    if not all(p.is_file() for p in paths):
        pytest.skip("shipped Deribit snapshots not found")
    return paths


def test_every_shipped_chain_reproduces_deribit_marks(shared_chains: list[Path]) -> None:
    """Through the loader and the engine: per-file figures are printed, pooled ones asserted."""
    mark_errs: list[np.ndarray] = []
    delta_errs: list[np.ndarray] = []
    bodies: list[np.ndarray] = []
    for path in shared_chains:
        market = load_deribit_chain(path)
        rows = _published(path)
        priced = price_instruments(market)
        idx = np.array([i for i, n in enumerate(priced.table.names) if n in rows])
        names = [priced.table.names[i] for i in idx]
        mark = np.array([float(rows[n]["mark_price"]) for n in names])
        delta = np.array([float(rows[n]["delta"]) for n in names])
        mark_errs.append(np.abs(priced.mark_price[idx] - mark))
        delta_errs.append(np.abs(priced.delta[idx] - delta))
        bodies.append(np.abs(delta) <= 0.9)
        print(
            f"{path.name}: {len(names)} options, median {np.median(mark_errs[-1]):.2e} coin, "
            f"delta p99 {np.percentile(delta_errs[-1], 99):.4f}"
        )
    mark_err, delta_err, body = map(np.concatenate, (mark_errs, delta_errs, bodies))
    assert mark_err.size > 5000
    assert np.median(mark_err) < 1e-5
    assert np.percentile(mark_err[body], 99) < 3e-4
    assert np.percentile(delta_err, 99) < 0.01


def test_embedded_chain_is_the_shipped_file_and_reproduces_its_marks() -> None:
    figures = _check_against_deribit(EMBEDDED_CSV)
    print(f"embedded: {figures}")
    assert figures["n"] == 1288
    assert figures["median"] < 2e-5  # this file alone: 1.26e-5 (see docs/methodology/pricing.md)
    assert figures["p99_body"] < 3e-4
    assert figures["delta_p99"] < 0.01


def test_embedded_snapshot_contents() -> None:
    market = load_embedded_chain()
    rows = read_chain_rows(EMBEDDED_CSV)
    kinds = [q.instrument.kind for q in market.quotes.values()]
    assert kinds.count(InstrumentKind.OPTION) == len({r["instrument_name"] for r in rows}) == 1288
    assert kinds.count(InstrumentKind.PERPETUAL) == 2
    # Listed futures become futures (Deribit's synthetic SYN. forwards do not).
    listed = {r["futures_instrument_name"] for r in rows} - {""}
    listed = {n for n in listed if not n.startswith("SYN.")}
    futures = {n for n, q in market.quotes.items() if q.instrument.kind is InstrumentKind.FUTURE}
    assert futures == listed and len(futures) == 16
    for name in futures:
        q = market.quotes[name]
        first = next(r for r in rows if r["futures_instrument_name"] == name)
        assert q.mark_price == float(first["futures_price"]) == q.forward
        assert q.instrument.expiry is not None and q.instrument.expiry.hour == 8
    # Index: median of the rows' index_price per currency.
    for ccy in ("BTC", "ETH"):
        samples = [float(r["index_price"]) for r in rows if r["currency"] == ccy]
        assert market.index[ccy] == statistics.median(samples)
    assert market.as_of.isoformat() == "2026-01-05T15:33:29.748387+00:00"
    perps = read_perpetual_marks(
        REPO
        / "src"
        / "solvent"
        / "data"
        / "deribit"
        / "perpetual_futures_prices_20260105T153329Z.csv"
    )
    assert market.quotes["BTC-PERPETUAL"].mark_price == perps["BTC-PERPETUAL"] == 93691.0
    # All options are inverse; coin premiums lie within the no-arbitrage bounds: a call is worth
    # less than 1 coin, a put less than K / F coin.
    for q in market.quotes.values():
        inst = q.instrument
        if inst.is_option:
            assert inst.is_inverse and inst.strike is not None
            bound = 1.0 if inst.option_type == "call" else inst.strike / q.forward
            assert 0.0 < q.mark_price < bound


def test_embedded_copy_is_identical_to_the_shared_file(shared_dir: Path) -> None:
    shared = shared_dir / "data" / "deribit" / EMBEDDED_SNAPSHOT
    if not shared.is_file():
        pytest.skip("shared copy absent")
    assert shared.read_bytes() == EMBEDDED_CSV.read_bytes()


def test_loader_errors_name_the_column(tmp_path: Path) -> None:
    header, *lines = EMBEDDED_CSV.read_text(encoding="utf-8").splitlines()
    missing = tmp_path / "missing.csv"
    cols = header.split(",")
    drop = cols.index("implied_volatility")
    missing.write_text(
        "\n".join(
            ",".join(c for j, c in enumerate(line.split(",")) if j != drop)
            for line in [header, *lines[:3]]
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(SolventInputError, match="implied_volatility"):
        load_deribit_chain(missing)

    bad = tmp_path / "bad.csv"
    fields = lines[0].split(",")
    fields[cols.index("strike")] = "abc"
    bad.write_text("\n".join([header, ",".join(fields)]) + "\n", encoding="utf-8")
    with pytest.raises(SolventInputError) as err:
        load_deribit_chain(bad)
    assert err.value.field == "line 2.strike"

    nan_iv = tmp_path / "nan.csv"
    fields = lines[0].split(",")
    fields[cols.index("implied_volatility")] = "nan"
    nan_iv.write_text("\n".join([header, ",".join(fields)]) + "\n", encoding="utf-8")
    with pytest.raises(SolventInputError, match="mark_iv"):
        load_deribit_chain(nan_iv)

    empty = tmp_path / "empty.csv"
    empty.write_text(header + "\n", encoding="utf-8")
    with pytest.raises(SolventInputError):
        load_deribit_chain(empty)


def test_gzip_chain_loads_the_same(tmp_path: Path) -> None:
    import gzip

    target = tmp_path / "chain.csv.gz"
    with EMBEDDED_CSV.open("rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    a = load_deribit_chain(EMBEDDED_CSV)
    b = load_deribit_chain(target)
    assert list(a.quotes) == list(b.quotes)
    assert all(a.quotes[n] == b.quotes[n] for n in a.quotes)
