"""``solvent stress BOOK --market MARKET [--scenario NAME ...] [--history PATH]
[--executor local|ray [--ray-address ADDRESS]]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.executor import ExecutorOption, RayAddressOption, executor_for
from solvent.cli.output import emit_json
from solvent.errors import SolventInputError
from solvent.executors import ExecutorKind
from solvent.market.history import embedded_price_history, load_price_history
from solvent.market.snapshot import load_market
from solvent.portfolio.account_book import load_account_book
from solvent.stress.apply import stress_book
from solvent.stress.library import StressScenario, stress_library
from solvent.validation import iso_utc


def _pick(library: dict[str, StressScenario], names: list[str] | None) -> list[StressScenario]:
    if not names:
        return list(library.values())
    for i, name in enumerate(names):
        if name not in library:
            raise SolventInputError(
                f"scenario[{i}]", f"unknown scenario {name!r} (known: {', '.join(library)})"
            )
    return [library[n] for n in names]


def register(app: typer.Typer) -> None:
    @app.command("stress")
    def stress(
        book: Annotated[Path, typer.Argument(help="Portfolio or book JSON (docs/formats.md 2).")],
        market: Annotated[Path, typer.Option("--market", help="Market snapshot JSON.")],
        scenario: Annotated[
            list[str] | None, typer.Option("--scenario", help="Scenario name (repeatable).")
        ] = None,
        history: Annotated[
            Path | None, typer.Option("--history", help="History for historical scenarios.")
        ] = None,
        executor: ExecutorOption = ExecutorKind.LOCAL,
        ray_address: RayAddressOption = None,
    ) -> None:
        """Loss per account, negative-equity accounts and total shortfall per scenario (JSON)."""
        accounts, _ = load_account_book(book)
        snapshot = load_market(market)
        hist = embedded_price_history() if history is None else load_price_history(history)
        chosen = _pick(stress_library(hist), scenario)
        with executor_for(executor, ray_address) as ex:
            results = stress_book(accounts, snapshot, chosen, executor=ex)
        emit_json({"as_of": iso_utc(snapshot.as_of), "scenarios": [r.to_json() for r in results]})
