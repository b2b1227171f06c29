"""``GET /v1/events`` and their forwarding on ``/v1/stream``: the real-time engine's persisted
events, each key seeing its own margin unit's and the venue-wide ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from apitest import Keys, bearer, make_service
from fastapi.testclient import TestClient

from solvent.api.app import create_app
from solvent.api.state import Service
from solvent.ledger import schema


def _write_events(service: Service, *rows: tuple[int, str, str | None]) -> None:
    """Events as the engine persists them (stream ``default``)."""
    with service.ledger.transaction() as tx:
        for seq, kind, account in rows:
            tx.connection.execute(
                schema.realtime_events.insert().values(
                    stream="default",
                    seq=seq,
                    tick=seq,
                    time=datetime(2026, 1, 5, 8, 0, seq, tzinfo=UTC),
                    kind=kind,
                    account=account,
                    detail=json.dumps({"state": "liquidation"} if kind == "liquidation" else {}),
                )
            )


def test_events_since_and_visibility(client: TestClient, service: Service, keys: Keys) -> None:
    _write_events(
        service,
        (1, "health", "alice"),
        (2, "liquidation", "bob"),
        (3, "multiplier", None),
        (4, "margin_call", "alice"),
    )

    def seen(key: str, since: int = 0) -> tuple[list[int], int]:
        r = client.get(f"/v1/events?since={since}", headers=bearer(key))
        assert r.status_code == 200, r.text
        return [e["seq"] for e in r.json()["events"]], r.json()["next"]

    assert seen(keys.operator) == ([1, 2, 3, 4], 4)
    assert seen(keys.bob) == ([2, 3], 4)
    assert seen(keys.alice) == ([1, 3, 4], 4)
    assert seen(keys.hedge) == ([1, 3, 4], 4)  # a cross sub-account: its unit is alice's
    assert seen(keys.operator, since=2) == ([3, 4], 4)
    assert seen(keys.operator, since=4) == ([], 4)
    event = client.get("/v1/events?limit=2", headers=bearer(keys.operator)).json()
    assert event["next"] == 2
    assert event["events"][1] == {
        "seq": 2,
        "tick": 2,
        "time": "2026-01-05T08:00:02Z",
        "kind": "liquidation",
        "account": "bob",
        "detail": {"state": "liquidation"},
    }
    r = client.get("/v1/events?since=-1", headers=bearer(keys.operator))
    assert r.status_code == 422 and r.json()["error"]["field"] == "since"


def test_new_events_are_pushed_on_the_stream(
    template: tuple[Path, Keys], keys: Keys, tmp_path: Path
) -> None:
    service = make_service(template, tmp_path, event_poll=0.05)
    _write_events(service, (1, "health", "bob"))  # before the start: not pushed again
    with (
        TestClient(create_app(service)) as client,
        client.websocket_connect("/v1/stream", headers=bearer(keys.bob)) as ws,
    ):
        assert ws.receive_json()["type"] == "hello"
        _write_events(service, (2, "liquidation", "alice"), (3, "liquidation", "bob"))
        event = ws.receive_json()
        assert (event["type"], event["seq"], event["account"]) == ("liquidation", 3, "bob")
