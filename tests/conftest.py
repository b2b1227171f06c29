"""Shared test fixtures: where the project's and the workspace's data live."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The workspace's ../shared folder (real market data and upstream anchors); CI has it beside
    the clone. Tests that need it skip with a clear reason when it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} not found: the shared data folder must sit beside the checkout")
    return SHARED_DIR
