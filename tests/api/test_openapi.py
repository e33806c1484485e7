"""The OpenAPI document says exactly what the server does, for every route it lists.

Generated from the document itself: routes added later are covered without a change here.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.world import OPENAPI

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = [
    (method, path, operation)
    for path, operations in OPENAPI["paths"].items()
    for method, operation in operations.items()
]
TOKEN_STATUSES = {"400", "401", "403", "404", "422", "429"}


def _concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "1", path)


@pytest.mark.parametrize("path", sorted(OPENAPI["paths"]))
async def test_every_undocumented_method_is_a_405_whose_allow_lists_the_documented_ones(
    api: httpx.AsyncClient, path: str
) -> None:
    documented = {method.upper() for method in OPENAPI["paths"][path]}
    for method in sorted({m.upper() for m in HTTP_METHODS} - documented):
        response = await api.request(method, _concrete(path))
        assert response.status_code == 405, (method, path, response.text)
        assert set(response.headers["allow"].split(", ")) == documented, (method, path)
        assert response.headers["content-type"] == "application/problem+json"


def _nullable(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(
        variant.get("type") == "null" for variant in schema.get("anyOf", [])
    )


def test_no_header_or_query_parameter_offers_null() -> None:
    offending = [
        f"{method.upper()} {path} {parameter['in']}.{parameter['name']}"
        for method, path, operation in OPERATIONS
        for parameter in operation.get("parameters", [])
        if parameter["in"] in ("header", "query") and _nullable(parameter["schema"])
    ]
    assert offending == []


def test_cursors_carry_their_alphabet() -> None:
    cursors = [
        parameter["schema"]
        for _, _, operation in OPERATIONS
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "cursor"
    ]
    assert cursors
    assert all(schema.get("pattern") == "^[A-Za-z0-9_-]+$" for schema in cursors)


def test_every_token_operation_lists_every_problem_it_can_answer_as_problem_json() -> None:
    for method, path, operation in OPERATIONS:
        if not operation.get("x-required-scopes"):
            continue
        responses = operation["responses"]
        missing = TOKEN_STATUSES - set(responses)
        if method in ("post", "put", "patch", "delete"):
            missing |= {"409"} - set(responses)
        assert not missing, f"{method} {path} lacks {sorted(missing)}"
        for status, response in responses.items():
            if status[0] in "45":
                assert "application/problem+json" in response["content"], (method, path, status)


def test_signed_provider_endpoints_list_their_signature_and_size_problems() -> None:
    signed = [
        (method, path, operation)
        for method, path, operation in OPERATIONS
        if path.startswith(("/webhooks/", "/retell/"))
    ]
    assert any(path.startswith("/retell/functions") for _, path, _ in signed)
    for method, path, operation in signed:
        assert {"401", "413"} <= set(operation["responses"]), (method, path)


def test_billing_without_stripe_documents_its_503() -> None:
    checkout = OPENAPI["paths"]["/api/v1/billing/checkout-sessions"]["post"]
    assert "503" in checkout["responses"]


def test_create_operations_link_to_what_they_created() -> None:
    operation_ids = {operation["operationId"] for _, _, operation in OPERATIONS}
    creates = [
        (path, operation)
        for method, path, operation in OPERATIONS
        if method == "post" and "{" not in path and f"{path}/{{" in " ".join(OPENAPI["paths"])
    ]
    assert len(creates) >= 6, [path for path, _ in creates]
    for path, operation in creates:
        [created] = [
            response for code, response in operation["responses"].items() if code[0] == "2"
        ]
        links = created.get("links", {})
        assert any(name.startswith(f"GET {path}/{{") for name in links), path
        for link in links.values():
            assert link["operationId"] in operation_ids
            assert list(link["parameters"].values()) == ["$response.body#/id"]


async def test_a_company_token_may_name_its_own_company_or_omit_it(
    api: httpx.AsyncClient, session: Any
) -> None:
    from tests.fixtures.auth import create_token
    from tests.fixtures.factories import create_company

    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    for headers in (token.headers, {**token.headers, "X-Company-ID": str(company.id)}):
        response = await api.get("/api/v1/branches", headers=headers)
        assert response.status_code == 200, response.text
