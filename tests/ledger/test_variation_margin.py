"""Variation margin before a liquidation is booked (solvent.liquidation.booking.
settle_variation_margin): every futures-style position of a margin unit marked to the market on
the ledger, gains before losses, a cross sub-account's loss drawn on its family, nothing created."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from solvent.accounts.service import AccountService, MarketFreshness, registry_margin
from solvent.ledger.store import Ledger
from solvent.liquidation.booking import settle_variation_margin
from solvent.market.moves import move_underlyings
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.portfolio import SubAccountMode

BTC, ETH = "BTC_USDC-PERPETUAL", "ETH_USDC-PERPETUAL"


def _market() -> MarketSnapshot:
    return parse_market(
        {
            "as_of": "2026-01-05T08:00:00Z",
            "index": {"BTC": 100_000.0, "ETH": 4_000.0, "USDC": 1.0},
            "instruments": [
                {"name": BTC, "mark_price": 100_000.0},
                {"name": ETH, "mark_price": 4_000.0},
            ],
        }
    )


def _ledger(tmp_path: object) -> tuple[Ledger, MarketSnapshot]:
    """desk: 20,000 USDC, long 1 BTC at 100,000; desk-hedge (cross): 5,000 USDC of its own,
    short 10 ETH at 4,000; the venue funded. Then BTC 110,000 (+10,000) and ETH 5,000 (-10,000)."""
    m = _market()
    ledger = Ledger.open(f"sqlite:///{tmp_path}/vm.db")
    service = AccountService(
        ledger, registry_margin, freshness=MarketFreshness(clock=lambda: m.as_of)
    )
    service.create("desk")
    service.create("desk-hedge", parent="desk", mode=SubAccountMode.CROSS)
    service.create("other")
    service.deposit("@venue", "USDC", "1000000")
    service.deposit("desk", "USDC", "20000")
    service.deposit("desk-hedge", "USDC", "5000")
    service.deposit("other", "USDC", "1000")
    service.trade("desk", BTC, "1", "100000", m)
    service.trade("desk-hedge", ETH, "-10", "4000", m)
    service.trade("other", BTC, "0.01", "100000", m)
    return ledger, move_underlyings(m, {"BTC": 110_000.0, "ETH": 5_000.0})


def test_a_unit_is_marked_to_market_gains_first_and_the_family_pays_a_members_loss(
    tmp_path: object,
) -> None:
    ledger, moved = _ledger(tmp_path)
    total_before = sum(
        sum(ledger.balances(a).values()) for a in ("desk", "desk-hedge", "other", "@venue")
    )
    assert settle_variation_margin(ledger, ["desk-hedge"], moved, "vm:test") == 2
    usdc = 10**6
    # desk: 20,000 + 10,000 gain - 5,000 to desk-hedge, which pays its 10,000 loss with 5,000 own
    assert ledger.balances("desk")["USDC"] == 25_000 * usdc
    assert ledger.balances("desk-hedge").get("USDC", 0) == 0
    assert ledger.balances("other")["USDC"] == 1_000 * usdc  # not of the unit: untouched
    with ledger.transaction() as tx:
        positions = {
            (a, p.instrument): p
            for a, ps in tx.positions(["desk", "desk-hedge"]).items()
            for p in ps
        }
    assert positions["desk", BTC].quantity == 1
    assert positions["desk", BTC].average_price == Decimal(repr(moved.quote(BTC).mark_price))
    assert positions["desk-hedge", ETH].quantity == -10
    assert positions["desk-hedge", ETH].average_price == Decimal(repr(moved.quote(ETH).mark_price))
    total_after = sum(
        sum(ledger.balances(a).values()) for a in ("desk", "desk-hedge", "other", "@venue")
    )
    assert total_after == total_before  # nothing created or lost
    assert ledger.audit().ok
    # settled already: running it again changes nothing
    assert settle_variation_margin(ledger, ["desk"], moved, "vm:again") == 0


def test_a_loss_the_unit_cannot_pay_is_left_unsettled(tmp_path: object) -> None:
    ledger, _ = _ledger(tmp_path)
    crash = move_underlyings(_market(), {"BTC": 60_000.0, "ETH": 7_000.0})
    before = ledger.balances("desk"), ledger.balances("desk-hedge")
    # BTC -40,000 (desk) and ETH -30,000 (desk-hedge) against 25,000 of the unit's cash: each
    # loss, even with the family's cash, is more than the unit holds: both are left (each
    # attempt rolled back whole), to close at the bankruptcy price instead.
    assert settle_variation_margin(ledger, ["desk"], crash, "vm:crash") == 0
    assert (ledger.balances("desk"), ledger.balances("desk-hedge")) == before
    assert ledger.audit().ok


def test_in_one_batch_an_unpayable_loss_is_left_and_the_others_settle(tmp_path: Path) -> None:
    """desk's and desk-hedge's losses are more than their unit holds; other's loss (long 0.01 BTC
    from 100,000 to 60,000: 400 USDC of its 1,000) is paid. Settled in one batch and one position
    per transaction, the ledgers end the same."""
    crash = move_underlyings(_market(), {"BTC": 60_000.0, "ETH": 7_000.0})
    ends = []
    for batch in (1, 500):
        (tmp_path / str(batch)).mkdir()
        ledger, _ = _ledger(tmp_path / str(batch))
        before = ledger.balances("desk"), ledger.balances("desk-hedge")
        assert settle_variation_margin(ledger, ["desk", "other"], crash, "vm:x", batch=batch) == 1
        assert (ledger.balances("desk"), ledger.balances("desk-hedge")) == before
        assert ledger.balances("other")["USDC"] == 600 * 10**6
        assert ledger.audit().ok
        ends.append((ledger.cached_balances(), ledger.replay_positions()))
        ledger.close()
    assert ends[0] == ends[1]
