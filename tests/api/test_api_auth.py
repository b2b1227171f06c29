"""Authentication, visibility and limits: no key or an unknown key is 401, another account is 403
with nothing of it in the body, the operator sees all; rate limits per key; body size limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apitest import Keys, bearer, ledger_state, make_service
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from solvent.api.app import create_app
from solvent.api.keys import find_key, key_digest
from solvent.api.state import Service
from solvent.cli.main import app as cli

ACCOUNT_ENDPOINTS = [
    ("GET", "/v1/accounts/{id}", None),
    (
        "POST",
        "/v1/accounts/{id}/what-if",
        {"orders": [{"instrument": "BTC-PERPETUAL", "quantity": "1"}]},
    ),
    ("POST", "/v1/accounts/{id}/withdrawals", {"asset": "BTC", "amount": "0.1"}),
    (
        "POST",
        "/v1/accounts/{id}/trades",
        {"instrument": "BTC-PERPETUAL", "quantity": "0.1", "price": "100000"},
    ),
]


def _call(client: TestClient, method: str, path: str, body: object, key: str | None) -> object:
    headers = {} if key is None else bearer(key)
    return client.request(method, path, headers=headers, json=body)


@pytest.mark.parametrize(("method", "path", "body"), ACCOUNT_ENDPOINTS)
@pytest.mark.parametrize("key", [None, "sk_not-a-key", "garbage", "Basic abc"])
def test_no_or_unknown_key_is_401(
    client: TestClient,
    service: Service,
    keys: Keys,
    method: str,
    path: str,
    body: object,
    key: str | None,
) -> None:
    before = ledger_state(service)
    headers = {} if key is None else ({"Authorization": key} if " " in key else bearer(key))
    r = client.request(method, path.format(id="alice"), headers=headers, json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["field"] == "authorization"
    assert "alice" not in r.text and "BTC" not in r.text
    assert ledger_state(service) == before


@pytest.mark.parametrize(("method", "path", "body"), ACCOUNT_ENDPOINTS)
@pytest.mark.parametrize("target", ["alice", "alice-hedge", "nobody", "@venue"])
def test_an_account_key_sees_only_itself_and_its_sub_accounts(
    client: TestClient,
    service: Service,
    keys: Keys,
    method: str,
    path: str,
    body: object,
    target: str,
) -> None:
    """bob's key: 403 on everything but bob, whether the account exists or not, and the body says
    nothing of the account beyond its requested id."""
    before = ledger_state(service)
    r = client.request(method, path.format(id=target), headers=bearer(keys.bob), json=body)
    assert r.status_code == 403, r.text
    assert r.json() == {
        "error": {"field": "account", "message": f"this key does not see account {target!r}"}
    }
    assert ledger_state(service) == before


def test_a_parent_key_sees_its_sub_account_but_not_the_reverse(
    client: TestClient, keys: Keys
) -> None:
    assert client.get("/v1/accounts/alice-hedge", headers=bearer(keys.alice)).status_code == 200
    assert client.get("/v1/accounts/alice", headers=bearer(keys.alice)).status_code == 200
    assert client.get("/v1/accounts/alice-hedge", headers=bearer(keys.hedge)).status_code == 200
    r = client.get("/v1/accounts/alice", headers=bearer(keys.hedge))
    assert r.status_code == 403


def test_the_account_list_holds_only_what_the_key_sees(client: TestClient, keys: Keys) -> None:
    def listed(key: str) -> list[str]:
        r = client.get("/v1/accounts", headers=bearer(key))
        assert r.status_code == 200
        return [a["account"] for a in r.json()["accounts"]]

    assert listed(keys.bob) == ["bob"]
    assert listed(keys.alice) == ["alice", "alice-hedge"]
    assert listed(keys.hedge) == ["alice-hedge"]
    assert listed(keys.operator) == ["alice", "alice-hedge", "bob"]
    assert "bob" not in client.get("/v1/accounts", headers=bearer(keys.alice)).text


def test_the_operator_sees_all_and_an_unknown_account_is_404(
    client: TestClient, keys: Keys
) -> None:
    for account in ("alice", "alice-hedge", "bob", "@venue"):
        r = client.get(f"/v1/accounts/{account}", headers=bearer(keys.operator))
        assert r.status_code == 200, r.text
        assert r.json()["account"] == account
    r = client.get("/v1/accounts/nobody", headers=bearer(keys.operator))
    assert r.status_code == 404
    assert r.json()["error"]["field"] == "account"


def test_operator_only_operations(client: TestClient, service: Service, keys: Keys) -> None:
    before = ledger_state(service)
    r = client.post("/v1/accounts", headers=bearer(keys.alice), json={"account": "mallory"})
    assert r.status_code == 403
    r = client.post(
        "/v1/accounts/alice/deposits",
        headers=bearer(keys.alice),
        json={"asset": "BTC", "amount": "1000"},
    )
    assert r.status_code == 403
    assert ledger_state(service) == before


def test_keys_are_stored_only_hashed(service: Service, keys: Keys) -> None:
    text = json.dumps(ledger_state(service), default=str)
    for key in (keys.operator, keys.alice, keys.bob):
        assert key not in text
        assert key_digest(key) in text
    principal = find_key(service.ledger, keys.alice)
    assert principal is not None
    assert (principal.account, principal.operator) == ("alice", False)
    assert find_key(service.ledger, keys.alice + "x") is None


def test_key_create_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["account", "create", "carol", "--db", db]).exit_code == 0
    r = runner.invoke(cli, ["key", "create", "carol", "--db", db])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["account"] == "carol" and out["operator"] is False
    assert out["key"].startswith("sk_") and len(out["key"]) > 40
    r = runner.invoke(cli, ["key", "create", "--operator", "--db", db])
    assert r.exit_code == 0
    op = json.loads(r.stdout)
    assert op["account"] is None and op["operator"] is True and op["key"] != out["key"]
    for argv in (
        ["key", "create", "--db", db],
        ["key", "create", "carol", "--operator", "--db", db],
        ["key", "create", "nobody", "--db", db],
        ["key", "create", "@venue", "--db", db],
    ):
        r = runner.invoke(cli, argv)
        assert r.exit_code == 2, (argv, r.output)
        assert r.stderr.startswith("solvent: error: ")


def test_rate_limit_per_key(template: tuple[Path, Keys], keys: Keys, tmp_path: Path) -> None:
    service = make_service(template, tmp_path, rate=0.001, burst=3)
    with TestClient(create_app(service)) as client:
        for _ in range(3):
            assert client.get("/v1/accounts/bob", headers=bearer(keys.bob)).status_code == 200
        r = client.get("/v1/accounts/bob", headers=bearer(keys.bob))
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["field"] == "authorization"
        # another key has its own bucket
        assert client.get("/v1/accounts/alice", headers=bearer(keys.alice)).status_code == 200


def test_body_size_limit(template: tuple[Path, Keys], keys: Keys, tmp_path: Path) -> None:
    service = make_service(template, tmp_path, max_body=1024)
    before = ledger_state(service)
    with TestClient(create_app(service)) as client:
        body = {"orders": [{"instrument": "BTC-PERPETUAL", "quantity": "1"}] * 40}
        r = client.post("/v1/accounts/alice/what-if", headers=bearer(keys.alice), json=body)
        assert r.status_code == 413
        assert r.json()["error"]["field"] == "body"

        def chunks() -> object:
            for _ in range(10):
                yield b"{" + b" " * 200

        r = client.post(
            "/v1/accounts/alice/trades",
            headers={**bearer(keys.alice), "content-type": "application/json"},
            content=chunks(),
        )
        assert r.status_code == 413
    assert ledger_state(service) == before
