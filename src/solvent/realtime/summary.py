"""The result of a crash replay (:func:`solvent.realtime.replay.replay`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solvent.ledger.store import AuditReport


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """A replay's summary (USD amounts; see FORMATS 10) and what produced it."""

    steps: int
    accounts: int
    liquidated: int
    bankrupt: int
    volume_usd: float
    slippage_usd: float
    fees_usd: float
    insurance_fund_start_usd: float
    insurance_fund_end_usd: float
    insurance_fund_min_usd: float
    adl_events: int
    socialized_loss_usd: float
    latency_p50_ms: float
    latency_p99_ms: float
    audit: AuditReport
    report: Path | None
    db: str | None
    """The ledger's URL (``None``: a temporary file, deleted after the replay)."""
    faults: int
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
