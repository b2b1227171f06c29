"""The replay report: an HTML page with PNG charts (matplotlib, Agg backend).

``DIR/index.html`` shows the summary and three charts, each a PNG beside it:

- ``insurance_fund.png``: the insurance fund (USD, at each tick's index) over market time;
- ``health_states.png``: how many margin units are healthy, in margin call, in liquidation and
  bankrupt at each tick (stacked);
- ``liquidations.png``: cumulative liquidation volume and slippage (USD), and the index of each
  asset relative to its start on a second axis.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from solvent.errors import SolventInputError
from solvent.realtime.summary import ReplayResult

_STATE_COLOURS = {
    "healthy": "tab:green",
    "margin_call": "tab:orange",
    "liquidation": "tab:red",
    "bankrupt": "black",
}


def _figure(width: float = 10.0, height: float = 4.0) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return fig, ax


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(result: ReplayResult, directory: Path) -> Path:
    """Write the page and its charts into ``directory`` (created if needed); returns the page."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SolventInputError(
            "report", f"cannot create {str(directory)!r}: {exc.strerror}"
        ) from None
    if not directory.is_dir():
        raise SolventInputError("report", f"{str(directory)!r} is not a directory")
    history = result.history
    times = [h["time"] for h in history]

    fig, ax = _figure()
    ax.step(times, [h["insurance_fund_usd"] for h in history], where="post", color="tab:blue")
    ax.set_title("Insurance fund (USD)")
    ax.grid(alpha=0.3)
    _save(fig, directory / "insurance_fund.png")

    fig, ax = _figure()
    bottom = [0.0] * len(history)
    for state, colour in _STATE_COLOURS.items():
        counts = [float(h["by_state"].get(state, 0)) for h in history]
        top = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.fill_between(times, bottom, top, step="post", color=colour, alpha=0.8, label=state)
        bottom = top
    ax.set_title("Margin units by health state")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, directory / "health_states.png")

    fig, ax = _figure()
    ax.step(
        times,
        [h["totals"].get("volume_usd", 0.0) for h in history],
        where="post",
        label="liquidation volume (USD, cumulative)",
        color="tab:red",
    )
    ax.step(
        times,
        [h["totals"].get("slippage_usd", 0.0) for h in history],
        where="post",
        label="slippage (USD, cumulative)",
        color="tab:purple",
    )
    ax.set_ylabel("USD")
    ax.grid(alpha=0.3)
    other = ax.twinx()
    if history:
        first = history[0]["index"]
        for asset in sorted(first):
            if first[asset] > 0 and asset not in ("USDC", "USDT", "USD"):
                other.plot(
                    times,
                    [h["index"][asset] / first[asset] for h in history],
                    lw=0.8,
                    ls="--",
                    label=f"{asset} index / start",
                )
    other.set_ylabel("index / start")
    lines = ax.get_legend_handles_labels()
    more = other.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", fontsize=8)
    ax.set_title("Liquidation volume and slippage")
    _save(fig, directory / "liquidations.png")

    rows = [
        ("steps", result.steps),
        ("accounts", result.accounts),
        ("liquidated", result.liquidated),
        ("bankrupt", result.bankrupt),
        ("liquidation volume (USD)", f"{result.volume_usd:,.2f}"),
        ("slippage (USD)", f"{result.slippage_usd:,.2f}"),
        ("fees (USD)", f"{result.fees_usd:,.2f}"),
        (
            "insurance fund start / end / min (USD)",
            f"{result.insurance_fund_start_usd:,.2f} / {result.insurance_fund_end_usd:,.2f} / "
            f"{result.insurance_fund_min_usd:,.2f}",
        ),
        ("ADL events", result.adl_events),
        ("socialized loss (USD)", f"{result.socialized_loss_usd:,.2f}"),
        (
            "tick-to-margin p50 / p99 (ms)",
            f"{result.latency_p50_ms:.2f} / {result.latency_p99_ms:.2f}",
        ),
        ("feed faults", result.faults),
        (
            "ledger audit",
            "ok" if result.audit.ok else "FAILED: " + "; ".join(result.audit.problems),
        ),
    ]
    table = "\n".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    page = directory / "index.html"
    page.write_text(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Solvent crash replay</title>"
        "<style>body{font-family:sans-serif;max-width:1040px;margin:2em auto}"
        "th{text-align:left;padding-right:2em}img{max-width:100%}</style></head><body>\n"
        "<h1>Crash replay</h1>\n"
        f"<table>\n{table}\n</table>\n"
        '<h2>Insurance fund</h2><img src="insurance_fund.png" alt="insurance fund over time">\n'
        "<h2>Accounts by health state</h2>"
        '<img src="health_states.png" alt="margin units by health state over time">\n'
        "<h2>Liquidations</h2>"
        '<img src="liquidations.png" alt="liquidation volume and slippage over time">\n'
        "</body></html>\n",
        encoding="utf-8",
    )
    return page
