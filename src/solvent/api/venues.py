"""``/v1/portfolio``: a portfolio held across venues and chains, margined as one, and the
cross-venue what-if (docs/cross-venue.md, docs/formats.md 13).

Each endpoint is the CLI command of the same name over HTTP: the body is the file the command
reads (a docs/formats.md 2 portfolio or book, with positions' ``venue`` and ``external``
holdings), parsed by the same loader, margined by the same engine function against the service's
market and location set (``solvent serve --locations``), rendered by the same view. Nothing is
stored; any key may ask. Models run with their default parameter set (a file named in a query
would let a caller read the server's files).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from solvent.api.auth import Caller, service_of
from solvent.api.errors import ERROR_RESPONSES
from solvent.engine.cross_venue import cross_venue_book, cross_venue_json
from solvent.engine.margin import margin_accounts
from solvent.engine.views import margin_json
from solvent.margin.protocol import Detail
from solvent.portfolio.account_book import parse_account_book
from solvent.portfolio.portfolio import parse_portfolio_or_book

router = APIRouter(prefix="/v1/portfolio", tags=["venues"], responses=ERROR_RESPONSES)

PortfolioBody = Annotated[
    dict[str, Any],
    Body(description="A portfolio or a book (docs/formats.md 2 and 13)."),
]
ModelQuery = Annotated[str, Query(max_length=64, description="Margin model name.")]


@router.post("/margin", summary="Margin of a portfolio across venues and chains")
def portfolio_margin(
    request: Request,
    caller: Caller,
    body: PortfolioBody,
    model: ModelQuery = "standard",
    explain: bool = False,
) -> JSONResponse:
    """As ``solvent margin``: docs/formats.md 3, with each account's ``external`` holdings."""
    del caller  # computes on the request's own data: any key may ask
    service = service_of(request)
    accounts, is_book = parse_account_book(body)
    detail = Detail.EXPLAIN if explain else Detail.ACCOUNTS
    run = margin_accounts(
        accounts, service.market, model, detail=detail, locations=service.locations
    )
    return JSONResponse(margin_json(run, explain, is_book=is_book))


@router.post("/cross-venue", summary="Margin per venue alone against the netted portfolio")
def portfolio_cross_venue(
    request: Request,
    caller: Caller,
    body: PortfolioBody,
    model: ModelQuery = "standard",
) -> JSONResponse:
    """As ``solvent cross-venue``: the capital netting saves, explained per position."""
    del caller
    service = service_of(request)
    portfolios, is_book = parse_portfolio_or_book(body)
    results = cross_venue_book(portfolios, service.market, model, locations=service.locations)
    views = [cross_venue_json(r) for r in results]
    return JSONResponse({"accounts": views} if is_book else views[0])
