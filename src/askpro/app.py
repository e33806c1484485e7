"""The ASGI application: middleware, routers, error handlers and the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from askpro import api, worker
from askpro.config import Settings, get_settings
from askpro.hot_paths import HotPaths
from askpro.integrations.calcom import routes as calcom_routes
from askpro.integrations.calcom import service as calcom_service
from askpro.integrations.calcom.standin import create_standin_app, persistent_state
from askpro.integrations.retell import routes as retell_routes
from askpro.kit import problems
from askpro.kit.heap import freeze_startup_heap
from askpro.observability import HTTP_REQUEST_SECONDS, HTTP_REQUESTS, configure_logging, get_logger
from askpro.ops import dashboard, docs, health, liveness
from askpro.runtime import Runtime, build_runtime, set_runtime
from askpro.webhooks import routes as webhook_routes

log = get_logger(__name__)


class RequestMetricsMiddleware:
    """Counts requests and observes latency per route template (not per raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            HTTP_REQUEST_SECONDS.labels(scope["method"], template).observe(
                time.perf_counter() - started
            )


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    run_worker: bool = False,
    freeze_heap: bool = False,
) -> FastAPI:
    """Build the app. With ``runtime`` given (tests), the caller owns its lifecycle;
    ``freeze_heap`` (``askpro serve``) settles the heap once start-up is over
    (:mod:`askpro.kit.heap`)."""
    settings = settings or (runtime.settings if runtime else get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_runtime = runtime is None
        current = runtime or build_runtime(settings)
        set_runtime(current)
        app.state.runtime = current
        queue_pool = await worker.open_queue(current.database.url)
        app.state.token_cache.start(current.database.url)
        worker_task: asyncio.Task[None] | None = None
        watchdog = asyncio.create_task(liveness.watch(current), name="queue-watchdog")
        if run_worker:
            worker_task = asyncio.create_task(
                worker.run_worker(
                    concurrency=settings.worker_concurrency, install_signal_handlers=False
                )
            )
            log.info("serve.in_process_worker", concurrency=settings.worker_concurrency)
        if freeze_heap:
            log.info("serve.heap_frozen", objects=freeze_startup_heap())
        try:
            yield
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            await app.state.token_cache.stop()
            await worker.close_queue(queue_pool)
            await calcom_service.close_all_clients()
            await app.state.audit_writer.close()
            if own_runtime:
                await current.close()

    app = FastAPI(
        title="askpro",
        version="0.1.0",
        summary="Backend for AI phone receptionists that book appointments.",
        lifespan=lifespan,
        docs_url=None,  # served by askpro.ops.docs with local assets
        redoc_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.add_middleware(RequestMetricsMiddleware)
    api.install(app, settings)
    app.add_middleware(HotPaths, routes=webhook_routes.HOT_ROUTES)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    handlers: dict[Any, Any] = {
        problems.Problem: problems.handle_problem,
        RequestValidationError: problems.handle_validation_error,
        StarletteHTTPException: problems.handle_http_exception,
        Exception: problems.handle_unexpected_error,
    }
    for exception_type, handler in handlers.items():
        app.add_exception_handler(exception_type, handler)
    app.include_router(health.router)
    app.include_router(webhook_routes.router)
    app.include_router(retell_routes.router)
    app.include_router(calcom_routes.router)
    dashboard.install(app)
    docs.install(app)
    if settings.calcom_standin:
        # Demo mode without Cal.com credentials: the client talks to this server itself.
        app.mount("/_calcom", create_standin_app(persistent_state(settings.data_dir)))
        log.warning("calcom.standin_mounted", base_url=settings.calcom_api_base)
    return app


def create_app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory askpro.app:create_app_from_environment``."""
    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings, run_worker=True)
