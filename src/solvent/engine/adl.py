"""The ADL pipeline behind ``solvent adl`` and the HTTP API: rank a queue, optionally deleverage
a liquidated size against it, and the JSON view of the result (docs/formats.md 10)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solvent.liquidation.adl import (
    AdlFills,
    AdlQueue,
    AdlRanking,
    RankedSide,
    Ranking,
    adl_fills,
    rank_queue,
)

_DECIMALS = 12  # scores and quantities are printed rounded to 1e-12 (floating-point dust)


@dataclass(frozen=True)
class AdlRun:
    """A ranked queue and, when a fill was asked, its counterparties."""

    queue: AdlQueue
    ranking: AdlRanking
    fills: AdlFills | None


def run_adl(queue: AdlQueue, ranking: Ranking, fill: tuple[float, float] | None = None) -> AdlRun:
    """Rank ``queue`` under ``ranking``; with ``fill = (size, price)`` also deleverage the
    opposite side of a liquidated position of signed ``size`` at ``price`` (the queue's price
    unit: USD per unit, or an option queue's premium)."""
    ranked = rank_queue(queue, ranking)
    fills = None if fill is None else adl_fills(queue, ranking, fill[0], fill[1])
    return AdlRun(queue=queue, ranking=ranked, fills=fills)


def _number(x: float) -> float:
    return round(float(x), _DECIMALS) + 0.0


def _side_json(queue: AdlQueue, side: RankedSide) -> list[dict[str, Any]]:
    return [
        {
            "account": queue.accounts[int(i)],
            "quantity": _number(queue.quantity[int(i)]),
            "score": _number(score),
            "quantile": _number(quantile),
        }
        for i, score, quantile in zip(
            side.positions.tolist(), side.score.tolist(), side.quantile.tolist(), strict=True
        )
    ]


def adl_json(run: AdlRun) -> dict[str, Any]:
    """``{"ranking", "instrument"[, "option", "contract_size", "price_unit_usd"], "queues":
    {"long", "short"}[, "fills", "unfilled"]}``: an option queue (or one with a contract size or
    price unit other than 1) echoes its terms, the unit its prices and fill price are in."""
    queue = run.queue
    out: dict[str, Any] = {"ranking": run.ranking.ranking.value, "instrument": queue.instrument}
    if queue.option:
        out["option"] = True
    if queue.option or queue.contract_size != 1.0 or queue.price_unit_usd != 1.0:
        out["contract_size"] = queue.contract_size
        out["price_unit_usd"] = queue.price_unit_usd
    out |= {
        "queues": {
            "long": _side_json(run.queue, run.ranking.long),
            "short": _side_json(run.queue, run.ranking.short),
        },
    }
    if run.fills is not None:
        out["fills"] = [
            {
                "account": run.queue.accounts[int(i)],
                "quantity": _number(q),
                "price": run.fills.price,
            }
            for i, q in zip(run.fills.positions.tolist(), run.fills.quantity.tolist(), strict=True)
        ]
        out["unfilled"] = _number(run.fills.unfilled)
    return out
