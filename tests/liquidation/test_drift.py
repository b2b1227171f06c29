"""Drift protocol-v2's liquidation test vectors (tests/data/drift, Apache-2.0, numbers only)
against Solvent's own definitions, where they map (docs/methodology/liquidation.md, "Drift
protocol-v2 vectors"):

- partial-liquidation sizing: Solvent's partial policy, on a perpetual under a linear margin
  model (MM = margin ratio x notional), recovers exactly Drift's ``margin_ratio - liquidator fee -
  insurance-fund fee`` of notional per unit closed (the liquidator's fee as the fill's slippage
  in the order book, the insurance-fund fee as Solvent's liquidation fee), so Drift's base amount
  is the exact size that covers the shortage; Solvent, slicing, closes at least that and less than
  one slice more;
- bankruptcy sharing: Drift's per-unit loss deltas (by open base, by deposits) are
  :func:`solvent.liquidation.socialize.socialize_loss` with those weights, which in addition adds
  up to the loss exactly (Drift rounds the per-unit delta up).

Records marked ``not_mapped`` (spot borrow liquidation with liability weights and fee
multipliers) are data only."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from solvent.arrays import FloatArray
from solvent.engine.liquidation import liquidate_prepared
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.policy import PartialPolicy
from solvent.liquidation.socialize import socialize_loss
from solvent.liquidation.units import PreparedMargin
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.result import BookMargin
from solvent.market.snapshot import parse_market
from solvent.portfolio.account_book import parse_account_book
from solvent.portfolio.book import Book

DATA = Path(__file__).parents[1] / "data" / "drift" / "drift_v2_liquidation_cases.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
PERP = "SOL_USDC-PERPETUAL"
SLICE = 0.01  # of the 10 SOL position: slices of 0.1 SOL
USDC = 10**6


def _of(kind: str) -> list[dict[str, Any]]:
    return [r for r in RECORDS if r["solvent"] == kind]


class LinearMargin:
    """Drift's perpetual margin as a Solvent model: ``MM = IM = ratio x |q| x contract size x
    mark`` (USD), position by position."""

    name = "linear"
    description = "maintenance margin = ratio x notional at the mark"
    needs: frozenset[Any] = frozenset()

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio

    def load_params(self, spec: str | None) -> None:
        return None

    def prepare(self, market: PricedMarket, instruments: Any, params: Any) -> FloatArray:
        notional = market.columns.mark_price * market.table.contract_size
        return np.asarray(notional, dtype=np.float64)

    def margin(self, prepared: FloatArray, book: Book, *, detail: Detail) -> BookMargin:
        mm = np.asarray(self.ratio * (abs(book.quantities) @ prepared), dtype=np.float64)
        return BookMargin(self.name, "drift", book.accounts, mm.copy(), mm.reshape(-1))

    def composition(self, params: Any) -> Any:
        raise NotImplementedError


def _liquidate(inputs: dict[str, Any]) -> Any:
    """10 SOL long at Drift's oracle price (USD = oracle x quote oracle), collateral set so the
    account is ``margin_shortage_usd`` below its MM; the liquidator's fee as a book whose bid is
    that fraction below the mark, the insurance-fund fee as Solvent's liquidation fee."""
    usd = inputs["oracle_price"] * inputs["quote_oracle_price"]
    fee = inputs["liquidation_fee"]
    raw: dict[str, Any] = {
        "as_of": "2026-01-05T08:00:00Z",
        "index": {"SOL": usd, "USDC": inputs["quote_oracle_price"]},
        "instruments": [{"name": PERP, "mark_price": usd}],
    }
    if fee > 0:
        raw["order_books"] = {
            "SOL": {"bids": [[usd * (1 - fee), 1e9]], "asks": [[usd * (1 + fee), 1e9]]}
        }
    market = parse_market(raw)
    ratio = inputs["margin_ratio"]
    usdc = (ratio * 10.0 * usd - inputs["margin_shortage_usd"]) / inputs["quote_oracle_price"]
    book = parse_account_book(
        {
            "accounts": [
                {
                    "account": "liquidatee",
                    "collateral": {"USDC": usdc},
                    "positions": [{"instrument": PERP, "quantity": 10.0}],
                }
            ]
        }
    )[0]
    model = LinearMargin(ratio)
    priced = PricedMarket.resolve(market, (PERP,))
    prepared = PreparedMargin(model, model.prepare(priced, (PERP,), None), priced, "drift")
    config = LiquidationConfig(
        buffer=0.0, fee_rate=inputs["if_liquidation_fee"], slice_fraction=SLICE
    )
    return liquidate_prepared(book, prepared, policy=PartialPolicy(), config=config)


