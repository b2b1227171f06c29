"""A schemathesis run over the published OpenAPI schema: for every operation, requests generated
from the schema (valid ones, and invalid ones for the negative checks) with the operator's key.
Every answer must be documented (status, content type, body schema), no request may fail with a
server error, invalid data must be refused, and a refused request must change nothing."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from apitest import Keys, bearer, ledger_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from solvent.api.app import create_app
from solvent.api.state import Service

EXAMPLES = 15
"""Examples per operation and generation mode (bounded: the run stays a few seconds)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _operations(service: Service) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(service))
    return [result.ok() for result in schema.get_all_operations()]


def _exercise(service: Service, keys: Keys, operation: Any, mode: GenerationMode) -> None:
    """Bounded examples of ``operation``: half of those with an account in the path use one
    that exists (``alice``), so the valid requests also reach the endpoint's own checks."""
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    known = {"account_id": "alice"} if "{account_id}" in operation.path else None

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        fixed = known if known is not None and data.draw(st.booleans()) else None
        case = data.draw(operation.as_strategy(generation_mode=mode, path_parameters=fixed))
        before = ledger_state(service)
        # a case whose headers were made invalid on purpose (no Authorization) keeps them
        mutated = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
        response = case.call(headers=None if mutated else bearer(keys.operator))
        case.validate_response(response, checks=checks)
        if response.status_code >= 400:
            assert ledger_state(service) == before, (case, response.status_code)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_published_schema_holds(service: Service, keys: Keys, mode: GenerationMode) -> None:
    operations = _operations(service)
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "GET /v1/accounts/{account_id}",
        "POST /v1/accounts/{account_id}/what-if",
        "POST /v1/accounts/{account_id}/trades",
    }
    for operation in operations:
        _exercise(service, keys, operation, mode)
    assert service.ledger.audit().ok
