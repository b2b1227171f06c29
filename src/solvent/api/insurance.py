"""``GET /v1/insurance-fund``: the insurance fund's balances, value and history (docs/api.md).

The body is :func:`solvent.engine.insurance_fund.insurance_fund_json` (exact decimal strings per
asset, every fee inflow and deficit outflow) plus ``value_usd`` (the fund valued at the service's
market, USD, at the index with no haircut) and ``history``: ``{"time", "value_usd"}`` after each
event, the balances of that moment valued at today's prices (so the curve shows the flows, not
price moves). An account key sees the fund and every flow, but an event's ``account`` only when
it is one of its own (others read ``null``); the operator sees all.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from solvent.api.auth import Caller, event_audience, service_of
from solvent.api.errors import ERROR_RESPONSES
from solvent.engine.insurance_fund import insurance_fund_json
from solvent.errors import SolventInputError
from solvent.liquidation.fund_history import insurance_fund_history
from solvent.market.snapshot import MarketSnapshot

router = APIRouter(prefix="/v1", tags=["insurance fund"], responses=ERROR_RESPONSES)

MAX_EVENTS = 10_000
"""The most events one response carries (the newest ones)."""


def _value_usd(balances: dict[str, str], market: MarketSnapshot) -> float:
    """USD value of decimal-string ``balances`` at the index; an asset the market cannot price
    counts 0."""
    total = 0.0
    for asset, amount in balances.items():
        try:
            total += float(Decimal(amount)) * market.price_usd(asset)
        except SolventInputError:
            continue
    return total


@router.get("/insurance-fund", summary="The insurance fund: balances, value and history")
def insurance_fund(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS, description="Newest events to return.")] = (
        1_000
    ),
) -> JSONResponse:
    """The fund's balances now (decimal strings per asset), fees in and deficits covered, its
    events oldest first (the newest ``limit``), its USD value and the value after each event."""
    service = service_of(request)
    body: dict[str, Any] = insurance_fund_json(
        insurance_fund_history(service.ledger, limit=limit), service.ledger.assets
    )
    market = service.market
    audience = event_audience(service, caller)
    held: dict[str, str] = {}
    history = []
    for event in body["events"]:
        held[event["asset"]] = event["balance"]
        history.append({"time": event["time"], "value_usd": _value_usd(held, market)})
        if audience is not None and event["account"] not in audience:
            event["account"] = None
    body["value_usd"] = _value_usd(body["balances"], market)
    body["history"] = history
    return JSONResponse(body)
