"""Fixtures of the HTTP API tests (helpers in apitest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apitest import Keys, build_template, make_service
from fastapi.testclient import TestClient

from solvent.api.app import create_app
from solvent.api.state import Service


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Keys]:
    """A populated ledger file, built once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("api-template") / "api.db"
    return path, build_template(path)


@pytest.fixture
def service(template: tuple[Path, Keys], tmp_path: Path) -> Iterator[Service]:
    service = make_service(template, tmp_path, rate=1000.0, burst=1000)
    yield service
    service.ledger.close()


@pytest.fixture
def keys(template: tuple[Path, Keys]) -> Keys:
    return template[1]


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service)) as c:
        yield c
