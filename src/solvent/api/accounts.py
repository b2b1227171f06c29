"""``/v1/accounts``: accounts, money and what-if (docs/formats.md 9 and 12).

Each endpoint is the CLI command of the same name over HTTP: it calls the same
:class:`~solvent.accounts.service.AccountService` method on the service's ledger and market and
renders with the same view of :mod:`solvent.engine.views`. Writes publish the margin unit's new
health on ``/v1/stream``. Deposits credit money the venue received outside the ledger, so they
need the operator key; withdrawals, trades and what-ifs are open to the account's own key.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from solvent.accounts.health import Health, HealthState
from solvent.accounts.service import Order
from solvent.api.account_list import account_rows
from solvent.api.auth import (
    Caller,
    require_account,
    require_account_async,
    require_operator,
    service_of,
    visible_accounts,
)
from solvent.api.errors import ERROR_RESPONSES
from solvent.api.models import (
    ACCOUNT_PATH_PATTERN,
    AccountList,
    AccountOut,
    CheckOut,
    CreateAccount,
    CreatedAccount,
    MarginOut,
    Trade,
    TradeOut,
    Transfer,
    TransferOut,
    WhatIf,
)
from solvent.api.state import Service, StreamEvent
from solvent.collateral.assets import parse_decimal
from solvent.engine.account_view import account_show_json, liquidation_distance
from solvent.engine.liquidation_price import account_liquidation_prices
from solvent.engine.margin import margin_portfolios
from solvent.engine.views import check_json, health_json, margin_json, trade_json, transfer_json
from solvent.errors import SolventInputError
from solvent.ledger.model import AccountKind
from solvent.margin.registry import model_names
from solvent.portfolio.portfolio import SubAccountMode

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], responses=ERROR_RESPONSES)
AccountId = Annotated[str, Path(pattern=ACCOUNT_PATH_PATTERN, description="Account id.")]
MAX_RISKIEST = 50
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown account (operator)"}}


def _health_event(service: Service, account: str, unit: list[str], health: Health) -> None:
    service.publish(
        StreamEvent(
            {"type": "health", "account": account, "margin_unit": unit, **health_json(health)},
            frozenset(unit),
        )
    )


def _unit(service: Service, account: str) -> list[str]:
    with service.ledger.transaction() as tx:
        return [r.id for r in service.accounts.unit_of(tx, tx.account(account))]


def _ref_error(exc: SolventInputError) -> SolventInputError:
    """A ``ref`` refusal without the other request it names (it may be another account's)."""
    if exc.field == "ref" and "already used" in exc.message:
        return SolventInputError("ref", "already used for a different request")
    return exc


@router.get("", response_model=AccountList, summary="Accounts this key sees, with health")
def list_accounts(
    request: Request,
    caller: Caller,
    riskiest: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_RISKIEST,
            description="Add the liquidation distance of this many margin units with the "
            "highest margin ratio.",
        ),
    ] = 0,
) -> JSONResponse:
    """Every account the key sees (the operator: every user account), each with its margin
    unit's health, and the number of accounts per health state. Accounts in order of id. With
    ``riskiest=N``, the N margin units with the highest margin ratio (no ratio, i.e. equity <= 0,
    first) also get ``liquidation_distance``: the smallest relative move of an underlying, either
    way, that takes the unit to its maintenance margin (null when there is none)."""
    service = service_of(request)
    visible = visible_accounts(service, caller)
    market = service.market
    rows = [
        row
        for row in account_rows(service.ledger, market)
        if visible is None or row["account"] in visible
    ]
    for row in _riskiest_units(rows, riskiest):
        prices = account_liquidation_prices(service.accounts, row["account"], market)
        distance = liquidation_distance(prices)
        for member in rows:
            if member["margin_unit"] == row["margin_unit"]:
                member["liquidation_distance"] = distance
    states = Counter(row["state"] for row in rows)
    return JSONResponse(
        {"accounts": rows, "states": {s.value: states.get(s.value, 0) for s in HealthState}}
    )