@pytest.mark.parametrize("record", _of("partial_sizing"), ids=lambda r: r["id"])
def test_partial_liquidation_sizing(record: dict[str, Any]) -> None:
    inputs = record["inputs"]
    account = _liquidate(inputs).accounts[0]
    steps = account.steps
    assert steps and all(s.quantity < 0 for s in steps)
    # every slice recovers the same margin gap per SOL: Drift's margin ratio - fees, of notional
    gap = account.equity_before_usd - account.maintenance_margin_before_usd
    assert gap == pytest.approx(-inputs["margin_shortage_usd"], rel=1e-9)
    first = steps[0]
    recovered = (
        first.equity_after_usd - first.maintenance_margin_after_usd - gap
    ) / -first.quantity
    usd = inputs["oracle_price"] * inputs["quote_oracle_price"]
    rates = inputs["margin_ratio"] - inputs["liquidation_fee"] - inputs["if_liquidation_fee"]
    assert recovered == pytest.approx(usd * rates, rel=1e-9)
    assert first.fee_usd == pytest.approx(-first.quantity * usd * inputs["if_liquidation_fee"])
    # so the exact size that covers the shortage is Drift's base amount (1e-9 SOL, floored)
    exact = inputs["margin_shortage_usd"] / recovered
    assert math.floor(exact * 1e9 + 1e-3) == record["expected_raw"]["base_asset_amount"]
    # and Solvent's slices close at least that, and less than one slice (0.1 SOL) more
    closed = -sum(s.quantity for s in steps)
    assert record["expected"]["base"] - 1e-9 <= closed < record["expected"]["base"] + 0.1
    last = steps[-1]
    assert last.equity_after_usd >= last.maintenance_margin_after_usd - 1e-9


def test_bankruptcy_shared_by_open_base() -> None:
    """Drift charges a perpetual's bankruptcy to every open position per unit of base (longs 7,
    shorts 4): 100 USDC / 11 = 9.09091 a base rounded up. ``socialize_loss`` by base size gives
    the same share per base within one base unit, and exactly 100 USDC in all."""
    (record,) = [r for r in _of("socialization") if r["id"] == "drift-socialize-funding-00"]
    inputs = record["inputs"]
    sizes = [abs(inputs["base_long"]), abs(inputs["base_short"])]
    loss = round(inputs["loss_usd"] * USDC)
    shared = socialize_loss(loss, [round(s * 1e9) for s in sizes])
    charges = np.asarray(shared.charges)
    assert int(charges.sum()) == loss and shared.uncovered == 0
    per_base = record["expected_raw"]["cumulative_funding_rate_delta"] / 1e9  # quote x 1e3
    assert per_base == pytest.approx(record["expected"]["loss_per_base_usd"])
    for charge, size in zip(charges.tolist(), sizes, strict=True):
        assert abs(charge / USDC - per_base * size) <= size * 1e-6 + 1e-6
    # Drift's rounding up collects more than the loss; the exact share never does
    assert per_base * sum(sizes) > inputs["loss_usd"]


def test_bankruptcy_shared_by_deposits() -> None:
    """Drift charges a spot market's bankruptcy to its depositors: 11 / 120 of every deposit
    (0.0916666667, rounded up). Two depositors of 100 and 20 USDC pay that share of their
    deposit within one base unit each, 11 USDC exactly in all."""
    (record,) = [r for r in _of("socialization") if r["id"] == "drift-socialize-deposits-00"]
    loss = round(record["inputs"]["loss_usd"] * USDC)
    deposits = [100 * USDC, 20 * USDC]
    assert sum(deposits) == round(record["inputs"]["deposits"] * USDC)
    shared = socialize_loss(loss, deposits)
    fraction = record["expected_raw"]["delta"] / 1e10
    assert int(np.sum(shared.charges)) == loss
    for charge, deposit in zip(np.asarray(shared.charges).tolist(), deposits, strict=True):
        assert abs(charge - deposit * fraction) <= 1.0


@pytest.mark.parametrize("record_id", ["drift-socialize-funding-01", "drift-socialize-deposits-01"])
def test_nobody_to_share_with(record_id: str) -> None:
    """No open base (Drift refuses) or no deposits (Drift charges 0): Solvent charges nobody and
    leaves the whole loss uncovered (the venue's own loss)."""
    (record,) = [r for r in _of("socialization") if r["id"] == record_id]
    loss = round(record["inputs"]["loss_usd"] * USDC)
    shared = socialize_loss(loss, [0, 0])
    assert int(np.sum(shared.charges)) == 0 and shared.uncovered == loss


def test_the_data_file_names_its_source_and_mapping() -> None:
    assert len(RECORDS) == 17
    for r in RECORDS:
        assert r["source"]["repo"] == "drift-labs/protocol-v2"
        assert r["source"]["license"] == "Apache-2.0"
        assert r["solvent"] in ("partial_sizing", "socialization", "not_mapped")
    assert len(_of("partial_sizing")) == 5 and len(_of("not_mapped")) == 8
