"""Request bodies and documented responses of the HTTP API (its OpenAPI schema).

Bodies are strict: unknown fields, numbers where decimal strings are expected, over-long strings
and over-long order lists are refused with 422 naming the field. Amounts, quantities, prices and
fees are decimal strings (``"0.5"``, ``"-1.25"``: no exponent, NaN or infinity), parsed exactly
by the same functions as the CLI, which also refuse over-precise amounts. Responses are
documented here; their bodies are the engine's views (docs/formats.md 9 and 12), with every
field listed and further fields allowed (formats only ever grow).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from solvent.api.state import MAX_ORDERS

DECIMAL_PATTERN = r"^[+-]?([0-9]{1,40}(\.[0-9]{0,40})?|\.[0-9]{1,40})$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
ACCOUNT_PATH_PATTERN = r"^[A-Za-z0-9@][A-Za-z0-9._:\-]{0,127}$"
"""Account ids in paths: a user account's id, or (operator) one of the venue's ``@`` accounts."""

DecimalString = Annotated[
    str,
    Field(
        pattern=DECIMAL_PATTERN,
        max_length=82,
        description="An exact decimal number as a string ('1.5', '-0.25').",
        examples=["1.5"],
    ),
]
Ref = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        description="Idempotency key: a retry with the same key and request returns the first "
        "result and writes nothing.",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateAccount(_Strict):
    """``POST /v1/accounts`` (operator): an account, or a sub-account of ``parent``."""

    account: Annotated[str, Field(pattern=ID_PATTERN)]
    parent: Annotated[str, Field(pattern=ID_PATTERN)] | None = None
    mode: Literal["cross", "isolated"] | None = None
    model: Annotated[str, Field(min_length=1, max_length=32)] = "standard"


class Transfer(_Strict):
    """A deposit or withdrawal of ``amount`` (decimal string) of ``asset``."""

    asset: Annotated[str, Field(min_length=1, max_length=32)]
    amount: DecimalString
    ref: Ref | None = None


class Trade(_Strict):
    """A fill: signed ``quantity`` of ``instrument`` at ``price``, optional ``fee`` (settlement
    asset), all decimal strings."""

    instrument: Name
    quantity: DecimalString
    price: DecimalString
    fee: DecimalString | None = None
    ref: Ref | None = None


class OrderIn(_Strict):
    """A what-if order: signed ``quantity`` (decimal string) of ``instrument``, at the mark."""

    instrument: Name
    quantity: DecimalString


class WhatIf(_Strict):
    """``POST /v1/accounts/{id}/what-if``: the orders to try (nothing is booked)."""

    orders: Annotated[list[OrderIn], Field(min_length=1, max_length=MAX_ORDERS)]


# --- responses (documentation: the bodies are the engine's views) --------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class HealthOut(_Open):
    state: Literal["healthy", "margin_call", "liquidation", "bankrupt"]
    equity_usd: float
    collateral_value_usd: float
    initial_margin_usd: float
    maintenance_margin_usd: float
    excess_usd: float
    margin_ratio: float | None


class PositionOut(_Open):
    instrument: str
    quantity: float
    average_price: float
    realized_pnl: float


class LiquidationPriceOut(_Open):
    """One underlying's liquidation prices (docs/formats.md 10, without account and model)."""

    underlying: str
    index: float
    liquidation_price_down: float | None
    liquidation_price_up: float | None
    distance_down: float | None
    distance_up: float | None


class AccountOut(HealthOut):
    """``account show`` (docs/formats.md 9)."""

    account: str
    parent: str | None
    mode: str | None
    model: str
    margin_unit: list[str]
    balances: dict[str, str]
    positions: list[PositionOut]
    unpriced: list[str]
    liquidation_prices: list[LiquidationPriceOut]


class AccountSummary(HealthOut):
    """One row of ``GET /v1/accounts``: an account and its margin unit's health."""

    account: str
    parent: str | None
    mode: str | None
    model: str
    margin_unit: list[str]
    liquidation_distance: float | None = None


class PoolOut(_Open):
    currency: str
    initial_margin: float
    maintenance_margin: float
    components: dict[str, float]


class MarginOut(_Open):
    """``solvent margin`` of one account (docs/formats.md 3)."""

    account: str
    model: str
    parameters: str
    pools: list[PoolOut]
    initial_margin_usd: float
    maintenance_margin_usd: float
    collateral_value_usd: float
    equity_usd: float
    margin_ratio: float | None


class AccountList(_Open):
    accounts: list[AccountSummary]
    states: dict[str, int]


class CreatedAccount(_Open):
    account: str
    parent: str | None
    mode: str | None
    model: str


class TransferOut(_Open):
    account: str
    asset: str
    amount: str
    operation: int
    balance: str
    ref: str | None = None
    replayed: bool | None = None


class TradeOut(HealthOut):
    account: str
    instrument: str
    quantity: float
    price: float
    operation: int
    fee: str
    realized_pnl: str
    settlement_asset: str
    position: PositionOut
    ref: str | None = None
    replayed: bool | None = None


class CheckOut(_Open):
    accepted: bool
    reason: str
    initial_margin_usd: float
    maintenance_margin_usd: float
    excess_usd: float
    equity_usd: float
    state: str


class InstrumentOut(_Open):
    name: str
    mark_price: float
    mark_price_usd: float
    mark_iv: float | None
    forward: float
    delta: float
    gamma: float
    vega: float
    theta: float


class SurfaceOut(_Open):
    times: list[float]
    expiries: list[str]
    log_moneyness: list[float]
    implied_vol: list[list[float | None]]
    rms_iv_error: float | None


class MarketOut(_Open):
    as_of: str
    index: dict[str, float]
    instruments: list[InstrumentOut]
    vol_surface: dict[str, SurfaceOut]
