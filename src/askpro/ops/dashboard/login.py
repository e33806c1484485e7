"""Log in with an API token, choose a company (platform tokens), log out."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from askpro.auth.ratelimit import RateLimiter
from askpro.ops.dashboard import repository, sessions
from askpro.ops.dashboard.rendering import PREFIX, CurrentViewer, Session, page
from askpro.ops.dashboard.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    DashboardError,
)

router = APIRouter()


def _login_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    csrf = sessions.new_login_csrf()
    response = page(
        request, "login.html", None, status_code=status_code, login_csrf=csrf, error=error
    )
    sessions.set_cookie(request, response, LOGIN_CSRF_COOKIE, csrf, max_age=3600)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request, session: Session) -> Response:
    form = await sessions.form_of(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    presented = form.get(sessions.CSRF_FIELD, "")
    # Login CSRF: the form must come from our own page (double-submit cookie).
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise DashboardError(403, "Forbidden", "CSRF token missing or wrong")
    opened = await sessions.open_session(session, form.get("token", "").strip())
    if opened is None:
        limiter: RateLimiter = request.app.state.rate_limiter
        verdict = await limiter.hit_unauthenticated(request.client.host if request.client else "-")
        if not verdict.allowed:
            return _login_page(request, "Too many attempts; try again later.", 429)
        return _login_page(request, "The login was not accepted.", 401)
    secret, row = opened
    await session.commit()
    target = f"{PREFIX}/company" if row.company_id is None else PREFIX
    response = RedirectResponse(target, status_code=303)
    sessions.set_cookie(
        request, response, SESSION_COOKIE, secret, max_age=int(SESSION_LIFETIME.total_seconds())
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=sessions.COOKIE_PATH)
    return response


@router.post("/logout")
async def logout(request: Request, session: Session, viewer: CurrentViewer) -> Response:
    sessions.check_csrf(viewer.csrf_token, request, await sessions.form_of(request))
    await repository.delete_session(session, viewer.session_id)
    await session.commit()
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=sessions.COOKIE_PATH)
    return response


@router.get("/company")
async def choose_company_form(
    request: Request, session: Session, viewer: CurrentViewer
) -> HTMLResponse:
    if not viewer.is_platform:
        raise sessions.not_found()
    return page(request, "company.html", viewer, companies=await repository.companies(session))


@router.post("/company")
async def choose_company(request: Request, session: Session, viewer: CurrentViewer) -> Response:
    form = await sessions.form_of(request)
    sessions.check_csrf(viewer.csrf_token, request, form)
    if not viewer.is_platform:
        raise sessions.not_found()
    raw = form.get("company_id", "")
    company_id = int(raw) if raw.isdigit() and len(raw) < 19 else None
    if company_id is not None and await repository.company(session, company_id) is None:
        raise sessions.not_found()
    await repository.choose_company(session, viewer.session_id, company_id)
    await session.commit()
    target = PREFIX if company_id is not None else f"{PREFIX}/webhooks"
    return RedirectResponse(target, status_code=303)
