"""``GET /v1/market``: the snapshot the service prices against, with its volatility surfaces."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from solvent.api.auth import Caller, service_of
from solvent.api.errors import ERROR_RESPONSES
from solvent.api.models import MarketOut

router = APIRouter(prefix="/v1", tags=["market"], responses=ERROR_RESPONSES)


@router.get("/market", response_model=MarketOut, summary="Market snapshot and vol surfaces")
def market(request: Request, caller: Caller) -> JSONResponse:
    """Index prices (USD), every instrument's mark and greeks (as ``solvent price``) and each
    underlying's implied-volatility surface on a log-moneyness grid (docs/api.md)."""
    del caller  # any key sees the market
    return JSONResponse(service_of(request).market_view())
