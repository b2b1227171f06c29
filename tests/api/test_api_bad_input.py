"""Bad input is 422 naming the field, and changes nothing: malformed JSON, unknown instruments,
NaN, negative or over-precise amounts, huge arrays, wrong types, unknown fields."""

from __future__ import annotations

import pytest
from apitest import Keys, bearer, ledger_state
from fastapi.testclient import TestClient

from solvent.api.state import MAX_ORDERS, Service

TRADE = {"instrument": "BTC-PERPETUAL", "quantity": "0.1", "price": "100000"}
ORDER = {"instrument": "BTC-PERPETUAL", "quantity": "1"}

# (endpoint under /v1/accounts/alice, body, field named)
CASES = [
    ("deposits", {"asset": "BTC", "amount": "NaN"}, "amount"),
    ("deposits", {"asset": "BTC", "amount": "-1"}, "amount"),
    ("deposits", {"asset": "BTC", "amount": "0"}, "amount"),
    ("deposits", {"asset": "BTC", "amount": "0.000000001"}, "amount"),  # 9 decimals > 8
    ("deposits", {"asset": "BTC", "amount": "1e3"}, "amount"),
    ("deposits", {"asset": "BTC", "amount": "Infinity"}, "amount"),
    ("deposits", {"asset": "BTC", "amount": 1.5}, "amount"),  # money is a decimal string
    ("deposits", {"asset": "BTC", "amount": "9" * 80}, "amount"),
    ("deposits", {"asset": "NOPE", "amount": "1"}, "asset"),
    ("deposits", {"asset": "BTC"}, "amount"),
    ("deposits", {"asset": "BTC", "amount": "1", "extra": 1}, "extra"),
    ("deposits", {"asset": "BTC", "amount": "1", "ref": "bad ref!"}, "ref"),
    ("deposits", {"asset": "BTC", "amount": "1", "ref": "x" * 200}, "ref"),
    ("withdrawals", {"asset": "USDC", "amount": "0.0000001"}, "amount"),
    ("withdrawals", {"asset": "USDC", "amount": "-5"}, "amount"),
    ("trades", {**TRADE, "instrument": "BTC-32FOO26"}, "instrument"),
    ("trades", {**TRADE, "quantity": "nan"}, "quantity"),
    ("trades", {**TRADE, "price": "-100000"}, "price"),
    ("trades", {**TRADE, "price": "0"}, "price"),
    ("trades", {**TRADE, "fee": "-0.1"}, "fee"),
    ("trades", {**TRADE, "fee": "0.000000001"}, "fee"),
    ("trades", {**TRADE, "quantity": 0.1}, "quantity"),
    ("trades", {**TRADE, "instrument": "x" * 500}, "instrument"),
    ("trades", {**TRADE, "instrument": "BTC"}, "instrument"),  # spot is not a position
    ("what-if", {"orders": []}, "orders"),
    ("what-if", {"orders": [ORDER] * (MAX_ORDERS + 1)}, "orders"),
    (
        "what-if",
        {"orders": [ORDER, {"instrument": "NOPE", "quantity": "1"}]},
        "orders[1].instrument",
    ),
    (
        "what-if",
        {"orders": [ORDER, {"instrument": "BTC-PERPETUAL", "quantity": "NaN"}]},
        "orders[1].quantity",
    ),
    (
        "what-if",
        {"orders": [{"instrument": "BTC-PERPETUAL", "quantity": "0"}]},
        "orders[0].quantity",
    ),
    ("what-if", {"orders": [{"instrument": "BTC-PERPETUAL"}]}, "orders[0].quantity"),
    ("what-if", {"orders": "BTC-PERPETUAL"}, "orders"),
    ("what-if", [ORDER], "body"),
]


@pytest.mark.parametrize(("endpoint", "body", "field"), CASES)
def test_bad_body_is_422_naming_the_field(
    client: TestClient, service: Service, keys: Keys, endpoint: str, body: object, field: str
) -> None:
    before = ledger_state(service)
    r = client.post(f"/v1/accounts/alice/{endpoint}", headers=bearer(keys.operator), json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == field, r.text
    assert error["message"]
    assert ledger_state(service) == before


RAW = [
    (b'{"asset": "BTC", "amount": "1"', "body"),  # truncated
    (b'{"asset": "BTC", "amount": NaN}', "amount"),  # NaN is not JSON; never a number here
    (b'{"asset": "BTC", "asset": "ETH", "amount": "1"}', "body"),  # duplicate key
    (b"[" * 10_000 + b"]" * 10_000, "body"),  # nesting that would overflow the parser
    (b"\xff\xfe not utf-8", "body"),
    (b"", "body"),
]


@pytest.mark.parametrize(("raw", "field"), RAW)
def test_malformed_json_is_422(
    client: TestClient, service: Service, keys: Keys, raw: bytes, field: str
) -> None:
    before = ledger_state(service)
    r = client.post(
        "/v1/accounts/alice/deposits",
        headers={**bearer(keys.operator), "content-type": "application/json"},
        content=raw,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field, r.text
    assert ledger_state(service) == before


@pytest.mark.parametrize(
    "path", ["/v1/accounts/bad%20id", "/v1/accounts/" + "a" * 200, "/v1/accounts/-x"]
)
def test_bad_account_ids_in_paths_are_422(client: TestClient, keys: Keys, path: str) -> None:
    r = client.get(path, headers=bearer(keys.operator))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "account_id"


@pytest.mark.parametrize(
    "path", ["/v1/accounts/alice?explain=true", "/v1/accounts/alice/margin?explian=true"]
)
def test_unknown_query_parameters_are_422(client: TestClient, keys: Keys, path: str) -> None:
    r = client.get(path, headers=bearer(keys.alice))
    assert r.status_code == 422
    assert r.json()["error"]["field"] in ("explain", "explian")
