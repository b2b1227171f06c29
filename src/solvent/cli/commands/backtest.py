"""``solvent backtest --model NAME --history PATH [--asset BTC] [--side long|short]
[--confidence 0.99] [--horizon-days 1] [--params P] [--chart PATH]
[--executor local|ray [--ray-address ADDRESS]]`` (docs/formats.md 4 and 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from solvent.cli.executor import ExecutorOption, RayAddressOption, executor_for
from solvent.cli.options import ModelOption, ParamsOption
from solvent.cli.output import emit_json
from solvent.executors import ExecutorKind
from solvent.files import output_path
from solvent.market.history import load_price_history
from solvent.stress.backtest import DEFAULT_WARMUP_DAYS, Side, run_backtest
from solvent.stress.chart import write_chart


def register(app: typer.Typer) -> None:
    @app.command("backtest")
    def backtest(
        model: ModelOption,
        history: Annotated[
            Path, typer.Option("--history", help="Price history (docs/formats.md 8).")
        ],
        asset: Annotated[str, typer.Option("--asset", help="Asset to margin.")] = "BTC",
        side: Annotated[Side, typer.Option("--side", help="One unit long or short.")] = Side.LONG,
        confidence: Annotated[
            float, typer.Option("--confidence", help="Coverage tested (breach rate 1 - c).")
        ] = 0.99,
        horizon_days: Annotated[
            int, typer.Option("--horizon-days", help="Loss horizon (and fhs-es MPOR), days.")
        ] = 1,
        params: ParamsOption = None,
        warmup_days: Annotated[
            int, typer.Option("--warmup-days", help="Closes before the first margin day.")
        ] = DEFAULT_WARMUP_DAYS,
        chart: Annotated[
            Path | None,
            typer.Option(
                "--chart", help="PNG path, in an existing folder (default: ./backtest_*.png)."
            ),
        ] = None,
        executor: ExecutorOption = ExecutorKind.LOCAL,
        ray_address: RayAddressOption = None,
    ) -> None:
        """Roll a model through a price history, margining one unit each day (JSON + PNG)."""
        target = output_path(
            chart or f"backtest_{model}_{asset.strip().upper()}_{side}_{horizon_days}d.png",
            "chart",
            ".png",
        )
        hist = load_price_history(history)
        name = asset.strip().upper()
        with executor_for(executor, ray_address) as ex:
            result = run_backtest(
                model, hist, name, side, confidence, horizon_days, params, warmup_days, executor=ex
            )
        written = write_chart(result, target)
        emit_json(result.to_json(str(written)))
