"""RFC 9457 problem details: one exception type, one handler, stable ``type`` URIs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route, compile_path

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://askpro.dev/problems/"
# The JSON Schema of every problem body (the OpenAPI document's ``Problem`` component).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}


class Problem(Exception):
    """An error the API reports as problem+json (``type`` is a short stable slug)."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


async def handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


def _malformed_body(exc: RequestValidationError) -> Problem | None:
    """A body that is not JSON at all is a 400 of its own, not a field's validation error.

    FastAPI reports it as a ``json_invalid`` error located at ``("body", <offset>)``.
    """
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            location = list(error.get("loc") or ())
            offset = location[1] if len(location) > 1 else None
            reason = (error.get("ctx") or {}).get("error") or error.get("msg")
            where = f" at character {offset}" if isinstance(offset, int) else ""
            return Problem(
                400,
                "malformed-body",
                "Malformed request body",
                f"the request body is not valid JSON ({reason}{where})",
                errors=[{"field": "body", "location": "body", "message": "not valid JSON"}],
            )
    return None


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    malformed = _malformed_body(exc)
    if malformed is not None:
        return problem_response(malformed, request)
    errors = [
        {
            "field": ".".join(str(part) for part in error["loc"] if part != "body") or "body",
            "location": str(error["loc"][0]) if error["loc"] else "body",
            "message": error["msg"],
        }
        for error in exc.errors()
    ]
    fields = ", ".join(error["field"] for error in errors)
    problem = Problem(
        422, "validation-error", "Invalid request", f"invalid: {fields}", errors=errors
    )
    return problem_response(problem, request)


def allowed_methods(request: Request) -> list[str]:
    """The methods the app serves at the request's path, for ``Allow`` on a 405.

    Starlette names only the first route whose path matched; a path served by several
    routes (``GET`` and ``POST /things``) needs all of them. Where a literal route and a
    parameterised one both match (``/events/replay`` and ``/events/{id}``), the literal one
    is the resource the path names. ``HEAD`` (implied by ``GET``) is not listed.
    """
    path = request.url.path
    matched: dict[int, set[str]] = {}
    for context in iter_route_contexts(list(request.app.router.routes)):
        template, methods = context.path, context.methods
        if not template or not methods or not isinstance(context.original_route, Route):
            continue
        pattern, _, convertors = compile_path(template)
        if pattern.match(path):
            matched.setdefault(len(convertors), set()).update(methods)
    if not matched:
        return []
    return sorted(matched[min(matched)] - {"HEAD"})


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "forbidden"}.get(
        exc.status_code, "http-error"
    )
    title = str(exc.detail) if exc.detail else "HTTP error"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = allowed_methods(request)
        if methods:
            headers["Allow"] = ", ".join(methods)
    problem = Problem(exc.status_code, slug, title, headers=headers)
    return problem_response(problem, request)


def is_database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached: refused, restarting, dropped, or the pool is exhausted.

    Nothing was stored, and trying again later may work: a 503, never a 500.
    """
    import psycopg
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc.orig, psycopg.OperationalError)
    return isinstance(exc, psycopg.OperationalError | sa_exc.TimeoutError)


async def handle_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):
        problem = Problem(
            503,
            "database-unavailable",
            "Service temporarily unavailable",
            "the database cannot be reached; retry later",
            headers={"Retry-After": "5"},
        )
    else:
        problem = Problem(500, "internal-error", "Internal server error")
    return problem_response(problem, request)
