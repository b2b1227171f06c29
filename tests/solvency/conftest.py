"""Solvency fixtures: a small signed snapshot built straight from liabilities (no ledger)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvency_helpers import liabilities, signed
from solvent.solvency.snapshot import Snapshot, build_snapshot


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def published(key: Ed25519PrivateKey) -> tuple[Snapshot, dict[str, Any]]:
    snapshot = build_snapshot(liabilities(), 5, depth=8)
    return snapshot, signed(snapshot, key)
