"""``GET /v1/insurance-fund``: the fund's exact balances, flows and USD value; an account key sees
every flow but only its own accounts' names on them."""

from __future__ import annotations

from apitest import Keys, bearer
from fastapi.testclient import TestClient

from solvent.api.state import Service
from solvent.ledger.liquidations import claim_step, complete_step, step_reference
from solvent.ledger.model import Reason, transfer

BTC_USD = 100_000.0  # the index of apitest.MARKET


def _fund_flows(service: Service) -> None:
    """A 1,000 USDC deposit into the fund, then a 0.01 BTC liquidation fee paid by bob."""
    service.accounts.deposit("@insurance", "USDC", "1000")
    step = "run1:000001"  # booked as solvent.liquidation.booking books a liquidation fee
    with service.ledger.transaction() as tx:
        claim_step(tx, step, "run1", 1, "fee", "bob", "bob")
        operation = tx.post(
            transfer(
                "bob", "@insurance", "BTC", 1_000_000, Reason.LIQUIDATION, step_reference(step)
            )
        )
        complete_step(tx, step, operation)


def test_balances_flows_value_and_history(client: TestClient, service: Service, keys: Keys) -> None:
    _fund_flows(service)
    r = client.get("/v1/insurance-fund", headers=bearer(keys.operator))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["balances"] == {"BTC": "0.01", "USDC": "1000"}
    assert body["fees_in"] == {"BTC": "0.01"}
    assert [(e["kind"], e["asset"], e["account"]) for e in body["events"]] == [
        ("deposit", "USDC", None),
        ("fee", "BTC", "bob"),
    ]
    assert body["value_usd"] == 1_000.0 + 0.01 * BTC_USD
    assert [h["value_usd"] for h in body["history"]] == [1_000.0, body["value_usd"]]


def test_an_account_key_sees_the_flows_but_not_other_accounts_names(
    client: TestClient, service: Service, keys: Keys
) -> None:
    _fund_flows(service)
    seen = {
        key: [
            e["account"]
            for e in client.get("/v1/insurance-fund", headers=bearer(key)).json()["events"]
        ]
        for key in (keys.alice, keys.bob)
    }
    assert seen[keys.bob][1] == "bob"
    assert seen[keys.alice][1] is None
    assert client.get("/v1/insurance-fund").status_code == 401
    assert client.get("/v1/insurance-fund?limit=0", headers=bearer(keys.bob)).status_code == 422
