"""Collateral held elsewhere: location parameters, attestations (Ed25519, freshness) and its value
in the one collateral valuation of ``solvent margin``."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.collateral.assets import AssetClass
from solvent.engine.margin import margin_accounts
from solvent.engine.views import margin_json
from solvent.errors import SolventInputError
from solvent.market.snapshot import parse_market
from solvent.portfolio.account_book import parse_account_book
from solvent.portfolio.external import ExternalHolding
from solvent.portfolio.portfolio import parse_portfolio
from solvent.validation import iso_timestamp, iso_utc
from solvent.venues.attestation import (
    AttestationStatus,
    attestation_message,
    check_attestation,
    public_key_hex,
    sign_attestation,
)
from solvent.venues.locations import default_locations, load_locations, parse_locations

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-01-05T15:30:00Z"
NOW = iso_timestamp(AS_OF, "as_of")
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
MARKET = parse_market(
    {
        "as_of": AS_OF,
        "index": {"BTC": 100_000.0, "ETH": 4_000.0, "USDC": 1.0},
        "instruments": [{"name": "BTC-PERPETUAL", "mark_price": 100_000.0}],
    }
)


def _locations(key: Ed25519PrivateKey = KEY) -> Any:
    overlay = {
        "locations": {
            name: {"public_key": public_key_hex(key)}
            for name in ("deribit", "ethereum", "arbitrum", "coinbase-custody")
        }
    }
    return parse_locations(overlay, "test", default_locations())


def _entry(
    location: str,
    asset: str,
    amount: float,
    at: str = AS_OF,
    account: str = "a",
    key: Ed25519PrivateKey = KEY,
) -> dict[str, Any]:
    holding = ExternalHolding(location, asset, amount, iso_timestamp(at, "at"), None)
    return {
        "location": location,
        "asset": asset,
        "amount": amount,
        "attested_at": at,
        "attestation": {"signature": sign_attestation(key, account, holding)},
    }


def _portfolio(*external: dict[str, Any], collateral: dict[str, float] | None = None) -> Any:
    return {
        "account": "a",
        "collateral": collateral or {},
        "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 0.5, "venue": "deribit"}],
        "external": list(external),
    }


def _margin(raw: Any, locations: Any = None) -> Any:
    book, _ = parse_account_book(raw)
    return margin_accounts(book, MARKET, "standard", locations=locations or _locations())


# --- locations --------------------------------------------------------------------------------


def test_builtin_locations_are_documented() -> None:
    locations = default_locations()
    assert locations.label == "solvent-locations@2026-11"
    for loc in locations.locations.values():
        assert 0 <= loc.haircut < 1 and loc.source and loc.public_key is None
    assert locations.locations["arbitrum"].settlement_days == 7.0  # the canonical bridge's wait
    # settlement haircut of a major held on arbitrum: 10 % x sqrt(7)
    arb = locations.locations["arbitrum"]
    assert locations.settlement_haircut(arb, AssetClass.MAJOR) == pytest.approx(0.1 * math.sqrt(7))


def test_overlay_file_registers_keys(tmp_path: Path) -> None:
    path = tmp_path / "loc.toml"
    path.write_text(f'[locations.okx]\npublic_key = "{public_key_hex(KEY)}"\n')
    locations = load_locations(str(path))
    assert locations.locations["okx"].public_key == public_key_hex(KEY)
    assert locations.locations["okx"].haircut == default_locations().locations["okx"].haircut


@pytest.mark.parametrize(
    ("overlay", "field"),
    [
        ({"locations": {"okx": {"haircut": 1.5}}}, "t.locations.okx.haircut"),
        ({"locations": {"okx": {"public_key": "zz"}}}, "t.locations.okx.public_key"),
        ({"locations": {"new": {"haircut": 0.1}}}, "t.locations.new.kind"),
        ({"locations": {"okx": {"colour": 1}}}, "t.locations.okx.colour"),
        ({"settlement": {"major": -0.1}}, "t.settlement.major"),
    ],
)
def test_bad_location_parameters(overlay: dict[str, Any], field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        parse_locations(overlay, "t", default_locations())
    assert err.value.field == field


# --- attestations -----------------------------------------------------------------------------


def _holding(entry: dict[str, Any]) -> ExternalHolding:
    return parse_portfolio(_portfolio(entry)).external[0]


def _status(entry: dict[str, Any], account: str = "a") -> AttestationStatus:
    locations = _locations()
    holding = _holding(entry)
    location = locations.locations[holding.location]
    return check_attestation(account, holding, location, NOW, locations.max_clock_skew_seconds)


def test_attestation_message_is_canonical() -> None:
    holding = _holding(_entry("deribit", "BTC", 1.5))
    assert attestation_message("a", holding) == (
        b"solvent-attestation-v1\n"
        b'{"account":"a","amount":1.5,"asset":"BTC","attested_at":"2026-01-05T15:30:00Z",'
        b'"location":"deribit"}'
    )


def test_verified_forged_stale_future_and_unattested() -> None:
    assert _status(_entry("deribit", "BTC", 1.0)) is AttestationStatus.VERIFIED
    forged = _entry("deribit", "BTC", 1.0, key=OTHER)  # signed by someone else's key
    assert _status(forged) is AttestationStatus.BAD_SIGNATURE
    inflated = _entry("deribit", "BTC", 1.0) | {"amount": 100.0}  # signature of another amount
    assert _status(inflated) is AttestationStatus.BAD_SIGNATURE
    assert _status(_entry("deribit", "BTC", 1.0), account="b") is AttestationStatus.BAD_SIGNATURE
    old = iso_utc(NOW - timedelta(seconds=3601))  # deribit: fresh for one hour
    assert _status(_entry("deribit", "BTC", 1.0, at=old)) is AttestationStatus.STALE
    ahead = iso_utc(NOW + timedelta(seconds=301))  # beyond the tolerated clock skew
    assert _status(_entry("deribit", "BTC", 1.0, at=ahead)) is AttestationStatus.FUTURE
    bare = _entry("deribit", "BTC", 1.0) | {"attestation": None}
    assert _status(bare) is AttestationStatus.UNATTESTED
    day_old = iso_utc(NOW - timedelta(hours=20))  # a custodian's statement is fresh for a day
    assert _status(_entry("coinbase-custody", "BTC", 1.0, at=day_old)) is (
        AttestationStatus.VERIFIED
    )


def test_no_registered_key_counts_zero() -> None:
    run = _margin(_portfolio(_entry("deribit", "BTC", 1.0)), default_locations())
    assert run.external is not None
    assert run.external.status == (AttestationStatus.NO_KEY,)
    assert run.equity.collateral_value_usd[0] == 0.0


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"location": "nowhere"}, "a.external[0].location"),
        ({"asset": "XYZ"}, "a.external[0].asset"),
    ],
)
def test_unknown_location_or_asset_is_bad_input(entry: dict[str, Any], field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        _margin(_portfolio(_entry("deribit", "BTC", 1.0) | entry))
    assert err.value.field == field


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"amount": -1.0}, "portfolio.external[0].amount"),
        ({"attested_at": "yesterday"}, "portfolio.external[0].attested_at"),
        ({"attestation": {"signature": "00"}}, "portfolio.external[0].attestation.signature"),
        ({"location": "a b"}, "portfolio.external[0].location"),
        ({"extra": 1}, "portfolio.external[0].extra"),
    ],
)
def test_malformed_external_entries(entry: dict[str, Any], field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        parse_portfolio(_portfolio(_entry("deribit", "BTC", 1.0) | entry))
    assert err.value.field == field


def test_a_statement_listed_twice_is_refused() -> None:
    """One signed statement listed twice counted twice (the same 1 BTC at deribit added 90,000
    USD of collateral again): a second holding of the same asset at the same location attested
    at the same instant is refused, naming it; another instant or asset is another statement."""
    twice = _portfolio(_entry("deribit", "BTC", 1.0), _entry("deribit", "BTC", 1.0))
    with pytest.raises(SolventInputError, match="counts once") as err:
        parse_portfolio(twice)
    assert err.value.field == "portfolio.external[1]"
    later = "2026-01-05T15:29:00Z"
    apart = _portfolio(
        _entry("deribit", "BTC", 1.0),
        _entry("deribit", "BTC", 1.0, later),
        _entry("deribit", "ETH", 1.0),
    )
    assert len(parse_portfolio(apart).external) == 3


def test_unknown_position_venue_is_bad_input() -> None:
    raw = _portfolio()
    raw["positions"][0]["venue"] = "mtgox"
    with pytest.raises(SolventInputError, match="unknown location 'mtgox'") as err:
        _margin(raw)
    assert err.value.field == "a.positions[0].venue"


# --- valuation --------------------------------------------------------------------------------


def test_external_value_is_asset_then_location_then_settlement_haircut() -> None:
    raw = _portfolio(
        _entry("ethereum", "USDC", 50_000.0),
        _entry("arbitrum", "ETH", 4.0),
        _entry("deribit", "BTC", 0.5, at=iso_utc(NOW - timedelta(hours=2))),  # stale
    )
    run = _margin(raw)
    locations = _locations()
    eth_settle = min(1.0, 0.10 * math.sqrt(7.0))
    usdc_settle = 0.01 * math.sqrt(locations.locations["ethereum"].settlement_days)
    expected_usdc = 50_000 * (1 - 0.0) * (1 - 0.01) * (1 - usdc_settle)
    expected_eth = 4 * 4_000 * (1 - 0.12) * (1 - 0.05) * (1 - eth_settle)
    assert run.equity.collateral_value_usd[0] == pytest.approx(expected_usdc + expected_eth)
    out = margin_json(run, is_book=False)
    held = {(h["location"], h["asset"]): h for h in out["external"]}
    assert held[("deribit", "BTC")]["status"] == "stale"
    assert held[("deribit", "BTC")]["value_usd"] == 0.0
    assert held[("arbitrum", "ETH")]["value_usd"] == pytest.approx(expected_eth)
    assert out["collateral_value_usd"] == pytest.approx(expected_usdc + expected_eth)
    assert out["equity_usd"] == pytest.approx(expected_usdc + expected_eth)


def test_concentration_sees_every_location_at_once() -> None:
    """20 M USD of BTC split in two: held in one place or spread across locations, the
    concentration tier is that of the whole holding (not of each piece)."""
    here = _margin(_portfolio(collateral={"BTC": 200.0}))
    split = _margin(_portfolio(_entry("coinbase-custody", "BTC", 100.0), collateral={"BTC": 100.0}))
    assert here.equity.collateral.haircut[0, 0] == split.equity.collateral.haircut[0, 0]
    assert here.equity.collateral.haircut[0, 0] > 0.10  # above the first tier
    # the internal half is cut exactly as when held alone at the same tier
    loc = _locations().locations["coinbase-custody"]
    factor = (1 - loc.haircut) * (1 - 0.10 * math.sqrt(loc.settlement_days))
    h = float(here.equity.collateral.haircut[0, 0])
    expected = 100 * 100_000 * (1 - h) * (1 + factor)
    assert split.equity.collateral_value_usd[0] == pytest.approx(expected)


def test_without_external_nothing_changes() -> None:
    raw = {"account": "a", "collateral": {"BTC": 1.0}, "positions": []}
    plain = _margin(raw)
    assert plain.external is None
    assert "external" not in margin_json(plain, is_book=False)


def test_book_rows_are_valued_alone() -> None:
    book = {
        "accounts": [
            _portfolio(_entry("ethereum", "USDC", 1_000.0)),
            {"account": "b", "collateral": {"USDC": 5.0}, "positions": []},
        ]
    }
    run = _margin(book)
    value = run.equity.collateral_value_usd
    assert value[1] == 5.0
    assert value[0] == pytest.approx(1_000 * 0.99 * (1 - 0.01 * math.sqrt(0.01)), rel=1e-12)
    assert np.all(run.equity.collateral.external_amount[1] == 0)  # type: ignore[index]


def test_cli_margins_three_venues_and_a_chain_as_one() -> None:
    """examples/cross-venue: positions at deribit, okx and bybit and here, collateral at those
    venues, on ethereum and arbitrum and at a custodian, one stale: one portfolio, one margin."""
    result = CliRunner().invoke(
        app,
        [
            "margin", str(ROOT / "examples/cross-venue/portfolio.json"),
            "--market", str(ROOT / "examples/market.json"), "--model", "deribit-pm",
            "--locations", str(ROOT / "examples/cross-venue/locations.toml"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    statuses = [h["status"] for h in out["external"]]
    assert statuses == ["verified"] * 6 + ["stale"]
    assert {h["location"] for h in out["external"]} >= {"deribit", "okx", "bybit", "ethereum"}
    assert out["collateral_value_usd"] == pytest.approx(
        1.0 * 93_650.74 * 0.9 + 10_000.0 + sum(h["value_usd"] for h in out["external"])
    )
    # the same portfolio without the registered keys: nothing held elsewhere counts
    bare = CliRunner().invoke(
        app,
        [
            "margin", str(ROOT / "examples/cross-venue/portfolio.json"),
            "--market", str(ROOT / "examples/market.json"), "--model", "deribit-pm",
        ],
    )  # fmt: skip
    assert bare.exit_code == 0, bare.output
    plain = json.loads(bare.stdout)
    assert {h["status"] for h in plain["external"]} == {"no_key"}
    assert plain["initial_margin_usd"] == out["initial_margin_usd"]
    assert plain["collateral_value_usd"] == pytest.approx(1.0 * 93_650.74 * 0.9 + 10_000.0)


def test_account_book_keeps_venues_and_external_holdings() -> None:
    book = {
        "accounts": [
            _portfolio(_entry("ethereum", "USDC", 1_000.0), _entry("deribit", "BTC", 0.5)),
            {"account": "b", "collateral": {}, "positions": []},
            _portfolio(_entry("arbitrum", "ETH", 2.0)) | {"account": "c"},
        ]
    }
    columns, is_book = parse_account_book(book)
    assert is_book and columns.external_account.tolist() == [0, 0, 2]
    back = columns.portfolios()
    assert [p.account for p in back] == ["a", "b", "c"]
    assert [h.location for h in back[0].external] == ["ethereum", "deribit"]
    assert back[1].external == () and [h.asset for h in back[2].external] == ["ETH"]
    assert back[0].positions[0].venue == "deribit"
    assert back[0] == parse_portfolio(book["accounts"][0], "accounts[0]")


# --- proofs of liabilities --------------------------------------------------------------------


def _proof_entry(
    balances_btc: int, *, key: Ed25519PrivateKey = KEY, amount: float = 1.0, tamper: bool = False
) -> dict[str, Any]:
    """An attestation of ``amount`` BTC at ``deribit`` backed by deribit's proof of liabilities
    (Solvent's format) for its account ``acc-7`` holding ``balances_btc`` satoshis."""
    from solvent.solvency.liabilities import AssetInfo, Liabilities
    from solvent.solvency.snapshot import build_snapshot

    assets = (AssetInfo("BTC", 8), AssetInfo("USDC", 6))
    accounts = ("acc-1", "acc-7", "acc-9")
    values = np.array([[10**8, 5], [balances_btc, 0], [3, 7]], dtype=np.int64)
    liabilities = Liabilities(assets, accounts, values, np.zeros_like(values))
    snapshot = build_snapshot(liabilities, 1, depth=4)
    header = snapshot.sign(key, NOW - timedelta(minutes=10))
    proof = snapshot.proof("acc-7")
    if tamper:
        proof["balances"]["BTC"] += 1
    holding = ExternalHolding("deribit", "BTC", amount, NOW, None)
    signature = sign_attestation(KEY, "a", holding, proof_account="acc-7")
    return {
        "location": "deribit",
        "asset": "BTC",
        "amount": amount,
        "attested_at": AS_OF,
        "attestation": {"signature": signature, "proof": proof, "header": header},
    }


def _proof_locations() -> Any:
    overlay = {"locations": {"deribit": {"public_key": public_key_hex(KEY), "proof": True}}}
    return parse_locations(overlay, "test", default_locations())


def test_proof_of_liabilities_caps_what_counts() -> None:
    locations = _proof_locations()
    full = _margin(_portfolio(_proof_entry(2 * 10**8)), locations)  # proves 2 BTC, attests 1
    assert full.external is not None and full.external.status == (AttestationStatus.VERIFIED,)
    assert full.external.admitted.tolist() == [1.0]
    short = _margin(_portfolio(_proof_entry(25_000_000)), locations)  # proves 0.25 BTC
    assert short.external is not None and short.external.admitted.tolist() == [0.25]


@pytest.mark.parametrize(
    ("entry", "status"),
    [
        (lambda: _proof_entry(10**8, tamper=True), AttestationStatus.PROOF_INVALID),
        (lambda: _proof_entry(10**8, key=OTHER), AttestationStatus.PROOF_INVALID),  # not deribit's
        (lambda: _entry("deribit", "BTC", 1.0), AttestationStatus.PROOF_MISSING),
    ],
)
def test_proofs_that_fail_count_zero(entry: Any, status: AttestationStatus) -> None:
    run = _margin(_portfolio(entry()), _proof_locations())
    assert run.external is not None and run.external.status == (status,)
    assert run.external.admitted.tolist() == [0.0]
    assert run.equity.collateral_value_usd[0] == 0.0


def test_a_proof_of_another_leaf_breaks_the_signature() -> None:
    entry = _proof_entry(10**8)
    entry["attestation"]["proof"] = dict(entry["attestation"]["proof"]) | {"account": "acc-1"}
    run = _margin(_portfolio(entry), _proof_locations())
    assert run.external is not None
    assert run.external.status == (AttestationStatus.BAD_SIGNATURE,)
