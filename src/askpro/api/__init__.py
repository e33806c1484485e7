"""The admin REST API under /api/v1: routers, rate limits, audit log, OpenAPI decoration."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from askpro.api import (
    appointments,
    audit_logs,
    billing,
    branches,
    calls,
    companies,
    customers,
    phone_numbers,
    services,
    staff,
    tokens,
)
from askpro.api.deps import reject_unknown_query_parameters
from askpro.auth.audit import AuditMiddleware, AuditWriter
from askpro.auth.ratelimit import PublicRateLimitMiddleware, RateLimiter
from askpro.auth.routes import API_PREFIX, install_openapi
from askpro.config import Settings
from askpro.db import Database

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
):
    router.include_router(module.router)


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
    app.state.audit_writer = AuditWriter(database, interval=settings.audit_flush_seconds)
    app.add_middleware(AuditMiddleware, writer=app.state.audit_writer)
    app.add_middleware(PublicRateLimitMiddleware, limiter=app.state.rate_limiter)
    app.include_router(router)
    install_openapi(app)
