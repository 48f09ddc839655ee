"""The served API, fuzzed by Schemathesis from its own OpenAPI schema over loopback HTTP: no
request, valid or not, gets a 5xx, and every answer matches the schema for its status."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from tests.fuzz.strategies import FUZZ
from tests.serve.conftest import IN_PROCESS, loopback_server

from rationalizer.explain import list_explainers
from rationalizer.serve import ServeLimits, create_app

#: small limits, so that generated texts reach them and the refusals are fuzzed too
LIMITS = ServeLimits(max_body_bytes=2048, max_words=30)
OPERATIONS = ("GET /healthz", "GET /api/methods", "POST /api/explain")
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    negative_data_rejection,
]

#: invalid input may be refused with any client error, 413 (a body over the cap) included
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": ["4XX"]}}}
)


@pytest.fixture(scope="module")
def server_url(served_run) -> Iterator[str]:
    with loopback_server(create_app(served_run, limits=LIMITS, workers=IN_PROCESS)) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(server_url) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server_url}/openapi.json", config=CONFIG)


@pytest.mark.parametrize(
    "body",
    [b'{"text": "\\ud800 ok"}', b'{"text": "ok", "\\udfff": 1}', b'{"text": "caf\xe9"}'],
)
def test_text_that_is_not_unicode_is_refused_as_the_clients_error(server_url, body):
    # a lone surrogate (JSON can escape one, UTF-8 cannot hold it), or bytes that are not UTF-8
    response = httpx.post(
        f"{server_url}/api/explain", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["detail"]


def test_the_fuzzed_operations_are_all_the_schema_has(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize(
    ("label", "mode"),
    [
        *((label, GenerationMode.POSITIVE) for label in OPERATIONS),
        # the only operation with input that can be invalid
        ("POST /api/explain", GenerationMode.NEGATIVE),
    ],
    ids=str,
)
def test_no_request_gets_a_server_error_or_an_answer_off_the_schema(api_schema, label, mode):
    operation = api_schema.find_operation_by_label(label)

    @FUZZ
    @given(case=operation.as_strategy(mode))
    def call(case):
        case.call_and_validate(checks=CHECKS)

    call()


def test_every_explainer_answers_any_text_within_the_schema(api_schema):
    # generated method names are almost never real ones: here each request names one
    operation = api_schema.find_operation_by_label("POST /api/explain")
    with_method = st.tuples(operation.as_strategy(), st.sampled_from(list(list_explainers())))

    @FUZZ
    @given(case_and_method=with_method)
    def call(case_and_method):
        case, method = case_and_method
        case.body = {**case.body, "method": method, "target": None}
        case.call_and_validate(checks=CHECKS)

    call()
