"""Ledger fixtures: every ``db_url`` test runs on SQLite and on a throwaway local PostgreSQL.

The PostgreSQL server is started once per test session (per xdist worker) by scripts/postgres.sh
on a free loopback port and stopped after. If it cannot be started, the PostgreSQL cases are skipped
with the reason, except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "postgres.sh"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server for this session (the admin database ``solvent``)."""
    workdir = tempfile.mkdtemp(prefix="solvent-pg-")
    proc = subprocess.run(
        [str(SCRIPT), "start", workdir], capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        message = f"PostgreSQL unavailable ({SCRIPT.name} start): {proc.stderr.strip()[-500:]}"
        subprocess.run([str(SCRIPT), "stop", workdir], capture_output=True, timeout=60)
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield proc.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(SCRIPT), "stop", workdir], capture_output=True, timeout=120)


def fresh_postgres_database(server_url: str) -> str:
    """Create an empty database on the server; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    conninfo = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once on SQLite (a file) and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    server = request.getfixturevalue("postgres_server")
    return fresh_postgres_database(server)


@pytest.fixture
def new_postgres_database(postgres_server: str) -> Callable[[], str]:
    """A factory of empty PostgreSQL databases on the session's server (one URL per call)."""
    return lambda: fresh_postgres_database(postgres_server)
