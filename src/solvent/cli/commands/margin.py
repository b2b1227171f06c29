"""``solvent margin PORTFOLIO_OR_BOOK --market MARKET [--model NAME] [--params P] [--explain]
[--executor local|ray [--ray-address ADDRESS]]``.

An edge only: load (the book straight into columns), the engine pipeline
(:func:`solvent.engine.margin.margin_accounts`), the view (:mod:`solvent.engine.views`).
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.executor import ExecutorOption, RayAddressOption, executor_for
from solvent.cli.options import ModelOption, ParamsOption
from solvent.cli.output import emit_json
from solvent.cli.progress import StageBar, wanted
from solvent.engine.margin import margin_accounts
from solvent.engine.stages import Stage, Stages
from solvent.engine.views import margin_json
from solvent.executors import ExecutorKind
from solvent.margin.protocol import Detail
from solvent.margin.registry import get_model, resolve_alias
from solvent.market.snapshot import load_market
from solvent.portfolio.account_book import load_account_book


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def register(app: typer.Typer) -> None:
    @app.command("margin")
    def margin(
        portfolio: Annotated[
            Path, typer.Argument(help="Portfolio or book JSON (docs/formats.md 2).")
        ],
        market: Annotated[Path, typer.Option("--market", help="Market snapshot JSON.")],
        model: ModelOption = "standard",
        params: ParamsOption = None,
        explain: Annotated[
            bool, typer.Option("--explain", help="Add every scenario and each position's share.")
        ] = False,
        progress: Annotated[
            bool | None,
            typer.Option(
                "--progress/--no-progress",
                help="Progress bar on stderr (default: for large inputs, or a terminal).",
            ),
        ] = None,
        timings: Annotated[
            bool,
            typer.Option("--timings", help='Print where the time went on stderr ({"timings"}).'),
        ] = False,
        locations: Annotated[
            str | None,
            typer.Option(
                "--locations",
                help="Locations of collateral held elsewhere: built-in version or TOML file.",
            ),
        ] = None,
        executor: ExecutorOption = ExecutorKind.LOCAL,
        ray_address: RayAddressOption = None,
    ) -> None:
        """Initial and maintenance margin of a portfolio or a whole book (docs/formats.md 3)."""
        get_model(resolve_alias(model, params))
        steps = [s.value for s in Stage]
        show = wanted(_size(portfolio), progress)
        bar = StageBar(steps, "solvent margin") if show else None
        stages = Stages(bar)
        # Bad input raises out of the bar (which then closes) to the CLI's guard, so that the
        # one error line is the last thing on stderr.
        with bar if bar is not None else contextlib.nullcontext():
            with stages(Stage.LOAD):
                accounts, is_book = load_account_book(portfolio)
                snapshot = load_market(market)
            detail = Detail.EXPLAIN if explain else Detail.ACCOUNTS
            with executor_for(executor, ray_address) as ex:
                run = margin_accounts(
                    accounts,
                    snapshot,
                    model,
                    params,
                    detail=detail,
                    stages=stages,
                    locations=locations,
                    executor=ex,
                )
            with stages(Stage.RENDER):
                emit_json(margin_json(run, explain, is_book=is_book))
                sys.stdout.flush()
        if timings:
            sys.stderr.write(json.dumps({"timings": stages.seconds}) + "\n")
