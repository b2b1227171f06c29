"""The main job's HTML report: one page (``index.html``) with PNG charts beside it.

Charts (matplotlib, Agg): the SVI volatility surfaces, initial margin by model and kind of
account, and, when the crash replay ran, accounts by health state over time, the insurance fund
over time and the liquidation waterfall (deficits -> insurance fund -> ADL -> socialized). The
page's tables hold the figures the charts draw, as numbers (the end-to-end test reads them back
and checks them against the ledger).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from solvent.errors import SolventInputError

if TYPE_CHECKING:
    from solvent.engine.demo import DemoResult

FIGURES_ID = "demo-figures"
"""``id`` of the page's ``<script type="application/json">`` holding every figure shown."""


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _vol_surface_chart(result: DemoResult, path: Path) -> Path:
    plt = _plt()
    fits = result.surfaces
    fig, axes = plt.subplots(1, max(len(fits), 1), figsize=(6 * max(len(fits), 1), 4.2), dpi=100)
    axes = np.atleast_1d(axes)
    k = np.linspace(-0.6, 0.6, 121)
    for ax, (underlying, fit) in zip(axes, fits.items(), strict=False):
        surface = fit.surface
        times = surface.times
        cmap = plt.get_cmap("viridis")
        for i, t in enumerate(times.tolist()):
            iv = surface.implied_vol_k(k, np.full_like(k, t))
            ax.plot(
                k,
                100 * iv,
                lw=1.0,
                color=cmap(i / max(len(times) - 1, 1)),
                label=f"{t * 365:.0f} d" if i % 3 == 0 else None,
            )
        ax.set_title(f"{underlying} SVI surface ({len(times)} expiries)")
        ax.set_xlabel("log-moneyness ln(K/F)")
        ax.set_ylabel("implied vol (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _margin_chart(result: DemoResult, path: Path) -> Path:
    plt = _plt()
    side = result.side
    kinds = list(dict.fromkeys(side.archetype))
    arche = np.asarray(side.archetype)
    totals = np.array(
        [
            [side.initial_margin_usd[arche == k, j].sum() for j in range(len(side.models))]
            for k in kinds
        ]
    )
    fig, ax = plt.subplots(figsize=(12, 4.8), dpi=100)
    width = 0.8 / len(side.models)
    x = np.arange(len(kinds))
    for j, model in enumerate(side.models):
        ax.bar(x + (j - (len(side.models) - 1) / 2) * width, totals[:, j] / 1e6, width, label=model)
    ax.set_xticks(x, kinds)
    ax.set_ylabel("initial margin (USD million)")
    ax.set_title(f"Initial margin by model and kind of account ({len(side.units):,} margin units)")
    ax.legend(fontsize=8, ncol=4)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _series_chart(
    path: Path,
    title: str,
    ylabel: str,
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    stacked: bool = False,
) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=100)
    if stacked:
        ax.stackplot(x, *[np.asarray(v, dtype=float) for v in series.values()], labels=list(series))
    else:
        for name, values in series.items():
            ax.plot(x, values, lw=1.2, label=name)
    return _save_tick_chart(fig, ax, path, title, ylabel)


