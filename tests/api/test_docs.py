"""docs/api-auth.md carries the route table and the scopes table of the running app."""

from __future__ import annotations

from pathlib import Path

from askpro.api.route_table import render_document
from tests.api.world import APP

DOC = Path(__file__).resolve().parents[2] / "docs" / "api-auth.md"


def test_route_and_scope_tables_are_current() -> None:
    document = DOC.read_text()
    assert render_document(document, APP) == document, (
        "docs/api-auth.md is stale: run `python -m askpro.api docs/api-auth.md`"
    )


def test_openapi_lists_the_scopes_of_every_operation() -> None:
    schema = APP.openapi()
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in operations.items():
            assert operation["x-required-scopes"], f"{method} {path}"
            assert operation["security"] == [{"bearerToken": operation["x-required-scopes"]}]
            assert "Required scopes" in operation["description"]
            assert "401" in operation["responses"]
            assert "403" in operation["responses"]
