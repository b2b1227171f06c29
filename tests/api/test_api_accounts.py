"""Account endpoints: each answers what the CLI command of the same name prints (the same service
call and view), writes what it should and nothing else, and publishes the unit's health."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apitest import MARKET, Keys, bearer, ledger_state
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from solvent.api.state import Service
from solvent.cli.main import app as cli

TRADE = {"instrument": "BTC-PERPETUAL", "quantity": "0.5", "price": "100000"}


def _cli(service: Service, tmp_path: Path, *argv: str) -> dict[str, object]:
    """``solvent ARGV`` on the service's ledger and market (``MARKET`` stands for its file)."""
    market_file = tmp_path / "market.json"
    market_file.write_text(json.dumps(MARKET))
    db = service.ledger.engine.url.render_as_string(hide_password=False)
    args = [a.replace("MARKET", str(market_file)) for a in argv]
    ledger = [] if args[0] == "margin" else ["--db", db]
    result = CliRunner().invoke(cli, [*args, *ledger])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_show_is_account_show(
    client: TestClient, service: Service, keys: Keys, tmp_path: Path
) -> None:
    client.post("/v1/accounts/alice/trades", headers=bearer(keys.alice), json=TRADE)
    for account in ("alice", "alice-hedge", "bob"):
        r = client.get(f"/v1/accounts/{account}", headers=bearer(keys.operator))
        assert r.status_code == 200
        assert r.json() == _cli(service, tmp_path, "account", "show", account, "--market", "MARKET")
    assert client.get("/v1/accounts/alice", headers=bearer(keys.alice)).json()["positions"] == [
        {
            "instrument": "BTC-PERPETUAL",
            "quantity": 0.5,
            "average_price": 100000.0,
            "realized_pnl": 0.0,
        }
    ]


def test_what_if_is_account_check_and_changes_nothing(
    client: TestClient, service: Service, keys: Keys, tmp_path: Path
) -> None:
    before = ledger_state(service)
    body = {
        "orders": [
            {"instrument": "BTC-PERPETUAL", "quantity": "3"},
            {"instrument": "BTC-27MAR26-110000-C", "quantity": "-2"},
        ]
    }
    r = client.post("/v1/accounts/alice/what-if", headers=bearer(keys.alice), json=body)
    assert r.status_code == 200
    expected = _cli(
        service,
        tmp_path,
        "account",
        "check",
        "alice",
        "--market",
        "MARKET",
        "--order",
        "BTC-PERPETUAL",
        "3",
        "--order",
        "BTC-27MAR26-110000-C",
        "-2",
    )
    assert r.json() == expected
    assert expected["accepted"] is True and expected["initial_margin_usd"] > 0
    too_big = {"orders": [{"instrument": "BTC-PERPETUAL", "quantity": "1000"}]}
    r = client.post("/v1/accounts/bob/what-if", headers=bearer(keys.bob), json=too_big)
    assert r.status_code == 200 and r.json()["accepted"] is False
    assert ledger_state(service) == before


