"""schemathesis against the API's own OpenAPI document, on a served archive: generated requests
(queries, names, dates, cursors, limits of every kind) never get a server error, and every answer
matches the document (status, content type, headers, schema). A request the document allows may
still be refused with a documented 400 (a query that does not parse, an unknown rule): the
document cannot list every query the rule language refuses, so that check is left out."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Ok

from tests.serve.conftest import Served


def test_the_api_answers_as_its_document_says(served: Served) -> None:
    schema = schemathesis.openapi.from_url(served.base + "/openapi.json")
    checked = []
    for found in schema.get_all_operations():
        assert isinstance(found, Ok), found  # the document itself is valid
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(excluded_checks=[checks.positive_data_acceptance])

        answers_as_documented()
        checked.append(operation.label)
    assert "GET /api/v1/articles" in checked and len(checked) >= 10, checked
