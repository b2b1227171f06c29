"""``solvent liquidate BOOK --market M [--model] [--params] [--policy partial|auction|full]
[--target maintenance|initial] [--insurance-fund USD] [--executor local|ray [--ray-address A]]``
(docs/formats.md 10 and 4).

An edge only: load, :func:`solvent.engine.liquidation.liquidate_accounts`, the view
(:func:`solvent.engine.liquidation.liquidation_json`). Nothing is written anywhere: the command
reports what the liquidation does to the book it reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.executor import ExecutorOption, RayAddressOption, executor_for
from solvent.cli.options import ModelOption, ParamsOption
from solvent.cli.output import emit_json
from solvent.engine.liquidation import MAX_FUND_USD, liquidate_accounts, liquidation_json
from solvent.errors import SolventInputError
from solvent.executors import ExecutorKind
from solvent.liquidation.config import LiquidationConfig, parse_target
from solvent.liquidation.policy import get_policy
from solvent.margin.registry import get_model, resolve_alias
from solvent.market.snapshot import load_market
from solvent.portfolio.account_book import load_account_book
from solvent.validation import number_in_range


def register(app: typer.Typer) -> None:
    @app.command("liquidate")
    def liquidate(
        book: Annotated[Path, typer.Argument(help="Book (or portfolio) JSON (docs/formats.md 2).")],
        market: Annotated[Path, typer.Option("--market", help="Market snapshot JSON.")],
        model: ModelOption = "standard",
        params: ParamsOption = None,
        policy: Annotated[
            str, typer.Option("--policy", help="partial (default), auction or full.")
        ] = "partial",
        target: Annotated[
            str,
            typer.Option("--target", help="maintenance (MM x (1 + buffer), default) or initial."),
        ] = "maintenance",
        insurance_fund: Annotated[
            str, typer.Option("--insurance-fund", help="Insurance fund at the start, USD.")
        ] = "0",
        executor: ExecutorOption = ExecutorKind.LOCAL,
        ray_address: RayAddressOption = None,
    ) -> None:
        """Liquidate every account below its maintenance margin: policy steps, bankruptcy,
        insurance fund, auto-deleveraging, socialized loss (docs/formats.md 10)."""
        get_model(resolve_alias(model, params))
        chosen = get_policy(policy)
        config = LiquidationConfig(target=parse_target(target))
        fund = _usd(insurance_fund, "insurance_fund")
        accounts, _ = load_account_book(book)
        snapshot = load_market(market)
        with executor_for(executor, ray_address) as ex:
            outcome = liquidate_accounts(
                accounts,
                snapshot,
                model,
                params,
                policy=chosen,
                config=config,
                insurance_fund_usd=fund,
                executor=ex,
            )
        emit_json(liquidation_json(outcome))


def _usd(text: str, field: str) -> float:
    """A USD amount from the command line: a finite number in [0, MAX_FUND_USD]."""
    try:
        value = float(text)
    except ValueError:
        raise SolventInputError(field, f"must be a number of USD, got {text!r}") from None
    return number_in_range(value, field, 0.0, MAX_FUND_USD)
