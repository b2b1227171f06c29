"""``solvent simm CRIF.csv [--simm-version 2.6] [--mpor-days 10|1] [--currency USD]``.

Output (docs/formats.md 7), one JSON object: ``simm`` (USD), ``currency``, ``version``,
``mpor_days``,
``product_classes`` {RatesFX|Credit|Equity|Commodity: {``total``, ``risk_classes`` {InterestRate|
CreditQualifying|CreditNonQualifying|Equity|Commodity|FX: {``total``, ``delta``, ``vega``,
``curvature``, ``base_corr``}}}}, listing the product and risk classes present in the CRIF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from solvent.cli.output import emit_json
from solvent.margin.simm import compute_simm, load_calibration, load_crif


def _run(crif: Path, version: str, mpor_days: int, currency: str) -> dict[str, Any]:
    calibration = load_calibration(version, mpor_days)
    return compute_simm(load_crif(crif), calibration, currency).to_json()


def register(app: typer.Typer) -> None:
    """Add the ``simm`` command to ``app``."""

    @app.command("simm")
    def simm(
        crif: Annotated[Path, typer.Argument(help="CRIF CSV file (docs/formats.md 7).")],
        simm_version: Annotated[
            str, typer.Option("--simm-version", help="ISDA SIMM version (2.6).")
        ] = "2.6",
        mpor_days: Annotated[
            int, typer.Option("--mpor-days", help="Margin period of risk: 10 or 1 days.")
        ] = 10,
        currency: Annotated[
            str, typer.Option("--currency", help="Calculation and result currency (USD).")
        ] = "USD",
    ) -> None:
        """ISDA SIMM initial margin of the sensitivities in CRIF (JSON on stdout)."""
        emit_json(_run(crif, simm_version, mpor_days, currency))
