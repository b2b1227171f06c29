"""Solvency test helpers: liabilities built straight from arrays (no ledger), signing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.solvency.liabilities import AssetInfo, Liabilities
from solvent.solvency.snapshot import Snapshot

T0 = datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
ASSETS = (AssetInfo("BTC", 8), AssetInfo("ETH", 9), AssetInfo("USDC", 6))


def liabilities(n: int = 11, seed: int = 7) -> Liabilities:
    """``n - 1`` user accounts and the insurance fund, random balances, a few debts."""
    rng = np.random.default_rng(seed)
    accounts = tuple([f"u{i:03d}" for i in range(n - 1)] + ["@insurance"])
    balances = rng.integers(0, 10**12, (n, len(ASSETS)), dtype=np.int64)
    debts = np.zeros_like(balances)
    debts[1, 0], balances[1, 0] = 12_345, 0
    return Liabilities(ASSETS, accounts, balances, debts)


def signed(
    snapshot: Snapshot,
    key: Ed25519PrivateKey,
    time: datetime = T0,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return snapshot.sign(key, time, previous)


NOW = T0 + timedelta(minutes=5)
