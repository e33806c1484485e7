"""Templates (autoescaped Jinja2), the request's database session and viewer, page responses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth.scopes import Scope
from askpro.ops.dashboard import charts, sessions
from askpro.ops.dashboard.i18n import NONE, language, local_time_formatter, translator
from askpro.ops.dashboard.sessions import CSRF_FIELD, CSRF_HEADER, LoginRequired, Viewer

PREFIX = "/dashboard"

# Everything from this server; no inline script. Attacker-controlled text is escaped by
# Jinja, and this policy is the second line of defence if a template ever forgot.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=PackageLoader("askpro.ops.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def euros(cents: int | None) -> str:
    return NONE if cents is None else f"{cents / 100:,.2f} €"


def duration(milliseconds: int | None) -> str:
    if milliseconds is None:
        return NONE
    seconds = milliseconds // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


templates.filters.update(pretty_json=pretty_json, euros=euros, duration=duration)
templates.globals.update(svg_bars=charts.svg_bars)


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.database.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(db_session)]


async def current_viewer(request: Request, session: Session) -> Viewer:
    viewer = await sessions.viewer_of(session, request)
    if viewer is None:
        raise LoginRequired
    return viewer


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


def page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` (or only its ``#results`` block for an htmx request)."""
    lang = language(viewer.locale if viewer else "en")
    variables = {
        "request": request,
        "viewer": viewer,
        "lang": lang,
        "t": translator(lang),
        "local": local_time_formatter(lang, viewer.time_zone if viewer else "UTC"),
        "prefix": PREFIX,
        "Scope": Scope,
        "csrf_field": CSRF_FIELD,
        "csrf_header": CSRF_HEADER,
        "partial": request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == "results",
        **context,
    }
    html = templates.get_template(template).render(variables)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
