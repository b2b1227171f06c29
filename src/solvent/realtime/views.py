"""JSON views of the real-time engine's results (the CLI and the HTTP API render the same).

They live here rather than in ``engine/``: the replay result is a type of this layer, which comes
after ``engine`` in the data flow.
"""

from __future__ import annotations

from typing import Any

from solvent.collateral.assets import default_assets
from solvent.engine.views import audit_json
from solvent.realtime.summary import ReplayResult


def replay_json(result: ReplayResult) -> dict[str, Any]:
    """FORMATS 10's replay summary: ``{"steps", "accounts", "liquidated", "bankrupt",
    "volume_usd", "slippage_usd", "fees_usd", "insurance_fund": {"start_usd", "end_usd",
    "min_usd"}, "adl_events", "socialized_loss_usd", "latency_ms": {"p50", "p99"}, "audit",
    "report"}`` plus ``faults`` (feed faults detected) and ``db`` (the ledger used)."""
    return {
        "steps": result.steps,
        "accounts": result.accounts,
        "liquidated": result.liquidated,
        "bankrupt": result.bankrupt,
        "volume_usd": result.volume_usd,
        "slippage_usd": result.slippage_usd,
        "fees_usd": result.fees_usd,
        "insurance_fund": {
            "start_usd": result.insurance_fund_start_usd,
            "end_usd": result.insurance_fund_end_usd,
            "min_usd": result.insurance_fund_min_usd,
        },
        "adl_events": result.adl_events,
        "socialized_loss_usd": result.socialized_loss_usd,
        "latency_ms": {"p50": result.latency_p50_ms, "p99": result.latency_p99_ms},
        "audit": audit_json(result.audit, default_assets()),
        "report": None if result.report is None else str(result.report),
        "faults": result.faults,
        "db": result.db,
    }