def test_deposit_withdraw_trade_with_refs(client: TestClient, service: Service, keys: Keys) -> None:
    op = bearer(keys.operator)
    r = client.post(
        "/v1/accounts/bob/deposits",
        headers=op,
        json={"asset": "USDC", "amount": "1000.50", "ref": "dep-1"},
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["balance"] == "1000.5" and first["replayed"] is False
    state = ledger_state(service)
    again = client.post(
        "/v1/accounts/bob/deposits",
        headers=op,
        json={"asset": "USDC", "amount": "1000.500", "ref": "dep-1"},
    ).json()
    assert again["replayed"] is True and again["operation"] == first["operation"]
    assert ledger_state(service) == state
    r = client.post(
        "/v1/accounts/bob/deposits",
        headers=op,
        json={"asset": "USDC", "amount": "7", "ref": "dep-1"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "ref"
    assert ledger_state(service) == state

    r = client.post(
        "/v1/accounts/bob/withdrawals",
        headers=bearer(keys.bob),
        json={"asset": "USDC", "amount": "0.5"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["balance"] == "1000" and r.json()["state"] == "healthy"

    r = client.post(
        "/v1/accounts/bob/trades", headers=bearer(keys.bob), json={**TRADE, "ref": "t-1"}
    )
    assert r.status_code == 201, r.text
    trade = r.json()
    assert trade["position"]["quantity"] == 0.5 and trade["replayed"] is False
    state = ledger_state(service)
    r = client.post(
        "/v1/accounts/bob/trades", headers=bearer(keys.bob), json={**TRADE, "ref": "t-1"}
    )
    assert r.json()["replayed"] is True and r.json()["operation"] == trade["operation"]
    assert ledger_state(service) == state
    assert service.ledger.audit().ok


def test_a_ref_error_names_nothing_of_another_account(client: TestClient, keys: Keys) -> None:
    client.post("/v1/accounts/alice/trades", headers=bearer(keys.alice), json={**TRADE, "ref": "x"})
    r = client.post("/v1/accounts/bob/trades", headers=bearer(keys.bob), json={**TRADE, "ref": "x"})
    assert r.status_code == 422
    assert r.json() == {
        "error": {"field": "ref", "message": "already used for a different request"}
    }


def test_refusals_of_the_service_are_422_and_change_nothing(
    client: TestClient, service: Service, keys: Keys
) -> None:
    before = ledger_state(service)
    cases = [
        ("withdrawals", {"asset": "BTC", "amount": "5"}, "amount"),  # beyond the balance
        ("withdrawals", {"asset": "NOPE", "amount": "1"}, "asset"),
        ("trades", {**TRADE, "price": "150000"}, "price"),  # outside the band
        ("trades", {**TRADE, "quantity": "1000"}, "quantity"),  # below IM
        ("trades", {**TRADE, "instrument": "NOPE-PERPETUAL"}, "instrument"),
        ("trades", {**TRADE, "quantity": "0"}, "quantity"),
    ]
    for endpoint, body, field in cases:
        r = client.post(f"/v1/accounts/bob/{endpoint}", headers=bearer(keys.bob), json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, (body, r.text)
    assert ledger_state(service) == before


def test_a_stale_market_is_503(tmp_path: Path, template: tuple[Path, Keys], keys: Keys) -> None:
    from datetime import timedelta

    from apitest import make_service

    from solvent.api.app import create_app

    service = make_service(template, tmp_path, max_market_age=timedelta(seconds=10))
    before = ledger_state(service)
    with TestClient(create_app(service)) as client:
        r = client.post("/v1/accounts/bob/trades", headers=bearer(keys.bob), json=TRADE)
        assert r.status_code == 503
        assert r.json()["error"]["field"] == "market"
        # reads need no fresh market
        assert client.get("/v1/accounts/bob", headers=bearer(keys.bob)).status_code == 200
    assert ledger_state(service) == before


def test_create_account(client: TestClient, service: Service, keys: Keys) -> None:
    op = bearer(keys.operator)
    r = client.post("/v1/accounts", headers=op, json={"account": "carol", "model": "deribit-pm"})
    assert r.status_code == 201
    assert r.json() == {"account": "carol", "parent": None, "mode": None, "model": "deribit-pm"}
    r = client.post(
        "/v1/accounts",
        headers=op,
        json={"account": "carol-iso", "parent": "carol", "mode": "isolated"},
    )
    assert r.status_code == 201 and r.json()["mode"] == "isolated"
    before = ledger_state(service)
    for body, field in (
        ({"account": "carol"}, "account"),  # exists
        ({"account": "dave", "model": "nope"}, "model"),
        ({"account": "dave", "parent": "nobody", "mode": "cross"}, "parent"),
        ({"account": "dave", "mode": "sideways"}, "mode"),
        ({"account": "@evil"}, "account"),
    ):
        r = client.post("/v1/accounts", headers=op, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, (body, r.text)
    assert ledger_state(service) == before


def test_market(client: TestClient, keys: Keys) -> None:
    r = client.get("/v1/market", headers=bearer(keys.bob))
    assert r.status_code == 200
    body = r.json()
    assert body["as_of"] == "2026-01-05T08:00:00Z"
    assert body["index"]["BTC"] == 100_000.0
    names = {i["name"] for i in body["instruments"]}
    assert {"BTC-PERPETUAL", "BTC-27MAR26-110000-C"} <= names
    assert isinstance(body["vol_surface"], dict)


def test_margin_is_solvent_margin_of_the_unit(
    client: TestClient, service: Service, keys: Keys, tmp_path: Path
) -> None:
    client.post("/v1/accounts/alice/trades", headers=bearer(keys.alice), json=TRADE)
    hedge = {"instrument": "BTC-27MAR26", "quantity": "-0.25", "price": "101000"}
    r = client.post("/v1/accounts/alice-hedge/trades", headers=bearer(keys.alice), json=hedge)
    assert r.status_code == 201, r.text
    r = client.get("/v1/accounts/alice-hedge/margin", headers=bearer(keys.alice))
    assert r.status_code == 200, r.text
    body = r.json()
    # the unit (alice with her cross sub-account) as a portfolio file, through the CLI
    unit = {
        "account": "alice",
        "collateral": {"BTC": 2.0, "USDC": 50000.0},
        "positions": [
            {"instrument": "BTC-PERPETUAL", "quantity": 0.5, "entry_price": 100000.0},
            {"instrument": "BTC-27MAR26", "quantity": -0.25, "entry_price": 101000.0},
        ],
    }
    (tmp_path / "unit.json").write_text(json.dumps(unit))
    expected = _cli(service, tmp_path, "margin", str(tmp_path / "unit.json"), "--market", "MARKET")
    assert body == expected
    shown = client.get("/v1/accounts/alice", headers=bearer(keys.alice)).json()
    assert body["initial_margin_usd"] == pytest.approx(shown["initial_margin_usd"], rel=1e-12)
    assert body["maintenance_margin_usd"] == pytest.approx(
        shown["maintenance_margin_usd"], rel=1e-12
    )
    r = client.get(
        "/v1/accounts/alice/margin?model=deribit-pm&explain=true", headers=bearer(keys.alice)
    )
    assert r.status_code == 200
    explained = r.json()
    assert explained["model"] == "deribit-pm"
    assert "scenarios" in explained["pools"][0] and "contributions" in explained["pools"][0]
    r = client.get("/v1/accounts/alice/margin?model=nope", headers=bearer(keys.alice))
    assert r.status_code == 422 and r.json()["error"]["field"] == "model"
    assert client.get("/v1/accounts/bob/margin", headers=bearer(keys.alice)).status_code == 403


def test_show_has_liquidation_prices_and_the_list_the_riskiest_distances(
    client: TestClient, keys: Keys
) -> None:
    leveraged = {"instrument": "BTC-PERPETUAL", "quantity": "5", "price": "100000"}
    r = client.post("/v1/accounts/bob/trades", headers=bearer(keys.bob), json=leveraged)
    assert r.status_code == 201, r.text
    shown = client.get("/v1/accounts/bob", headers=bearer(keys.bob)).json()
    (btc,) = shown["liquidation_prices"]
    assert btc["underlying"] == "BTC" and btc["liquidation_price_down"] < 100_000
    listed = client.get("/v1/accounts?riskiest=1", headers=bearer(keys.operator)).json()
    rows = {a["account"]: a for a in listed["accounts"]}
    assert rows["bob"]["liquidation_distance"] == pytest.approx(btc["distance_down"])
    assert "liquidation_distance" not in rows["alice"]  # not among the 1 riskiest
    r = client.get("/v1/accounts?riskiest=1000", headers=bearer(keys.operator))
    assert r.status_code == 422 and r.json()["error"]["field"] == "riskiest"
