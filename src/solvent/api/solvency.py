"""Proof of liabilities: ``GET /v1/solvency/header`` and ``GET /v1/accounts/{id}/proof``
(docs/formats.md 11), from the snapshot the service last published (``solvent serve
--solvency-key KEY``: at start, then every ``--solvency-every`` seconds). A client checks its
proof against the header with ``solvent solvency verify PROOF --header HEADER``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from solvent.api.auth import Caller, require_account, service_of
from solvent.api.errors import ERROR_RESPONSES, ApiError
from solvent.api.models import ACCOUNT_PATH_PATTERN
from solvent.errors import SolventInputError
from solvent.solvency.live import LiveSolvency

router = APIRouter(prefix="/v1", tags=["solvency"], responses=ERROR_RESPONSES)
_NONE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No snapshot published, or the account is not in it"}
}
AccountId = Annotated[str, Path(pattern=ACCOUNT_PATH_PATTERN, description="Account id.")]


def _live(request: Request) -> LiveSolvency:
    live = service_of(request).solvency
    if live is None or live.latest_header() is None:
        raise ApiError(
            404, "solvency", "this service publishes no proof of liabilities (--solvency-key)"
        )
    return live


@router.get("/solvency/header", responses=_NONE, summary="The latest signed solvency header")
def header(request: Request, caller: Caller) -> JSONResponse:
    """The header of the latest published snapshot (docs/formats.md 11): the Merkle sum tree's
    root with the total liabilities per asset, signed with the venue's key and chained to the
    previous header."""
    del caller  # any key: the header names no account
    head = _live(request).latest_header()
    return JSONResponse(head)


@router.get("/accounts/{account_id}/proof", responses=_NONE, summary="An account's inclusion proof")
def proof(account_id: AccountId, request: Request, caller: Caller) -> JSONResponse:
    """The account's inclusion proof in the latest published snapshot (docs/formats.md 11)."""
    service = service_of(request)
    require_account(service, caller, account_id)
    live = _live(request)
    try:
        return JSONResponse(live.proof(account_id))
    except SolventInputError:
        raise ApiError(
            404, "account", f"{account_id!r} is not in the latest published snapshot"
        ) from None