def _save_tick_chart(fig: Any, ax: Any, path: Path, title: str, ylabel: str) -> Path:
    """Title, axes (x: the replay's tick), grid and legend of a chart over the crash; saved to
    ``path`` and closed."""
    ax.set_title(title)
    ax.set_xlabel("tick (one a minute of the crash)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    _plt().close(fig)
    return path


def _fund_chart(path: Path, x: Sequence[float], fund: Sequence[float]) -> Path:
    """The fund over the replay (USD at each tick's index), its start and its lowest point."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=100)
    values = np.asarray(fund, dtype=float)
    ax.plot(x, values, lw=1.4, label="insurance fund (USD at the tick's index)")
    ax.axhline(values[0], color="tab:gray", ls="--", lw=0.8, label="at the start")
    low = int(np.argmin(values))
    ax.scatter([x[low]], [values[low]], color="tab:red", zorder=3, label="lowest")
    ax.annotate(
        f"{values[low]:,.0f}",
        (x[low], values[low]),
        textcoords="offset points",
        xytext=(6, -12),
        fontsize=8,
        color="tab:red",
    )
    return _save_tick_chart(fig, ax, path, "Insurance fund: fees in, deficits covered", "USD")


def _waterfall_chart(path: Path, stages: Mapping[str, float]) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    names = list(stages)
    values = np.array([stages[n] for n in names], dtype=float)
    colors = ["tab:red"] + ["tab:blue"] * (len(names) - 2) + ["tab:gray"]
    ax.bar(names, values, color=colors[: len(names)])
    for i, v in enumerate(values.tolist()):
        ax.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("USD")
    ax.set_title("Liquidation waterfall: deficits and who covered them")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def figures(result: DemoResult) -> dict[str, Any]:
    """Every figure the page shows, JSON-ready (the page embeds it; tests read it back)."""
    side = result.side
    im = side.initial_margin_usd
    out: dict[str, Any] = {
        "as_of": result.market.as_of.isoformat(),
        "accounts": len(result.book.archetype),
        "margin_units": len(side.units),
        "seed": result.book.seed,
        "models": list(side.models),
        "initial_margin_usd": {m: float(im[:, j].sum()) for j, m in enumerate(side.models)},
        "maintenance_margin_usd": {
            m: float(side.maintenance_margin_usd[:, j].sum()) for j, m in enumerate(side.models)
        },
        "efficiency": [
            {
                "model": e.model,
                "archetype": e.archetype,
                "units": e.units,
                "baseline_usd": e.baseline_usd,
                "model_usd": e.model_usd,
                "ratio": e.ratio,
                "higher": e.higher,
            }
            for e in result.efficiency
        ],
        "explanations": [e.text for e in result.explanations],
    }
    out.update({k: v for k, v in result.extras.items() if _jsonable(v)})
    return out


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


ROWS_SHOWN = 25
"""The page's ADL and bankruptcy tables show this many rows (every row is in the figures)."""


def _waterfall_section(replay: Mapping[str, Any]) -> str:
    """The crash's loss waterfall as tables: the stages (USD), the insurance fund, the bankrupt
    units with the largest deficits and the ADL fills (first booked), and the liquidation steps
    booked on the ledger by kind."""
    stages = replay.get("waterfall")
    fund = replay.get("insurance_fund")
    if not isinstance(stages, Mapping) or not isinstance(fund, Mapping):
        return ""
    fills: Sequence[Mapping[str, Any]] = replay.get("adl_fills", [])
    bankrupt: Sequence[Mapping[str, Any]] = replay.get("bankruptcies", [])
    parts = [
        "<h2>Loss waterfall</h2>",
        _table(["stage", "USD"], [[k, f"{float(v):,.2f}"] for k, v in stages.items()]),
        _table(
            ["insurance fund", "USD"],
            [
                ["at the start", f"{float(fund['start_usd']):,.2f}"],
                [
                    f"lowest (tick {fund.get('lowest_tick')})",
                    f"{float(fund['min_usd']):,.2f}",
                ],
                ["at the end", f"{float(fund['end_usd']):,.2f}"],
                ["liquidation fees in", f"{float(replay.get('fees_usd', 0.0)):,.2f}"],
            ],
        ),
        "<h3>Liquidation steps booked on the ledger</h3>",
        _table(["kind", "steps"], list(replay.get("steps_by_kind", {}).items())),
        f"<h3>Bankruptcies ({len(bankrupt)}; the {min(len(bankrupt), ROWS_SHOWN)} largest "
        "deficits)</h3>",
        _table(
            ["tick", "unit", "deficit", "fund", "ADL", "socialized"],
            [
                [
                    b["tick"],
                    b["account"],
                    f"{b['deficit_usd']:,.2f}",
                    f"{b['insurance_covered_usd']:,.2f}",
                    f"{b['adl_covered_usd']:,.2f}",
                    f"{b['socialized_usd']:,.2f}",
                ]
                for b in sorted(bankrupt, key=lambda b: -float(b["deficit_usd"]))[:ROWS_SHOWN]
            ],
        ),
        f"<h3>ADL fills ({len(fills)}; the first {min(len(fills), ROWS_SHOWN)} booked)</h3>",
        _table(
            ["tick", "counterparty", "instrument", "quantity", "price", "against"],
            [
                [f["tick"], f["account"], f["instrument"], f["quantity"], f["price"], f["against"]]
                for f in fills[:ROWS_SHOWN]
            ],
        ),
    ]
    return "".join(parts)


def write_report(result: DemoResult, directory: Path) -> Path:
    """Write ``directory/index.html`` and its PNG charts; returns the page's path. The
    directory is created if missing (its parent must exist)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise SolventInputError("report", f"{directory} is not a directory")
    if not directory.parent.is_dir():
        raise SolventInputError("report", f"no such directory: {directory.parent}")
    directory.mkdir(exist_ok=True)
    charts = [
        ("Volatility surfaces", _vol_surface_chart(result, directory / "vol_surface.png")),
        ("Margin by model", _margin_chart(result, directory / "margin_by_model.png")),
    ]
    replay = result.extras.get("replay")
    if isinstance(replay, Mapping):
        steps = replay.get("series", {})
        x = list(steps.get("tick", range(1, len(steps.get("insurance_fund_usd", [])) + 1)))
        if x:
            charts.append(
                (
                    "Accounts by state over time",
                    _series_chart(
                        directory / "accounts_by_state.png",
                        "Accounts by health state",
                        "accounts",
                        x,
                        steps.get("states", {}),
                        stacked=True,
                    ),
                )
            )
            charts.append(
                (
                    "Insurance fund",
                    _fund_chart(directory / "insurance_fund.png", x, steps["insurance_fund_usd"]),
                )
            )
        waterfall = replay.get("waterfall")
        if isinstance(waterfall, Mapping):
            charts.append(
                (
                    "Liquidation waterfall",
                    _waterfall_chart(directory / "liquidation_waterfall.png", waterfall),
                )
            )
    side = result.side
    summary = _table(
        ["model", "initial margin (USD)", "maintenance margin (USD)", "vs " + side.models[0]],
        [
            [
                m,
                f"{side.initial_margin_usd[:, j].sum():,.0f}",
                f"{side.maintenance_margin_usd[:, j].sum():,.0f}",
                f"{side.initial_margin_usd[:, j].sum() / side.initial_margin_usd[:, 0].sum():.2f}x",
            ]
            for j, m in enumerate(side.models)
        ],
    )
    efficiency = _table(
        [
            "model",
            "kind of account",
            "units",
            side.models[0] + " IM",
            "model IM",
            "ratio",
            "units charged more",
        ],
        [
            [
                e.model,
                e.archetype,
                e.units,
                f"{e.baseline_usd:,.0f}",
                f"{e.model_usd:,.0f}",
                f"{e.ratio:.2f}",
                e.higher,
            ]
            for e in result.efficiency
        ],
    )
    explain = "".join(f"<li>{html.escape(e.text)}</li>" for e in result.explanations)
    images = "".join(
        f'<h2>{html.escape(title)}</h2><img src="{p.name}" alt="{html.escape(title)}">'
        for title, p in charts
    )
    loss = _waterfall_section(replay) if isinstance(replay, Mapping) else ""
    extra_sections = "".join(
        f"<h2>{html.escape(str(title))}</h2><pre>{html.escape(json.dumps(body, indent=2))}</pre>"
        for title, body in result.extras.items()
        if title != "replay" and _jsonable(body)
    )
    data = json.dumps(figures(result), allow_nan=False).replace("</", "<\\/")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Solvent demo report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1300px}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;
text-align:right}}img{{max-width:100%}}li{{margin:.3em 0}}</style></head><body>
<h1>Solvent: the whole clearinghouse on one Deribit snapshot</h1>
<p>Market {html.escape(result.market.as_of.isoformat())}; {len(result.book.archetype):,} accounts
({len(side.units):,} margin units) generated with seed {result.book.seed}.</p>
<h2>Margin under every model</h2>{summary}
<h2>Capital efficiency against {html.escape(side.models[0])}</h2>{efficiency}
<h2>Where a portfolio model asks more than {html.escape(side.models[0])}</h2><ul>{explain}</ul>
{images}{loss}{extra_sections}
<script type="application/json" id="{FIGURES_ID}">{data}</script>
</body></html>
"""
    index = directory / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def read_figures(index: Path) -> dict[str, Any]:
    """The figures embedded in a report page (for tests and tools)."""
    text = Path(index).read_text(encoding="utf-8")
    start = text.index(f'id="{FIGURES_ID}">') + len(f'id="{FIGURES_ID}">')
    end = text.index("</script>", start)
    data: dict[str, Any] = json.loads(text[start:end].replace("<\\/", "</"))
    return data
