"""A portfolio over three venues and a chain, margined as one over the HTTP API (as ``solvent
margin``), and the cross-venue what-if (as ``solvent cross-venue``): same engine, same views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apitest import Keys, bearer, make_service, market
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from solvent.api.app import create_app
from solvent.engine.cross_venue import cross_venue, cross_venue_json
from solvent.engine.margin import margin_accounts
from solvent.engine.views import margin_json
from solvent.portfolio.account_book import parse_account_book
from solvent.portfolio.external import ExternalHolding
from solvent.portfolio.portfolio import parse_portfolio
from solvent.validation import iso_timestamp
from solvent.venues.attestation import public_key_hex, sign_attestation
from solvent.venues.locations import load_locations

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
AT = "2026-01-05T07:55:00Z"  # 5 minutes before the service's market


def _held(location: str, asset: str, amount: float) -> dict[str, Any]:
    holding = ExternalHolding(location, asset, amount, iso_timestamp(AT, "at"), None)
    return {
        "location": location,
        "asset": asset,
        "amount": amount,
        "attested_at": AT,
        "attestation": {"signature": sign_attestation(KEY, "desk", holding)},
    }


PORTFOLIO: dict[str, Any] = {
    "account": "desk",
    "collateral": {"USDC": 5_000.0},
    "positions": [
        {"instrument": "BTC-27MAR26-110000-C", "quantity": -2.0, "venue": "deribit"},
        {"instrument": "BTC-27MAR26-90000-P", "quantity": -1.0, "venue": "okx"},
        {"instrument": "BTC-PERPETUAL", "quantity": 0.8, "venue": "bybit"},
        {"instrument": "BTC-27MAR26", "quantity": -0.3},
    ],
    "external": [_held("ethereum", "USDC", 20_000.0), _held("deribit", "BTC", 0.25)],
}


def _locations(tmp_path: Path) -> str:
    path = tmp_path / "locations.toml"
    lines = [
        f'[locations.{n}]\npublic_key = "{public_key_hex(KEY)}"' for n in ("ethereum", "deribit")
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_margin_and_what_if_as_the_cli(
    template: tuple[Path, Keys], keys: Keys, tmp_path: Path
) -> None:
    locations = _locations(tmp_path)
    service = make_service(template, tmp_path, locations=locations)
    try:
        with TestClient(create_app(service)) as client:
            r = client.post(
                "/v1/portfolio/margin?model=deribit-pm",
                json=PORTFOLIO,
                headers=bearer(keys.bob),
            )
            assert r.status_code == 200, r.text
            body = r.json()
            run = margin_accounts(
                parse_account_book(PORTFOLIO)[0],
                market(),
                "deribit-pm",
                locations=load_locations(locations),
            )
            assert body == margin_json(run, is_book=False)
            assert [h["status"] for h in body["external"]] == ["verified", "verified"]
            assert body["collateral_value_usd"] > 5_000.0 + 20_000.0 * 0.9
            r = client.post(
                "/v1/portfolio/cross-venue?model=deribit-pm",
                json=PORTFOLIO,
                headers=bearer(keys.bob),
            )
            assert r.status_code == 200, r.text
            what_if = cross_venue(parse_portfolio(PORTFOLIO), market(), "deribit-pm")
            assert r.json() == cross_venue_json(what_if)
            assert r.json()["capital_saved_usd"] > 0
            bad = PORTFOLIO | {"positions": [{"instrument": "BTC-PERPETUAL", "quantity": 1.0,
                                               "venue": "ftx"}]}  # fmt: skip
            r = client.post("/v1/portfolio/margin", json=bad, headers=bearer(keys.bob))
            assert r.status_code == 422 and r.json()["error"]["field"] == "desk.positions[0].venue"
            r = client.post("/v1/portfolio/cross-venue", json=bad, headers=bearer(keys.bob))
            assert r.status_code == 422 and "ftx" in r.json()["error"]["message"]
            assert client.post("/v1/portfolio/margin", json=PORTFOLIO).status_code == 401
    finally:
        service.ledger.close()
