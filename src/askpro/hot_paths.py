"""The pure-ASGI front door for the endpoints that run at the stack's ceiling."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from askpro.kit import problems
from askpro.observability import HTTP_REQUEST_SECONDS, HTTP_REQUESTS, get_logger

log = get_logger(__name__)


Endpoint = Callable[[Request], Awaitable[Response]]


class HotPaths:
    """Pure-ASGI front door for the endpoints that run at the stack's ceiling.

    An exact ``(method, path)`` match calls its endpoint directly: no walk of the API's
    route table, no middleware inside this one, no dependency solving. The request keeps
    its correlation id (that middleware wraps every instance), is counted in the same HTTP
    metrics, and failures answer problem+json as everywhere else. The routes stay in the
    FastAPI app too, so the OpenAPI document and the route table describe them.

    Two instances: the webhooks' in front of everything of the API (a provider never meets
    its audit log or budgets), and the API's hot reads (:mod:`askpro.api.hot`) behind the
    audit and per-IP middlewares, which still see those requests.
    """

    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.routes = dict(routes)
        # Metric children bound once, not looked up by label on every request.
        self._seconds = {key: HTTP_REQUEST_SECONDS.labels(*key) for key in self.routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            key = (scope["method"], scope["path"])
            endpoint = self.routes.get(key)
            if endpoint is not None:
                await self._serve(key, endpoint, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, key: tuple[str, str], endpoint: Endpoint, scope: Scope, receive: Receive, send: Send
    ) -> None:
        started = time.perf_counter()
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except problems.Problem as problem:
            response = problems.problem_response(problem, request)
        except Exception as error:  # noqa: BLE001 - answered like the app's own handler does
            log.error("http.unexpected_error", path=key[1], error=type(error).__name__)
            response = await problems.handle_unexpected_error(request, error)
        await response(scope, receive, send)
        HTTP_REQUESTS.labels(key[0], key[1], str(response.status_code)).inc()
        self._seconds[key].observe(time.perf_counter() - started)
