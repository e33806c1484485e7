"""The OpenAPI document made exact: what each operation accepts and every answer it gives.

FastAPI generates the document from the routes; :func:`install_openapi` then applies rules
that hold for every route, so routers added later are exact without extra work:

- each token operation lists its scopes and every problem status the auth dependency, the
  validation and the handlers can send (400/401/403/404/422/429, 409 for writes); a route's
  own ``responses=`` (e.g. ``problem_response(503, …)``) are kept;
- provider-signed operations (``/webhooks/*``, ``/retell/*``) list 401 and 413;
- every 4xx/5xx without a declared body is ``application/problem+json`` (:class:`Problem`);
- optional header and query parameters never offer ``null`` (a header cannot carry it: the
  server would answer 422 to ``X-Company-ID: null``); cursors carry their alphabet;
- create operations link to the read/change/delete operations of what they created
  (OpenAPI ``links``), so clients and stateful testers can follow them;
- ``x-semantic-fields`` lists the fields the server checks beyond any JSON Schema (a cursor
  must be one the list returned; a ``*_id``/``*_ids`` in a body must name a row of the
  company; a route adds its own with ``openapi_extra={"x-semantic-fields": [...]}``): a
  schema-valid request may be answered 400/422 only naming one of them.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from askpro.api.deps import SEMANTIC_FIELDS
from askpro.api.route_table import RouteEntry, api_routes, declared_scopes, route_table
from askpro.kit.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
TOKEN_PROBLEMS: dict[str, str] = {
    "400": (
        "The body is not JSON (`malformed-body`), an invalid cursor or range, or a platform "
        "token that names no company."
    ),
    "401": "Missing, malformed, unknown, expired or revoked token (`WWW-Authenticate: Bearer`).",
    "403": "The token lacks a required scope.",
    "404": "No such resource in the company (another company's resource is not found, too).",
    "422": "Invalid input; `errors[].field` names each offending field.",
    "429": "The token's rate limit is spent (`Retry-After`, `RateLimit-*`).",
}
WRITE_PROBLEMS: dict[str, str] = {
    "409": "The change conflicts with existing data (a taken number, a referenced row).",
}
SIGNED_PROBLEMS: dict[str, str] = {
    "401": "Missing, malformed or wrong provider signature, or a stale timestamp.",
    "413": "Body over ASKPRO_MAX_WEBHOOK_BYTES.",
}
# kit.pagination.encode_cursor: unpadded base64url.
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
# api.deps.require_ordered_range: an empty range is a 400 naming its end.
RANGES = (("since", "until"), ("starts_from", "starts_before"))
# Providers' ids (a Cal.com user, a Retell agent) are stored as given, never looked up.
EXTERNAL_ID_PREFIXES = ("calcom_", "retell_", "stripe_")
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
_PARAMETER = re.compile(r"\{(\w+)\}")


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` → ``X`` (keeping title, description, default)."""
    variants = schema.get("anyOf")
    if not isinstance(variants, list):
        return schema
    kept = [variant for variant in variants if variant.get("type") != "null"]
    if len(kept) == len(variants):
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    if schema.get("default") is not None:
        rest["default"] = schema["default"]
    return {**kept[0], **rest} if len(kept) == 1 else {"anyOf": kept, **rest}


def _exact_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") not in ("header", "query") or parameter.get("required"):
            continue
        schema = _without_null(parameter.get("schema", {}))
        if parameter["name"] == "cursor":
            schema["pattern"] = CURSOR_PATTERN
        parameter["schema"] = schema


def _exact_responses(operation: dict[str, Any], entry: RouteEntry | None) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    defaults: dict[str, str] = {}
    if entry is not None and entry.access == "bearer":
        defaults = dict(TOKEN_PROBLEMS)
        if entry.method.lower() in WRITE_METHODS:
            defaults.update(WRITE_PROBLEMS)
        # FastAPI's own 422 body (HTTPValidationError) is not what the server sends.
        responses.pop("422", None)
    elif entry is not None and entry.access == "webhook":
        defaults = dict(SIGNED_PROBLEMS)
        if "422" in responses and "HTTPValidationError" in str(responses["422"]):
            responses.pop("422")
    for status, description in defaults.items():
        responses.setdefault(status, _problem(description))
    for status, response in responses.items():
        if status[:1] in ("4", "5") and not response.get("content"):
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}


def _semantic_fields(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    fields = set(operation.get(SEMANTIC_FIELDS, []))
    query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    if "cursor" in query:
        fields.add("query.cursor")
    fields.update(f"query.{end}" for start, end in RANGES if {start, end} <= query)
    content = operation.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema", {})
    reference = body.get("$ref", "")
    properties = schemas.get(reference.rsplit("/", 1)[-1], body).get("properties", {})
    fields.update(
        name
        for name in properties
        if name.endswith(("_id", "_ids")) and not name.startswith(EXTERNAL_ID_PREFIXES)
    )
    if fields:
        operation[SEMANTIC_FIELDS] = sorted(fields)


def _scopes_note(operation: dict[str, Any], scopes: tuple[str, ...]) -> None:
    operation["x-required-scopes"] = list(scopes)
    note = "Required scopes: " + ", ".join(f"`{scope}`" for scope in scopes)
    operation["description"] = (operation.get("description", "") + "\n\n" + note).strip()


def _operation_id(operation: dict[str, Any]) -> str | None:
    found = operation.get("operationId")
    return found if isinstance(found, str) else None


def _add_links(paths: dict[str, Any]) -> None:
    """``POST /things`` → 2xx ``{"id"}`` links to every operation on ``/things/{thing_id}``
    (and its sub-paths) that takes that one id, with ``$response.body#/id`` as the id."""
    for collection, operations in paths.items():
        create = operations.get("post")
        if create is None or _PARAMETER.search(collection):
            continue
        created = [code for code in create.get("responses", {}) if code in ("200", "201")]
        if not created:
            continue
        for item_path, item_operations in paths.items():
            names = _PARAMETER.findall(item_path)
            prefix = f"{collection}/{{{names[0]}}}" if len(names) == 1 else None
            if prefix is None or not (item_path == prefix or item_path.startswith(prefix + "/")):
                continue
            for method, target in item_operations.items():
                target_id = _operation_id(target)
                if target_id is None:
                    continue
                link_name = f"{method.upper()} {item_path}"
                for code in created:
                    response = create["responses"][code]
                    response.setdefault("links", {})[link_name] = {
                        "operationId": target_id,
                        "parameters": {names[0]: "$response.body#/id"},
                    }


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the exact document described in this module."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        scopes_by_operation = {
            (method.lower(), path): declared_scopes(route)
            for path, methods, route in api_routes(app)
            for method in methods
        }
        entries = {(entry.method.lower(), entry.path): entry for entry in route_table(app)}
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        paths: dict[str, Any] = schema.get("paths", {})
        for path, operations in paths.items():
            for method, operation in operations.items():
                scopes = scopes_by_operation.get((method, path))
                if scopes is not None:
                    _scopes_note(operation, scopes)
                _exact_parameters(operation)
                _exact_responses(operation, entries.get((method, path)))
                _semantic_fields(operation, schema["components"]["schemas"])
        _add_links(paths)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
