"""``GET /v1/accounts`` reads the ledger once and margins the whole page in one call per model:
its rows are what ``account show`` says of each account (the listing's former per-account
implementation, kept here as the reference), on a venue book of every kind of account under
several models, some of them in margin call, liquidation or bankrupt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from solvent.api.account_list import account_rows
from solvent.api.app import create_app
from solvent.api.keys import create_key
from solvent.api.state import Service, ServiceConfig
from solvent.engine.demo import demo_market
from solvent.engine.venue_book import generate_venue_book
from solvent.engine.views import health_json
from solvent.ledger import schema
from solvent.ledger.model import AccountKind
from solvent.market.moves import move_underlyings
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.seed import seed_ledger

MODELS = ("standard", "deribit-pm", "derive-pm", "span")


def _shown(service: Service, market: MarketSnapshot) -> list[dict[str, Any]]:
    """The listing as it was: ``AccountService.show`` account by account."""
    with service.ledger.engine.connect() as conn:
        ids = sorted(
            conn.execute(
                schema.accounts.select().where(schema.accounts.c.kind == AccountKind.USER.value)
            ).scalars()
        )
    rows = []
    for account in ids:
        view = service.accounts.show(account, market)
        rows.append(
            {
                "account": account,
                "parent": view.account.parent,
                "mode": None if view.account.mode is None else view.account.mode.value,
                "model": view.account.model,
                "margin_unit": list(view.unit),
                **health_json(view.health),
            }
        )
    return rows


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> tuple[Service, MarketSnapshot]:
    """A 60-account venue book on a ledger, its families spread over four models, and the
    market 12 % lower (a spread of health states)."""
    market = demo_market()
    book = generate_venue_book(market, 60, seed=5)
    url = f"sqlite:///{tmp_path_factory.mktemp('list') / 'venue.db'}"
    service = Service(ServiceConfig(db=url), market)
    seed_ledger(service.ledger, book.accounts, market, "standard")
    with service.ledger.engine.begin() as conn:
        for k, account in enumerate(book.accounts.accounts):
            conn.execute(
                update(schema.accounts)
                .where(schema.accounts.c.id == account)
                .values(model=MODELS[k % len(MODELS)])
            )
    moved = move_underlyings(
        market, {a: 0.88 * p for a, p in market.index.items() if a in ("BTC", "ETH")}
    )
    return service, moved


def test_the_listing_is_what_show_says_of_every_account(
    venue: tuple[Service, MarketSnapshot],
) -> None:
    service, market = venue
    listed = account_rows(service.ledger, market)
    shown = _shown(service, market)
    assert [r["account"] for r in listed] == [r["account"] for r in shown]
    assert {r["state"] for r in listed} >= {"healthy", "liquidation"}
    assert {r["model"] for r in listed} == set(MODELS)
    assert any(r["mode"] == "cross" for r in listed) and any(
        r["mode"] == "isolated" for r in listed
    )
    for new, old in zip(listed, shown, strict=True):
        assert new.keys() == old.keys()
        for key, value in old.items():
            if isinstance(value, float):
                assert new[key] == pytest.approx(value, rel=1e-9, abs=1e-6), (old["account"], key)
            else:
                assert new[key] == value, (old["account"], key)


def test_the_endpoint_serves_the_listing(
    venue: tuple[Service, MarketSnapshot], tmp_path: Path
) -> None:
    service, market = venue
    key = create_key(service.ledger, None).key
    service.set_market(market)
    with TestClient(create_app(service)) as client:
        body = client.get("/v1/accounts", headers={"Authorization": f"Bearer {key}"}).json()
    listed = account_rows(service.ledger, market)
    assert [r["account"] for r in body["accounts"]] == [r["account"] for r in listed]
    assert [r["state"] for r in body["accounts"]] == [r["state"] for r in listed]
    assert sum(body["states"].values()) == len(listed)
    users = [r["account"] for r in listed if r["parent"] is None]
    account_key = create_key(service.ledger, users[0]).key
    with TestClient(create_app(service)) as client:
        own = client.get("/v1/accounts", headers={"Authorization": f"Bearer {account_key}"})
    assert {r["account"] for r in own.json()["accounts"]} <= {
        r["account"] for r in listed if users[0] in (r["account"], r["parent"])
    }