def _riskiest_units(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The first row of each of the ``n`` riskiest margin units (highest margin ratio; no ratio,
    equity <= 0, first)."""
    units: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        units.setdefault(tuple(row["margin_unit"]), row)
    ranked = sorted(
        units.values(),
        key=lambda r: (r["margin_ratio"] is not None, -(r["margin_ratio"] or 0.0), r["account"]),
    )
    return ranked[:n]


@router.post(
    "",
    status_code=201,
    response_model=CreatedAccount,
    summary="Create an account (operator)",
)
def create_account(body: CreateAccount, request: Request, caller: Caller) -> JSONResponse:
    """As ``solvent account create``: an account, or a ``cross``/``isolated`` sub-account of
    ``parent`` (``mode`` required with ``parent``)."""
    require_operator(caller)
    service = service_of(request)
    mode = None if body.mode is None else SubAccountMode(body.mode)
    try:
        record = service.create_account(
            body.account, parent=body.parent, mode=mode, model=body.model
        )
    except SolventInputError as exc:
        if exc.field == "id":  # the CLI's ID argument is the body's ``account``
            raise SolventInputError("account", exc.message) from None
        raise
    return JSONResponse(
        {
            "account": record.id,
            "parent": record.parent,
            "mode": None if record.mode is None else record.mode.value,
            "model": record.model,
        },
        status_code=201,
    )


@router.get(
    "/{account_id}", response_model=AccountOut, responses=_NOT_FOUND, summary="Show an account"
)
def show_account(account_id: AccountId, request: Request, caller: Caller) -> JSONResponse:
    """As ``solvent account show``: balances, positions, the margin unit's health and its
    liquidation prices on every underlying it holds."""
    service = service_of(request)
    require_account(service, caller, account_id)
    return JSONResponse(account_show_json(service.accounts, account_id, service.market))


@router.get(
    "/{account_id}/margin",
    response_model=MarginOut,
    responses=_NOT_FOUND,
    summary="Margin of the account's unit under any model",
)
def margin(
    account_id: AccountId,
    request: Request,
    caller: Caller,
    model: Annotated[
        str | None,
        Query(max_length=32, description="Margin model (default: the account's own)."),
    ] = None,
    explain: Annotated[
        bool, Query(description="Add every scenario's P&L and each position's contribution.")
    ] = False,
) -> JSONResponse:
    """As ``solvent margin`` (docs/formats.md 3) on the account's margin unit (its members'
    balances pooled, positions netted, the ledger's average prices as entry prices), under
    ``model`` with its default parameters."""
    service = service_of(request)
    require_account(service, caller, account_id)
    market = service.market
    unit, own_model = service.accounts.portfolio(account_id, market)
    chosen = own_model if model is None else model
    if chosen not in model_names():
        raise SolventInputError(
            "model", f"unknown model {chosen!r} (known: {', '.join(model_names())})"
        )
    run = margin_portfolios([unit], market, chosen, explain=explain)
    return JSONResponse(margin_json(run, explain, is_book=False))


@router.post(
    "/{account_id}/what-if",
    response_model=CheckOut,
    responses=_NOT_FOUND,
    summary="Pre-trade check (changes nothing)",
)
async def what_if(
    account_id: AccountId, body: WhatIf, request: Request, caller: Caller
) -> JSONResponse:
    """As ``solvent account check``: the unit's figures as they would be after the orders
    (filled at the mark, no fee), and whether it stays at or above initial margin. With the
    real-time engine (``serve --feed``): answered from its prepared state of the last tick, with
    the dynamic multiplier in force (:meth:`RealtimeEngine.what_if`)."""
    service = service_of(request)
    await require_account_async(service, caller, account_id)
    orders = [
        Order(o.instrument, parse_decimal(o.quantity, f"orders[{i}].quantity"))
        for i, o in enumerate(body.orders)
    ]
    engine = service.engine
    try:
        if engine is not None:
            result = engine.what_if(account_id, orders)
        else:
            result = await run_in_threadpool(service.what_if, account_id, orders)
    except SolventInputError as exc:
        raise _order_field(exc) from None
    return JSONResponse(check_json(result))


def _order_field(exc: SolventInputError) -> SolventInputError:
    """The service names orders ``order[i]`` (the CLI's ``--order``); the body calls them
    ``orders[i]``."""
    if exc.field.startswith("order["):
        return SolventInputError("orders" + exc.field[len("order") :], exc.message)
    if exc.field == "order":
        return SolventInputError("orders", exc.message)
    return exc


@router.post(
    "/{account_id}/deposits",
    status_code=201,
    response_model=TransferOut,
    responses=_NOT_FOUND,
    summary="Deposit (operator)",
)
def deposit(
    account_id: AccountId, body: Transfer, request: Request, caller: Caller
) -> JSONResponse:
    """As ``solvent account deposit``: credit ``amount`` of ``asset`` received outside the
    ledger (the operator's key only)."""
    require_operator(caller)
    service = service_of(request)
    record = require_account(service, caller, account_id)
    try:
        receipt = service.deposit(record, body.asset, body.amount, ref=body.ref)
    except SolventInputError as exc:
        raise _ref_error(exc) from None
    balance = _balance(service, account_id, body.asset)
    if record.kind is AccountKind.USER and not receipt.replayed:
        view = service.accounts.show(account_id, service.market)
        _health_event(service, account_id, list(view.unit), view.health)
    return JSONResponse(
        transfer_json(account_id, body.asset, body.amount, receipt, balance, ref=body.ref),
        status_code=201,
    )


@router.post(
    "/{account_id}/withdrawals",
    status_code=201,
    response_model=TransferOut,
    responses=_NOT_FOUND,
    summary="Withdraw",
)
def withdraw(
    account_id: AccountId, body: Transfer, request: Request, caller: Caller
) -> JSONResponse:
    """As ``solvent account withdraw``: refused beyond the balance, below initial margin, or with
    a market older than the service's limit (503)."""
    service = service_of(request)
    record = require_account(service, caller, account_id)
    try:
        receipt, health = service.withdraw(record, body.asset, body.amount, ref=body.ref)
    except SolventInputError as exc:
        raise _ref_error(exc) from None
    balance = _balance(service, account_id, body.asset)
    if not receipt.replayed and record.kind is AccountKind.USER:
        _health_event(service, account_id, _unit(service, account_id), health)
    return JSONResponse(
        transfer_json(
            account_id, body.asset, body.amount, receipt, balance, health=health, ref=body.ref
        ),
        status_code=201,
    )


@router.post(
    "/{account_id}/trades",
    status_code=201,
    response_model=TradeOut,
    responses=_NOT_FOUND,
    summary="Book a fill",
)
def trade(account_id: AccountId, body: Trade, request: Request, caller: Caller) -> JSONResponse:
    """As ``solvent account trade``: refused outside the price band around the mark, below
    initial margin, when the account or the venue cannot pay what the fill settles, or with a
    market older than the service's limit (503)."""
    service = service_of(request)
    record = require_account(service, caller, account_id)
    try:
        booked, health = service.trade(
            record, body.instrument, body.quantity, body.price, body.fee, ref=body.ref
        )
    except SolventInputError as exc:
        raise _ref_error(exc) from None
    if not booked.replayed:
        _health_event(service, account_id, _unit(service, account_id), health)
    return JSONResponse(
        trade_json(
            account_id,
            body.instrument,
            float(Decimal(body.quantity)),
            float(Decimal(body.price)),
            booked,
            service.ledger.assets,
            health,
            ref=body.ref,
        ),
        status_code=201,
    )


def _balance(service: Service, account: str, asset: str) -> str:
    units = service.ledger.balances(account).get(asset, 0)
    return service.ledger.assets.get(asset).format(units)
