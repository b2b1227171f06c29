"""Proof of liabilities over the API: the header and each account's proof from the snapshot the
service published, verified by the standalone verifier; only the account's own keys get its
proof."""

from __future__ import annotations

from pathlib import Path

from apitest import Keys, bearer, make_service
from fastapi.testclient import TestClient

from solvent.api.app import create_app
from solvent.solvency.keys import create_key
from solvent.solvency.verifier import verify_proof


def test_header_and_proofs_verify(template: tuple[Path, Keys], keys: Keys, tmp_path: Path) -> None:
    create_key(tmp_path / "venue.key")
    service = make_service(template, tmp_path, solvency_key=tmp_path / "venue.key")
    with TestClient(create_app(service)) as client:
        r = client.get("/v1/solvency/header", headers=bearer(keys.bob))
        assert r.status_code == 200, r.text
        header = r.json()
        assert header["version"] == 1 and header["root"]["hash"]
        r = client.get("/v1/accounts/bob/proof", headers=bearer(keys.bob))
        assert r.status_code == 200, r.text
        verdict = verify_proof(r.json(), header)
        assert verdict.valid, verdict.reason
        assert verdict.account == "bob" and verdict.balances == {"BTC": 100_000_000, "USDC": 0}
        assert client.get("/v1/accounts/alice/proof", headers=bearer(keys.bob)).status_code == 403
        r = client.get("/v1/accounts/alice-hedge/proof", headers=bearer(keys.alice))
        assert r.status_code == 200 and verify_proof(r.json(), header).valid
        r = client.get("/v1/accounts/@venue/proof", headers=bearer(keys.operator))
        assert r.status_code == 404  # the venue's own capital is no liability


def test_without_a_key_there_is_no_snapshot(client: TestClient, keys: Keys) -> None:
    r = client.get("/v1/solvency/header", headers=bearer(keys.bob))
    assert r.status_code == 404 and r.json()["error"]["field"] == "solvency"
    assert client.get("/v1/solvency/header").status_code == 401
