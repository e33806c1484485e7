"""The admin REST API under /api/v1: routers, rate limits, audit log, OpenAPI decoration."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from askpro.api import (
    appointments,
    audit_logs,
    billing,
    branches,
    calls,
    companies,
    customers,
    messages,
    phone_numbers,
    services,
    staff,
    tokens,
    webhook_endpoints,
    webhook_events,
)
from askpro.api.deps import reject_unknown_query_parameters
from askpro.api.hot import Serve, hot_reads
from askpro.api.openapi import install_openapi
from askpro.api.route_table import API_PREFIX, api_routes
from askpro.auth.audit import AuditMiddleware, AuditWriter
from askpro.auth.ratelimit import PublicRateLimitMiddleware, RateLimiter
from askpro.auth.token_cache import TokenCache
from askpro.config import Settings
from askpro.db import Database
from askpro.hot_paths import HotPaths
from askpro.kit.problems import Problem, problem_response

router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(reject_unknown_query_parameters)])
for module in (
    companies,
    branches,
    phone_numbers,
    staff,
    services,
    customers,
    appointments,
    calls,
    tokens,
    audit_logs,
    billing,
    webhook_events,
    webhook_endpoints,
    messages,
):
    router.include_router(module.router)

# The reads served by ``askpro.hot_paths.HotPaths`` ahead of the route table (issue 12).
HOT_READS: dict[str, Serve] = {f"{API_PREFIX}/appointments": appointments.serve_list}


async def handle_data_error(request: Request, exc: Exception) -> JSONResponse:
    """Input the database cannot store (a NUL byte in a text) is the client's error, not 500."""
    problem = Problem(
        422,
        "validation-error",
        "Invalid request",
        "the request contains a value the database cannot store (e.g. a NUL byte)",
        errors=[{"field": "body", "location": "body", "message": "value cannot be stored"}],
    )
    return problem_response(problem, request)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the API routes, its middlewares (audit, per-IP limits) and shared state.

    Call before the correlation-id middleware is added, so it wraps these and the audit
    rows carry the request's id.
    """

    def database() -> Database:
        runtime = app.state.runtime
        assert isinstance(runtime.database, Database)
        return runtime.database

    app.state.rate_limiter = RateLimiter(settings)
    # Serves only while its revocation listener runs (started by the app's lifespan).
    app.state.token_cache = TokenCache()
    app.state.audit_writer = AuditWriter(database, interval=settings.audit_flush_seconds)
    app.include_router(router)
    # The hot reads sit inside the audit and per-IP middlewares (a 401/403 is audited as
    # on any route) and outside the request metrics (they count their own).
    app.add_middleware(HotPaths, routes=hot_reads(api_routes(app), HOT_READS))
    app.add_middleware(AuditMiddleware, writer=app.state.audit_writer)
    app.add_middleware(PublicRateLimitMiddleware, limiter=app.state.rate_limiter)
    app.add_exception_handler(DataError, handle_data_error)
    install_openapi(app)
