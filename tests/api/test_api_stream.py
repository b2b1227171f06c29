"""``/v1/stream``: authentication by header or first message, health events after writes, and
each key sees only the events of the accounts it sees."""

from __future__ import annotations

import pytest
from apitest import Keys, bearer
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

TRADE = {"instrument": "BTC-PERPETUAL", "quantity": "0.5", "price": "100000"}


def test_header_or_first_message_authenticates(client: TestClient, keys: Keys) -> None:
    with client.websocket_connect("/v1/stream", headers=bearer(keys.bob)) as ws:
        assert ws.receive_json() == {"type": "hello", "account": "bob", "operator": False}
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"type": "auth", "key": keys.operator})
        assert ws.receive_json() == {"type": "hello", "account": None, "operator": True}


@pytest.mark.parametrize("first", [{"type": "auth", "key": "sk_nope"}, {"type": "hi"}, "junk"])
def test_a_bad_key_is_refused_and_closed(client: TestClient, first: object) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        if isinstance(first, str):
            ws.send_text(first)
        else:
            ws.send_json(first)
        message = ws.receive_json()
        assert message["type"] == "error" and message["error"]["field"] == "authorization"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401


def test_health_events_reach_only_the_keys_that_see_the_account(
    client: TestClient, keys: Keys
) -> None:
    with (
        client.websocket_connect("/v1/stream", headers=bearer(keys.bob)) as bob,
        client.websocket_connect("/v1/stream", headers=bearer(keys.alice)) as alice,
        client.websocket_connect("/v1/stream", headers=bearer(keys.operator)) as operator,
    ):
        for ws in (bob, alice, operator):
            assert ws.receive_json()["type"] == "hello"
        r = client.post("/v1/accounts/alice-hedge/trades", headers=bearer(keys.alice), json=TRADE)
        assert r.status_code == 201
        trade = r.json()
        for ws in (alice, operator):
            event = ws.receive_json()
            assert event["type"] == "health" and event["account"] == "alice-hedge"
            assert event["margin_unit"] == ["alice", "alice-hedge"]
            assert event["initial_margin_usd"] == trade["initial_margin_usd"]
        r = client.post("/v1/accounts/bob/trades", headers=bearer(keys.bob), json=TRADE)
        assert r.status_code == 201
        # bob's first event is his own: alice's never reached him
        event = bob.receive_json()
        assert event["account"] == "bob" and event["margin_unit"] == ["bob"]
        assert operator.receive_json()["account"] == "bob"
