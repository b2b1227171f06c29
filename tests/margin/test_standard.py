"""standard (per-position, no offsets) against the published Deribit rules, by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import BTC, ETH, market, portfolio
from solvent.errors import SolventInputError
from solvent.margin.standard import load_params, margin_book
from solvent.portfolio.book import Book


def _one(*positions: tuple[str, float]):  # type: ignore[no-untyped-def]
    result = margin_book(
        Book.from_portfolios([portfolio("a", *positions)]), market(), load_params()
    )
    assert result.detail is not None
    return result.detail[0]


def test_btc_inverse_perpetual() -> None:
    (pool,) = _one(("BTC-PERPETUAL", -10.0)).pools
    assert pool.initial_margin == pytest.approx(10 * (0.02 + 10 * 0.00005))
    assert pool.maintenance_margin == pytest.approx(10 * (0.01 + 10 * 0.00005))


def test_eth_rate_and_linear_notional() -> None:
    acct = _one(("ETH-PERPETUAL", 100.0), ("BTC_USDC-PERPETUAL", 2.0))
    eth, usdc = sorted(acct.pools, key=lambda p: p.currency)
    assert eth.initial_margin == pytest.approx(100 * (0.02 + 100 * 0.000004))
    assert usdc.initial_margin == pytest.approx(2 * (0.02 + 2 * 0.00005) * BTC)
    # linear: MM carries the 0.2 % fee provision
    assert usdc.maintenance_margin == pytest.approx(
        2 * (0.01 + 2 * 0.00005) * BTC + 0.002 * BTC * 2
    )
    assert acct.initial_margin_usd == pytest.approx(eth.initial_margin * ETH + usdc.initial_margin)


def test_short_inverse_call() -> None:
    m = market()
    mark = m.quote("BTC-27MAR26-110000-C").mark_price
    (pool,) = _one(("BTC-27MAR26-110000-C", -2.0)).pools
    otm = (110_000 - BTC) / BTC
    assert pool.initial_margin == pytest.approx(2 * (max(0.15 - otm, 0.10) + mark))
    assert pool.maintenance_margin == pytest.approx(2 * (0.075 + mark))


def test_short_inverse_put() -> None:
    m = market()
    mark = m.quote("BTC-27MAR26-90000-P").mark_price
    (pool,) = _one(("BTC-27MAR26-90000-P", -1.0)).pools
    mm = max(0.075, 0.075 * mark) + mark
    assert pool.maintenance_margin == pytest.approx(mm)
    assert pool.initial_margin == pytest.approx(max(max(0.15 - 0.1, 0.10) + mark, mm))


def test_long_options_need_nothing_and_nothing_offsets() -> None:
    assert _one(("BTC-27MAR26-110000-C", 5.0)).initial_margin_usd == 0.0
    # no offsets: a hedge costs the sum of its legs
    legs = [("BTC-PERPETUAL", 1.0), ("BTC-27MAR26", -1.0)]
    pair = _one(*legs).initial_margin_usd
    assert pair == pytest.approx(sum(_one(leg).initial_margin_usd for leg in legs))


def test_components_rederive_the_requirement() -> None:
    acct = _one(("BTC-27MAR26-90000-P", -1.0), ("BTC-PERPETUAL", 3.0), ("BTC_USDC-PERPETUAL", 1))
    for pool in acct.pools:
        c = pool.components
        assert pool.initial_margin == pytest.approx(c["futures_im"] + c["options_im"])
        assert pool.maintenance_margin == pytest.approx(
            c["futures_mm"] + c["options_mm"] + c["fee_provision"]
        )


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"futures": {"BTC": {"maintenance_base": 0.5, "initial_base": 0.1}}}, "futures.BTC"),
        ({"futures": {"default": {"maintenance_base": 0.05}}}, "futures.default"),
        ({"options": {"short_maintenance": 0.5}}, "options.short_maintenance"),
        ({"options": {"short_initial_min": 0.2}}, "options.short_maintenance"),
    ],
)
def test_a_maintenance_rate_above_its_initial_rate_is_refused(
    tmp_path: Path, override: dict[str, Any], field: str
) -> None:
    """A parameter file whose maintenance margin exceeds its initial margin was accepted (an
    account just opened at IM would be in liquidation); it is refused naming the field."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps(override))
    with pytest.raises(SolventInputError) as caught:
        load_params(str(path))
    assert caught.value.field.startswith(f"params.{field}")
