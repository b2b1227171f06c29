"""Authentication and visibility.

Every endpoint but the dashboard page and the schema needs ``Authorization: Bearer KEY``: no key,
another scheme or an unknown key is 401 (with ``WWW-Authenticate: Bearer``). A known key spends a
token of its rate limit (429 when empty). An account key sees its own account and that account's
sub-accounts; any other account id, whether it exists or not, is 403 with only the requested id
echoed, so a key learns nothing of accounts it does not see (not even that they exist). The
operator key sees every account; for it an unknown account is 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from solvent.api.errors import ApiError
from solvent.api.keys import Principal
from solvent.api.state import Service
from solvent.errors import SolventInputError
from solvent.ledger.store import AccountRecord
from solvent.portfolio.portfolio import SubAccountMode

_BEARER = HTTPBearer(
    auto_error=False,
    description="An API key from `solvent key create` (docs/api.md).",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def service_of_app(app: Any) -> Service:
    """The :class:`Service` ``app`` (the FastAPI application) serves."""
    service: Service = app.state.service
    return service


def service_of(request: Request) -> Service:
    """The :class:`Service` the application of ``request`` serves."""
    return service_of_app(request.app)


def authenticate(service: Service, key: str | None) -> Principal:
    """The principal of ``key`` (401 when missing or unknown); spends one rate-limit token."""
    if not key:
        raise ApiError(
            401, "authorization", "missing API key (Authorization: Bearer KEY)", _CHALLENGE
        )
    principal = service.keys.find(key)
    if principal is None:
        raise ApiError(401, "authorization", "unknown API key", _CHALLENGE)
    service.limiter.take(principal.key_id)
    return principal


async def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Principal:
    service = service_of(request)
    key = None if credentials is None else credentials.credentials
    if key and service.keys.known(key):  # no database read: answered on the event loop
        return authenticate(service, key)
    return await run_in_threadpool(authenticate, service, key)


Caller = Annotated[Principal, Depends(_principal)]
"""The authenticated principal of a request (a FastAPI dependency)."""


def visible_accounts(service: Service, principal: Principal) -> frozenset[str] | None:
    """The account ids ``principal`` sees: ``None`` (all) for the operator, else its account and
    that account's sub-accounts."""
    if principal.operator or principal.account is None:
        return None
    record = service.directory.account(principal.account)
    if record.parent is not None:
        return frozenset({record.id})
    return service.directory.family(record.id)


def event_audience(service: Service, principal: Principal) -> frozenset[str] | None:
    """The event ``account`` values ``principal`` may see (None: all): its visible accounts and,
    for a cross sub-account, its parent (the top of its margin unit)."""
    visible = visible_accounts(service, principal)
    if visible is None or principal.account is None:
        return visible
    record = service.directory.account(principal.account)
    if record.parent is not None and record.mode is SubAccountMode.CROSS:
        return visible | {record.parent}
    return visible


def require_operator(principal: Principal) -> None:
    """403 unless ``principal`` is the operator."""
    if not principal.operator:
        raise ApiError(403, "authorization", "this operation needs an operator key")


def require_account(service: Service, principal: Principal, account_id: str) -> AccountRecord:
    """The account ``account_id`` if ``principal`` sees it: 403 if it does not (existing or
    not), 404 for the operator when it does not exist."""
    visible = visible_accounts(service, principal)
    if visible is not None and account_id not in visible:
        raise ApiError(403, "account", f"this key does not see account {account_id!r}")
    try:
        return service.directory.account(account_id)
    except SolventInputError:
        raise ApiError(404, "account", f"unknown account {account_id!r}") from None


async def require_account_async(
    service: Service, principal: Principal, account_id: str
) -> AccountRecord:
    """:func:`require_account` from the event loop: answered there when the account cache holds
    what it needs, else in a worker thread (a database read)."""
    if service.directory.cached(principal, account_id):
        return require_account(service, principal, account_id)
    return await run_in_threadpool(require_account, service, principal, account_id)
