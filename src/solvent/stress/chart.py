"""PNG chart of a backtest: realized P&L against the margin, breaches marked (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from solvent.errors import SolventInputError
from solvent.stress.backtest import BacktestResult


def write_chart(result: BacktestResult, path: Path) -> Path:
    """Draw ``result`` to ``path`` (PNG): the realized P&L of the position (USD), the margin as
    a floor ``-margin`` under it, and each breach (P&L below ``-margin``) as a red dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dates = result.dates.astype("datetime64[D]").astype(object)
    pnl = -result.loss
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    ax.plot(dates, pnl, lw=0.6, color="0.45", label="realized P&L (USD)")
    ax.plot(dates, -result.margin, lw=1.0, color="tab:blue", label="- initial margin (USD)")
    hit = np.flatnonzero(result.breaches)
    ax.scatter(
        [dates[i] for i in hit],
        pnl[hit],
        s=14,
        color="red",
        zorder=3,
        label=f"breaches ({hit.size})",
    )
    ax.set_title(
        f"{result.model} ({result.parameters}) - {result.asset} {result.side}, "
        f"{result.horizon_days}d, {result.confidence:.1%}"
    )
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, format="png")
    except OSError as exc:
        raise SolventInputError("chart", f"{str(path)!r}: cannot write ({exc.strerror})") from None
    finally:
        plt.close(fig)
    return path
