"""The web dashboard under /dashboard: server-rendered pages, htmx, no build step.

``install(app)`` adds the routes, the static files and the error pages; ``/`` redirects
here. See ``docs/dashboard.md``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from askpro.ops.dashboard import login, pages, webhook_pages
from askpro.ops.dashboard.rendering import PREFIX, page
from askpro.ops.dashboard.sessions import CompanyRequired, DashboardError, LoginRequired

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
for module in (login, webhook_pages, pages):
    router.include_router(module.router, prefix=PREFIX)


def _redirect(request: Request, target: str) -> Response:
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _login_required(request: Request, exc: Exception) -> Response:
    return _redirect(request, f"{PREFIX}/login")


async def _company_required(request: Request, exc: Exception) -> Response:
    return _redirect(request, f"{PREFIX}/company")


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DashboardError)
    viewer = getattr(request.state, "dashboard_viewer", None)
    return page(request, "error.html", viewer, status_code=exc.status, error=exc)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CompanyRequired, _company_required)
    app.add_exception_handler(DashboardError, _error_page)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(PREFIX, status_code=307)
