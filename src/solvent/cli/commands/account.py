"""``solvent account create|deposit|withdraw|trade|check|show|audit`` (docs/formats.md 9).

An edge only: parse the arguments, call :class:`solvent.accounts.service.AccountService` on the
ledger at ``--db`` (default ``$SOLVENT_DB``, else ``sqlite:///solvent.db``), render one JSON object.
Amounts and prices are decimal strings parsed exactly; balances are printed as decimal strings.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from solvent.accounts.service import (
    DEFAULT_MAX_MARKET_AGE,
    AccountService,
    MarketFreshness,
    Order,
    registry_margin,
)
from solvent.cli.output import emit_json, fail
from solvent.collateral.assets import parse_decimal
from solvent.engine.account_view import account_show_json
from solvent.engine.views import (
    audit_json,
    check_json,
    trade_json,
    transfer_json,
)
from solvent.errors import SolventInputError
from solvent.ledger.bands import load_price_bands
from solvent.ledger.db import require_existing
from solvent.ledger.store import Ledger
from solvent.market.snapshot import load_market
from solvent.portfolio.portfolio import SubAccountMode
from solvent.validation import iso_timestamp

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL (default: $SOLVENT_DB, else sqlite:///solvent.db)."),
]
MarketOption = Annotated[
    str, typer.Option("--market", help="Market snapshot JSON (docs/formats.md 1).")
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="ISO timestamp the market's age is measured against (default: the wall clock); "
        "for replays of old markets.",
    ),
]
MaxAgeOption = Annotated[
    str | None,
    typer.Option(
        "--max-market-age",
        help=f"Seconds a market may be old for this operation (default "
        f"{DEFAULT_MAX_MARKET_AGE.total_seconds():.0f}).",
    ),
]
RefOption = Annotated[
    str | None,
    typer.Option(
        "--ref",
        help="Client reference (idempotency key): a retry with the same key and parameters "
        "writes nothing and returns the first operation.",
    ),
]
_NEGATIVE_OK = {"ignore_unknown_options": True}
_ORDERS = {"ignore_unknown_options": True, "allow_extra_args": True}


def _orders(args: list[str]) -> list[Order]:
    """``--order INSTRUMENT QUANTITY`` pairs (repeatable) from the command's extra arguments."""
    orders: list[Order] = []
    i = 0
    while i < len(args):
        if args[i] != "--order" or i + 2 >= len(args):
            raise SolventInputError(
                "order", f"expected --order INSTRUMENT QUANTITY, got {args[i:]}"
            )
        field = f"order[{len(orders)}]"
        orders.append(Order(args[i + 1], parse_decimal(args[i + 2], f"{field}.quantity")))
        i += 3
    return orders


def _freshness(now: str | None, max_age: str | None) -> MarketFreshness:
    """The market-freshness rule from ``--now`` and ``--max-market-age``."""
    limit = DEFAULT_MAX_MARKET_AGE
    if max_age is not None:
        seconds = parse_decimal(max_age, "max_market_age")
        if seconds < 0 or seconds > 10**10:
            raise SolventInputError("max_market_age", "must be a number of seconds in [0, 1e10]")
        limit = timedelta(seconds=float(seconds))
    if now is None:
        return MarketFreshness(limit)
    instant = iso_timestamp(now, "now")
    return MarketFreshness(limit, lambda: instant)


def _service(
    db: str | None,
    *,
    freshness: MarketFreshness | None = None,
    bands: str | None = None,
    creates: bool = False,
) -> AccountService:
    """The account service on ``db``; unless ``creates`` (``create``, a deposit into a venue
    account) the command acts on an existing user account, so a missing SQLite file is refused
    (opening it would leave an empty ledger behind)."""
    if not creates:
        require_existing(db)
    return AccountService(
        Ledger.open(db),
        registry_margin,
        freshness=freshness,
        bands=None if bands is None else load_price_bands(bands),
    )


def _balance(service: AccountService, account: str, asset: str) -> str:
    units = service.ledger.balances(account).get(asset, 0)
    return service.ledger.assets.get(asset).format(units)


