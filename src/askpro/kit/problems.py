"""RFC 9457 problem details: one exception type, one handler, stable ``type`` URIs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://askpro.dev/problems/"


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


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
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


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "forbidden"}.get(
        exc.status_code, "http-error"
    )
    title = str(exc.detail) if exc.detail else "HTTP error"
    problem = Problem(exc.status_code, slug, title, headers=dict(exc.headers or {}))
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