def register(app: typer.Typer) -> None:
    """Add the ``account`` command group to ``app``."""
    group = typer.Typer(
        name="account", help="Accounts, collateral and the exact ledger.", no_args_is_help=True
    )
    app.add_typer(group, name="account")

    @group.command("create")
    def create(
        account_id: Annotated[str, typer.Argument(metavar="ID")],
        parent: Annotated[str | None, typer.Option("--parent", help="Parent account ID.")] = None,
        mode: Annotated[
            str | None, typer.Option("--mode", help="cross | isolated (sub-accounts).")
        ] = None,
        model: Annotated[str, typer.Option("--model", help="Margin model.")] = "standard",
        db: DbOption = None,
    ) -> None:
        """Create an account (or a sub-account with --parent and --mode)."""

        def action() -> dict[str, Any]:
            parsed_mode = None
            if mode is not None:
                try:
                    parsed_mode = SubAccountMode(mode)
                except ValueError:
                    raise SolventInputError("mode", "must be cross or isolated") from None
            record = _service(db, creates=True).create(
                account_id, parent=parent, mode=parsed_mode, model=model
            )
            return {
                "account": record.id,
                "parent": record.parent,
                "mode": None if record.mode is None else record.mode.value,
                "model": record.model,
            }

        emit_json(action())

    @group.command("deposit", context_settings=_NEGATIVE_OK)
    def deposit(
        account_id: Annotated[str, typer.Argument(metavar="ID")],
        asset: Annotated[str, typer.Argument(metavar="ASSET")],
        amount: Annotated[str, typer.Argument(metavar="AMOUNT")],
        db: DbOption = None,
        ref: RefOption = None,
    ) -> None:
        """Deposit AMOUNT (decimal string) of ASSET."""

        def action() -> dict[str, Any]:
            # funding the venue's own accounts (@venue...) is how a new ledger starts
            service = _service(db, creates=account_id.startswith("@"))
            receipt = service.deposit(account_id, asset, amount, ref=ref)
            balance = _balance(service, account_id, asset)
            return transfer_json(account_id, asset, amount, receipt, balance, ref=ref)

        emit_json(action())

    @group.command("withdraw", context_settings=_NEGATIVE_OK)
    def withdraw(
        account_id: Annotated[str, typer.Argument(metavar="ID")],
        asset: Annotated[str, typer.Argument(metavar="ASSET")],
        amount: Annotated[str, typer.Argument(metavar="AMOUNT")],
        market: MarketOption,
        db: DbOption = None,
        now: NowOption = None,
        max_market_age: MaxAgeOption = None,
        ref: RefOption = None,
    ) -> None:
        """Withdraw AMOUNT of ASSET; refused below the initial margin or with a stale market."""

        def action() -> dict[str, Any]:
            service = _service(db, freshness=_freshness(now, max_market_age))
            receipt, health = service.withdraw(
                account_id, asset, amount, load_market(market), ref=ref
            )
            balance = _balance(service, account_id, asset)
            return transfer_json(
                account_id, asset, amount, receipt, balance, health=health, ref=ref
            )

        emit_json(action())

    @group.command("trade", context_settings=_NEGATIVE_OK)
    def trade(
        account_id: Annotated[str, typer.Argument(metavar="ID")],
        instrument: Annotated[str, typer.Argument(metavar="INSTRUMENT")],
        quantity: Annotated[str, typer.Argument(metavar="QUANTITY")],
        price: Annotated[str, typer.Argument(metavar="PRICE")],
        market: MarketOption,
        fee: Annotated[
            str | None, typer.Option("--fee", help="Fee in the settlement asset.")
        ] = None,
        db: DbOption = None,
        now: NowOption = None,
        max_market_age: MaxAgeOption = None,
        price_bands: Annotated[
            str | None,
            typer.Option(
                "--price-bands", help="TOML file overriding the price bands (docs/ledger.md)."
            ),
        ] = None,
        ref: RefOption = None,
    ) -> None:
        """Book a fill of QUANTITY (signed) at PRICE; refused outside the price band around the
        mark, with a stale market, or below the initial margin."""

        def action() -> dict[str, Any]:
            service = _service(db, freshness=_freshness(now, max_market_age), bands=price_bands)
            booked, health = service.trade(
                account_id, instrument, quantity, price, load_market(market), fee, ref=ref
            )
            return trade_json(
                account_id,
                instrument,
                float(parse_decimal(quantity, "quantity")),
                float(parse_decimal(price, "price")),
                booked,
                service.ledger.assets,
                health,
                ref=ref,
            )

        emit_json(action())

    @group.command("check", context_settings=_ORDERS)
    def check(
        ctx: typer.Context,
        account_id: Annotated[str, typer.Argument(metavar="ID")],
        market: MarketOption,
        db: DbOption = None,
    ) -> None:
        """Would the orders (--order INSTRUMENT QUANTITY, repeatable) keep the account above IM?
        Changes nothing."""

        def action() -> dict[str, Any]:
            return check_json(
                _service(db).check(account_id, _orders(ctx.args), load_market(market))
            )

        emit_json(action())

    @group.command("show")
    def show(
        account_id: Annotated[str, typer.Argument(metavar="ID")],
        market: MarketOption,
        db: DbOption = None,
    ) -> None:
        """Balances, positions and health of an account, and its liquidation prices."""

        def action() -> dict[str, Any]:
            return account_show_json(_service(db), account_id, load_market(market))

        emit_json(action())

    @group.command("audit")
    def audit(db: DbOption = None) -> None:
        """Recompute every balance from the journal and check every invariant."""

        def action() -> tuple[bool, dict[str, Any]]:
            service = _service(db)
            report = service.audit()
            return report.ok, audit_json(report, service.ledger.assets)

        ok, payload = action()
        emit_json(payload)
        if not ok:
            fail("audit found problems: " + "; ".join(payload["problems"]), code=1)
